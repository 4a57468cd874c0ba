import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { startServerProcess, type ServerProcess } from "./server-process.js";

/** The echo method's path. */
export const echoPath = "/bench.Echo/Echo";

const passthrough = (b: Buffer) => b;

/** The echo service: bytes in, the same bytes out, no (de)serialization. */
const echoDefinition: grpc.ServiceDefinition = {
  echo: {
    path: echoPath,
    requestStream: false,
    responseStream: false,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
  } as grpc.MethodDefinition<Buffer, Buffer>,
};

/** A raw grpc-js echo server in its own process: the floor a unary Consort call is compared with. */
export interface EchoProcess {
  readonly port: number;
  readonly child: ChildProcess;
  /** Server CPU time so far in microseconds (user + system), from /proc. */
  cpuMicros(): number;
  stop(): Promise<void>;
}

const thisFile = fileURLToPath(import.meta.url);

/** Starts this file with `--serve` in a child process and waits for its `{"echo listening", port}` line. */
export async function startEchoProcess(): Promise<EchoProcess> {
  const child = spawn(process.execPath, [thisFile, "--serve"], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("echo server did not start in 20 s")), 20_000);
    child.once("exit", (code) => reject(new Error(`echo server exited with ${code}`)));
    lines.on("line", (line) => {
      if (line.includes('"echo listening"')) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
  });
  lines.on("line", () => {});
  return {
    port,
    child,
    cpuMicros: () => processCpuMicros(child.pid!),
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      });
    },
  };
}

/** CPU time (user + system) of process `pid` in microseconds, from /proc/<pid>/stat (USER_HZ = 100). */
export function processCpuMicros(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) / 100) * 1e6;
}

/** The child process: same message-size limits as Consort's server, bound to 127.0.0.1 on a free port. */
async function serve(): Promise<void> {
  const max = 4 * 1024 * 1024;
  const server = new grpc.Server({ "grpc.max_receive_message_length": max, "grpc.max_send_message_length": max });
  server.addService(echoDefinition, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, call.request),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const stop = () => {
    server.forceShutdown();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  process.stdout.write(`${JSON.stringify({ msg: "echo listening", port })}\n`);
}

if (process.argv[1] === thisFile && process.argv.includes("--serve")) await serve();

/**
 * Runs `measure` against a fresh Consort server process and a fresh echo process (the floor it is compared with),
 * and stops both however it ends.
 */
export async function withServerAndEcho<T>(measure: (server: ServerProcess, echo: EchoProcess) => Promise<T>): Promise<T> {
  const server = await startServerProcess();
  const echo = await startEchoProcess().catch(async (e: unknown) => {
    await server.stop();
    throw e;
  });
  try {
    return await measure(server, echo);
  } finally {
    await Promise.all([server.stop(), echo.stop()]);
  }
}
