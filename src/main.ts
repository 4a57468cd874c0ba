import { ConfigError, helpText, loadConfig } from "./config.js";
import { startApp } from "./app.js";

/** Entry point: parse the configuration, start, and drain gracefully on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(helpText());
    return;
  }
  let config;
  try {
    config = loadConfig(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`consort: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  let app;
  try {
    app = await startApp(config);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const what = err.code === "EADDRINUSE" || /address already in use|No address added/i.test(err.message) ? "a port is already in use" : "could not start";
    process.stderr.write(`consort: ${what}: ${err.message} (gRPC ${config.host}:${config.grpcPort}, HTTP ${config.httpPort === undefined ? "off" : `${config.host}:${config.httpPort}`})\n`);
    process.exit(1);
  }
  const stop = (signal: string) => {
    app.logger.info({ signal }, "shutting down");
    app.close().then(
      () => {
        app.logger.info("stopped");
        process.exit(0);
      },
      (e: unknown) => {
        app.logger.error({ err: e }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  // Announced only once the signal handlers are in place, so a supervisor may stop the server right away.
  app.logger.info({ grpcPort: app.grpcPort, httpPort: app.httpPort, host: config.host }, "consort listening");
}

await main();
