import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** A nats-server with JetStream that a test started, on 127.0.0.1 and a free port, with a throwaway store. */
export interface NatsServer {
  /** The client URL, e.g. `nats://127.0.0.1:34885`. */
  readonly url: string;
  /** Stops the server (SIGTERM, then SIGKILL after a while) and removes its store. */
  stop(): Promise<void>;
  /** Kills the server (SIGKILL, as on a crash), keeping its store; resolves once it has exited. */
  crash(): Promise<void>;
  /** Kills it if running, then starts it again on the same port over the same store; resolves once it listens. */
  restart(): Promise<void>;
}

/** Options of {@link startNatsServer}. */
export interface StartNatsServerOptions {
  /** The executable. @default process.env.NATS_SERVER ?? "/usr/sbin/nats-server" */
  readonly executable?: string;
  /** How long to wait for the server to write its ports file. @default 10_000 */
  readonly timeoutMs?: number;
  /** A configuration file's text (e.g. `max_payload: 8MB`), passed with `-c`; flags still set the rest. */
  readonly config?: string;
}

/**
 * Starts `nats-server -js` on 127.0.0.1 with a store in a fresh temporary directory. Debian's 2.9.10 binds 4222
 * for `-p 0`, so the port is `-p -1` (random) and read from the ports file the server writes into that directory.
 */
export async function startNatsServer(options: StartNatsServerOptions = {}): Promise<NatsServer> {
  const executable = options.executable ?? process.env["NATS_SERVER"] ?? "/usr/sbin/nats-server";
  const timeoutMs = options.timeoutMs ?? 10_000;
  const dir = await mkdtemp(join(tmpdir(), "consort-nats-"));
  const config: string[] = [];
  if (options.config !== undefined) {
    await writeFile(join(dir, "server.conf"), options.config);
    config.push("-c", join(dir, "server.conf"));
  }
  /** Starts the process on `port` ("-1": a random one) over the one store; resolves its URL once it listens. */
  const launch = async (port: string): Promise<{ child: ChildProcess; url: string }> => {
    const child = spawn(executable, [...config, "-js", "-a", "127.0.0.1", "-p", port, "--ports_file_dir", dir, "-sd", join(dir, "store")], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      log = (log + chunk).slice(-4000);
    });
    let exited: string | undefined;
    child.on("exit", (code, signal) => (exited = `exited (${signal ?? code})`));
    child.on("error", (err) => (exited = `failed to start: ${err.message}`));
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (exited !== undefined) throw new Error(`nats-server ${exited}:\n${log}`);
        const url = await readPortsFile(join(dir, `nats-server_${child.pid}.ports`));
        if (url !== undefined) return { child, url };
        if (Date.now() > deadline) throw new Error(`nats-server wrote no ports file within ${timeoutMs} ms:\n${log}`);
        await sleep(20);
      }
    } catch (err) {
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  };
  let { child, url } = await launch("-1");
  const port = new URL(url).port;
  const crash = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exit = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exit;
  };
  return {
    url,
    crash,
    async restart() {
      await crash();
      ({ child } = await launch(port));
    },
    async stop() {
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The client URL from a ports file, or `undefined` while it is missing or partly written. */
async function readPortsFile(path: string): Promise<string | undefined> {
  try {
    const ports = JSON.parse(await readFile(path, "utf8")) as { nats?: unknown };
    return Array.isArray(ports.nats) && typeof ports.nats[0] === "string" ? ports.nats[0] : undefined;
  } catch {
    return undefined;
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exit = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const killed = await Promise.race([exit.then(() => true), sleep(5_000).then(() => false)]);
    if (!killed) {
      child.kill("SIGKILL");
      await Promise.race([exit, sleep(2_000)]);
    }
  }
}
