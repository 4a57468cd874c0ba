import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DependencyService, ResolveDependenciesRequestSchema, ResolveDependenciesResponseSchema } from "../gen/ts/consort/v1/dependency_pb.js";
import { rawUnaryClient } from "./clients.js";

/**
 * The waiting agent of the completion benchmark, in its own process (forked with an IPC channel). On `wait` it
 * calls ResolveDependencies for one agent-completion dependency and, the moment the response arrives, reads
 * `process.hrtime.bigint()` and sends that time back. `process.hrtime` reads CLOCK_MONOTONIC, one clock for every
 * process of the machine, so the parent can subtract its own reading taken just before it published; `clock`
 * messages let the parent check that (see {@link checkSharedClock}).
 */

/** Parent → waiter. */
export type WaiterCommand = { op: "clock" } | { op: "wait"; coordinationId: string; agentId: string; dependencyId: string; completes: string };
/** Waiter → parent. `at` is `process.hrtime.bigint()` as a decimal string. */
export type WaiterReport = { op: "ready" } | { op: "clock"; at: string } | { op: "released"; dependencyId: string; at: string; success: boolean; error?: string };

const thisFile = fileURLToPath(import.meta.url);

/** A forked waiter process. */
export interface WaiterProcess {
  send(command: WaiterCommand): void;
  /** The next report (reports come in the order of the commands that caused them). */
  next(): Promise<WaiterReport>;
  stop(): Promise<void>;
}

/** Forks this file as a waiter of the Consort server at `address` and waits until it is ready. */
export async function startWaiterProcess(address: string): Promise<WaiterProcess> {
  const child: ChildProcess = fork(thisFile, ["--waiter", address], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const queue: WaiterReport[] = [];
  let wake: ((r: WaiterReport) => void) | undefined;
  let failed: Error | undefined;
  let fail: ((e: Error) => void) | undefined;
  child.on("message", (m: WaiterReport) => {
    if (wake !== undefined) {
      const w = wake;
      wake = fail = undefined;
      w(m);
    } else queue.push(m);
  });
  child.once("exit", (code) => {
    failed = new Error(`waiter process exited with ${code}`);
    fail?.(failed);
  });
  const next = () =>
    new Promise<WaiterReport>((resolve, reject) => {
      const queued = queue.shift();
      if (queued !== undefined) return resolve(queued);
      if (failed !== undefined) return reject(failed);
      wake = resolve;
      fail = reject;
    });
  const ready = await next();
  if (ready.op !== "ready") throw new Error(`waiter sent ${ready.op} first`);
  return {
    send: (command) => child.send(command),
    next,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/**
 * Checks that the waiter's `process.hrtime` and this process's are one clock: over `rounds` IPC round trips, the
 * waiter's reading must fall between this process's readings before the send and after the reply. Any constant
 * offset between the clocks must then fit every round's window, so it is at most the shortest round trip: that bound
 * is returned, in µs. Throws on a violation.
 */
export async function checkSharedClock(waiter: WaiterProcess, rounds = 200): Promise<number> {
  let bound = Infinity;
  for (let i = 0; i < rounds; i++) {
    const before = process.hrtime.bigint();
    waiter.send({ op: "clock" });
    const r = await waiter.next();
    const after = process.hrtime.bigint();
    if (r.op !== "clock") throw new Error(`expected a clock reply, got ${r.op}`);
    const at = BigInt(r.at);
    if (at < before || at > after) throw new Error(`the waiter's clock reads ${at}, outside [${before}, ${after}]: not one clock`);
    bound = Math.min(bound, Number(after - before) / 1000);
  }
  return bound;
}

/** The child: one raw client (request encoded here, response decoded only after its arrival time is taken). */
function serve(address: string): void {
  const client = rawUnaryClient(address, `/${DependencyService.typeName}/ResolveDependencies`);
  const send = (r: WaiterReport) => process.send!(r);
  process.on("message", (c: WaiterCommand) => {
    if (c.op === "clock") {
      send({ op: "clock", at: String(process.hrtime.bigint()) });
      return;
    }
    const request = Buffer.from(
      toBinary(
        ResolveDependenciesRequestSchema,
        create(ResolveDependenciesRequestSchema, {
          coordinationId: c.coordinationId,
          agentId: c.agentId,
          dependencies: [{ dependencyId: c.dependencyId, target: { case: "agentCompletion", value: { agentId: c.completes } } }],
        }),
      ),
    );
    client.call(request, (err, response) => {
      const at = String(process.hrtime.bigint());
      if (err) {
        send({ op: "released", dependencyId: c.dependencyId, at, success: false, error: `${err.code} ${err.details}` });
        return;
      }
      const res = fromBinary(ResolveDependenciesResponseSchema, response!);
      send({ op: "released", dependencyId: c.dependencyId, at, success: res.success, ...(!res.success && { error: JSON.stringify(res.results.map((x) => x.message)) }) });
    });
  });
  process.once("SIGTERM", () => {
    client.close();
    process.exit(0);
  });
  send({ op: "ready" });
}

if (process.argv[1] === thisFile && process.argv.includes("--waiter")) serve(process.argv[process.argv.indexOf("--waiter") + 1]!);
