import { spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { processCpuMicros } from "./echo-server.js";

/** The systems Consort is compared with, each run by its own server binary. */
export type PeerKind = "nats" | "redis";

/** How each peer is named in the output, and the binary that serves it. */
export const peers: Readonly<Record<PeerKind, { readonly name: string; readonly binary: string }>> = {
  nats: { name: "NATS JetStream", binary: "nats-server" },
  redis: { name: "Redis Streams", binary: "redis-server" },
};

/** A peer server started by the benchmark on 127.0.0.1, with throwaway data. */
export interface PeerProcess {
  readonly kind: PeerKind;
  /** host:port it listens on. */
  readonly addr: string;
  readonly pid: number;
  /** Its CPU time so far in microseconds (user + system, all threads), from /proc/<pid>/stat. */
  cpuMicros(): number;
  /** Ends it (SIGTERM, SIGKILL after 5 s) and removes its data directory. */
  stop(): Promise<void>;
}

/** The path of executable `name` on PATH or in the sbin directories (where Debian puts servers), if any. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env["PATH"] ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Resolves once 127.0.0.1:port accepts a TCP connection; rejects after `ms`. */
async function waitForPort(port: number, ms: number, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    const why = exited();
    if (why !== undefined) throw new Error(why);
    if (Date.now() > deadline) throw new Error(`nothing accepted connections on 127.0.0.1:${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a peer on a free port of 127.0.0.1 with its data in a fresh temporary directory, and resolves once the port
 * accepts connections:
 * - `nats`: `nats-server -js -a 127.0.0.1 -p <port> -sd <tmp>` (JetStream on; the benchmark's streams use memory
 *   storage);
 * - `redis`: `redis-server --port <port> --bind 127.0.0.1 --save "" --appendonly no --dir <tmp>` (no persistence).
 * Throws if the binary is missing (see {@link findBinary}) or the server does not come up within 10 s.
 */
export async function startPeer(kind: PeerKind): Promise<PeerProcess> {
  const binary = findBinary(peers[kind].binary);
  if (binary === undefined) throw new Error(`${peers[kind].binary} not found`);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `consort-bench-${kind}-`));
  const args =
    kind === "nats"
      ? ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir]
      : ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (b: Buffer) => (output = (output + b.toString()).slice(-4000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exit = `${peers[kind].binary} exited (${code ?? signal}): ${output.trim().split("\n").slice(-3).join(" | ")}`;
      resolve();
    });
    child.once("error", (e) => {
      exit = `${peers[kind].binary} did not start: ${e.message}`;
      resolve();
    });
  });
  const stop = async () => {
    if (exit === undefined) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, 10_000, () => exit);
  } catch (e) {
    await stop();
    throw e;
  }
  return { kind, addr: `127.0.0.1:${port}`, pid: child.pid!, cpuMicros: () => processCpuMicros(child.pid!), stop };
}
