import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import * as net from "node:net";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { startTestBackend, type TestBackend } from "./test-backend.js";

const mainJs = fileURLToPath(new URL("../dist/src/main.js", import.meta.url));

/** Runs the built server with `args`; resolves its exit code and output (bounded by `ms`). */
function run(args: string[], ms = 15_000, onReady?: (kill: () => void) => void) {
  if (!existsSync(mainJs)) throw new Error(`${mainJs} is missing: run 'npm run build' (npm test does) first`);
  return new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [mainJs, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`timed out; output: ${out}`));
    }, ms);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (onReady && out.includes('"consort listening"')) {
        const f = onReady;
        onReady = undefined;
        f(() => child.kill("SIGTERM"));
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** Runs `f` with the backend of CONSORT_TEST_BACKEND (test/test-backend.ts), stopped after the server has exited. */
async function withBackend<T>(f: (backend: TestBackend) => Promise<T>): Promise<T> {
  const backend = await startTestBackend();
  try {
    return await f(backend);
  } finally {
    await backend.stop();
  }
}

describe("the server process", () => {
  it("exits 2 with a message naming a bad option", async () => {
    const r = await run(["--max-history=-5"]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/consort: --max-history: must be an integer/);
  });

  it("exits 1 with a clear message when a port is in use", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = await run(["--grpc-port", "0", "--http-port", String(port)]);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/consort: a port is already in use/);
    } finally {
      blocker.close();
    }
  });

  it("logs its ports as JSON and stops cleanly on SIGTERM", async () => {
    const r = await withBackend((backend) => run(["--grpc-port", "0", "--http-port", "0", ...backend.args], 15_000, (kill) => kill()));
    expect(r.code).toBe(0);
    const listening = JSON.parse(r.out.split("\n").find((l) => l.includes('"consort listening"')) as string);
    expect(listening.grpcPort).toBeGreaterThan(0);
    expect(r.out).toMatch(/"msg":"stopped"/);
  });

  it("still stops on SIGTERM when whoever read its output has gone (a closed stdout pipe)", async () => {
    if (!existsSync(mainJs)) throw new Error(`${mainJs} is missing: run 'npm run build' (npm test does) first`);
    const code = await withBackend((backend) => new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, [mainJs, "--grpc-port", "0", "--http-port", "0", ...backend.args], { stdio: ["ignore", "pipe", "ignore"] });
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error("the server did not exit within 10 s of SIGTERM with its stdout closed"));
      }, 10_000);
      child.on("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (!out.includes('"consort listening"')) return;
        // Like `consort | head -1`: the reader goes away, then the server is asked to stop and logs as it stops.
        child.stdout.destroy();
        setTimeout(() => child.kill("SIGTERM"), 200);
      });
    }));
    expect(code).toBe(0);
  });
});
