import { connect, type NatsConnection } from "nats";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import type { CoordinationMetaEvent } from "../src/backend/nats/coordination-meta-watch.js";
import { createCoordinationMetaStore } from "../src/backend/nats/coordination-meta.js";
import { startNatsServer } from "../test/nats/nats-server.js";
import { percentile } from "./median.js";

/**
 * Coordination meta in JetStream KV on its own (issue 12), against Debian's nats-server on this machine: one call
 * at a time, latency of `acquire` of an existing coordination (one read), of a new one (a read and a create), of
 * `clear` raising cleared-through (a read and a revision-checked update), of `drop` (a read and a delete marker),
 * and write → watcher on another connection. Not part of `npm run bench`.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/nats-coordination-meta.js [--samples 500] [--memory]
 */

const i = process.argv.indexOf("--samples");
const samples = i < 0 ? 500 : Number(process.argv[i + 1]);
const warmup = 50;
const storage = process.argv.includes("--memory") ? ("memory" as const) : ("file" as const);

const server = await startNatsServer();
const connections: NatsConnection[] = [];
const connection = async () => {
  const nc = await connect({ servers: server.url });
  connections.push(nc);
  return nc;
};

try {
  console.log(`${storage} storage, ${samples} calls after ${warmup}; load at start: ${readFileSync("/proc/loadavg", "utf8").trim()}`);
  const store = await createCoordinationMetaStore({ connection: await connection(), storage });
  const watcher = await createCoordinationMetaStore({ connection: await connection(), storage });

  /** Times `call(k)` for k = 0.. (warm-up first), one at a time; prints p50/p90/p99 in ms. */
  const time = async (name: string, call: (k: number) => Promise<{ ok: boolean }>) => {
    const ms: number[] = [];
    for (let k = 0; k < warmup + samples; k++) {
      const t = performance.now();
      const r = await call(k);
      if (!r.ok) throw new Error(`${name} failed: ${JSON.stringify(r)}`);
      if (k >= warmup) ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    console.log(`${name.padEnd(28)} p50 ${percentile(ms, 50).toFixed(3)} ms  p90 ${percentile(ms, 90).toFixed(3)} ms  p99 ${percentile(ms, 99).toFixed(3)} ms`);
  };

  await time("acquire (new)", (k) => store.acquire(`new-${k}`));
  await time("acquire (existing)", (k) => store.acquire(`new-${k % 100}`));
  await store.acquire("cleared");
  await store.acquire("watched");
  await time("clear (raising)", (k) => store.clear("cleared", k + 1));
  await time("clear (already as high)", () => store.clear("cleared", 1));
  await time("drop", (k) => store.drop(`new-${k}`, "deleted"));

  // Write → a watcher on another connection hears it.
  let heard: (() => void) | undefined;
  const watch = await watcher.watch((e: CoordinationMetaEvent) => {
    if (e.kind === "changed") heard?.();
  });
  await time("clear → watcher", async (k) => {
    const delivered = new Promise<void>((resolve) => (heard = resolve));
    const r = await store.clear("watched", k + 1);
    await delivered;
    return r;
  });
  await watch.stop();
} finally {
  await Promise.all(connections.map((nc) => nc.close()));
  await server.stop();
}
