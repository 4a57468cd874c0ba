import { connect, type NatsConnection, type StorageType } from "nats";
import { performance } from "node:perf_hooks";
import { createJetStreamSignalLog, type JetStreamSignalLog } from "../src/backend/nats/signal-log.js";
import { startNatsServer } from "../test/nats/nats-server.js";
import { percentile } from "./median.js";

/**
 * The JetStream signal log on its own (issue 12's first brick), against Debian's nats-server on this machine:
 * appends per second to one coordination with 1, 2 and 3 writers (each its own connection and log, retrying
 * conflicts), beside raw JetStream publishes to one subject without Consort's headers; and append → follower
 * latency (one append at a time, the follower on another connection). Not part of `npm run bench` yet.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/nats-signal-log.js [--appends 6000] [--samples 3000] [--memory] [--follow] [--growth]
 */

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const n = i < 0 ? NaN : Number(process.argv[i + 1]);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
};
const totalAppends = arg("appends", 6_000);
const samples = arg("samples", 3_000);
const warmup = 300;

const server = await startNatsServer();
const connections: NatsConnection[] = [];
const connection = async () => {
  const nc = await connect({ servers: server.url });
  connections.push(nc);
  return nc;
};
// File storage, the log's default: on nats-server 2.9.10 a memory stream's expected-last-subject-sequence check
// slows with the subject's length (≈1,350 publishes/s at 10,000 messages, against ≈6,000 for a file stream).
const storage = process.argv.includes("--memory") ? ("memory" as const) : ("file" as const);
const base = { streamName: "BENCH_SIGNALS", storage, maxAttempts: 1_000 };
const payload = new Uint8Array(200).fill(120); // about a small signal's JSON
const ms = (x: number) => x.toFixed(3);

try {
  console.log(`${storage} storage; load at start: ${(await import("node:fs")).readFileSync("/proc/loadavg", "utf8").trim()}`);

  // Appends/s: W writers append flat out (one in flight each, as one log allows per coordination).
  // With --follow each writer's log also follows the coordination, as a replica does (its follower also keeps the
  // head it knows current).
  const following = process.argv.includes("--follow");
  for (const writers of [1, 2, 3]) {
    const logs: JetStreamSignalLog[] = [];
    for (let w = 0; w < writers; w++) logs.push(await createJetStreamSignalLog({ ...base, connection: await connection() }));
    const id = `rate-${writers}`;
    const follows = following ? logs.map((log) => log.follow(id, 0, () => undefined)) : [];
    const run = async (count: number, tag: string) => {
      let extra = 0;
      let most = 0;
      let overTen = 0;
      await Promise.all(
        logs.map(async (log, w) => {
          for (let i = 0; i < count / writers; i++) {
            const r = await log.append(id, payload, { msgId: `${tag}-${w}-${i}` });
            if (!r.ok) throw new Error(`append failed: ${r.reason}: ${r.message}`);
            extra += r.attempts - 1;
            most = Math.max(most, r.attempts);
            if (r.attempts > 10) overTen++;
          }
        }),
      );
      return { extra, most, overTen };
    };
    await run(warmup, "warm");
    const t0 = performance.now();
    const { extra: conflicts, most, overTen } = await run(totalAppends, "run");
    const seconds = (performance.now() - t0) / 1000;
    const head = Math.max(...logs.map((log) => log.knownHead(id)?.consortSequence ?? 0));
    await Promise.all(follows.map((f) => f.stop()));
    console.log(`appends/s, 1 coordination, ${writers} writer(s)${following ? " following it" : ""}: ${Math.round(totalAppends / seconds)} (${conflicts} conflicts retried, ${(conflicts / totalAppends).toFixed(2)} per append, at most ${most} publishes for one, ${overTen} over 10; head ${head})`);
  }

  // The same subject without the log: raw JetStream publishes, one in flight, bare and then with the headers the
  // log sets (expected last subject sequence from the previous ack, a msg id): the server's share of the cost.
  {
    const nc = await connection();
    await (await nc.jetstreamManager()).streams.add({ name: "BENCH_RAW", subjects: ["raw.>"], storage: storage as StorageType, max_msgs_per_subject: 10_000 });
    const js = nc.jetstream();
    const variants = [
      { name: "", msgId: false, expected: false },
      { name: ", with a msg id", msgId: true, expected: false },
      { name: ", with the expected last subject sequence", msgId: false, expected: true },
      { name: ", with both", msgId: true, expected: true },
    ];
    for (const [v, variant] of variants.entries()) {
      const subject = `raw.${v}`;
      let last = 0;
      const publish = async (i: number) => {
        const ack = await js.publish(subject, payload, {
          ...(variant.msgId ? { msgID: `raw-${v}-${i}` } : {}),
          ...(variant.expected ? { expect: { lastSubjectSequence: last } } : {}),
        });
        last = ack.seq;
      };
      for (let i = 0; i < warmup; i++) await publish(i);
      const t0 = performance.now();
      for (let i = warmup; i < warmup + totalAppends; i++) await publish(i);
      const rate = Math.round(totalAppends / ((performance.now() - t0) / 1000));
      console.log(`raw JetStream publishes/s, 1 subject, 1 writer${variant.name}: ${rate}`);
    }
  }

  // Append → follower latency: one append at a time; the follower on its own connection and log.
  {
    const writer = await createJetStreamSignalLog({ ...base, connection: await connection() });
    const reader = await createJetStreamSignalLog({ ...base, connection: await connection() });
    const sent = new Map<number, number>();
    const latencies: number[] = [];
    const acks: number[] = [];
    let received = 0;
    let wake: (() => void) | undefined;
    const follow = reader.follow("latency", 0, (r) => {
      const t = sent.get(r.consortSequence);
      if (t !== undefined && r.consortSequence > warmup) latencies.push(performance.now() - t);
      received = r.consortSequence;
      wake?.();
    });
    for (let i = 1; i <= warmup + samples; i++) {
      const t0 = performance.now();
      sent.set(i, t0);
      const r = await writer.append("latency", payload, { msgId: `lat-${i}` });
      if (!r.ok || r.consortSequence !== i) throw new Error(`append ${i} failed: ${JSON.stringify(r)}`);
      if (i > warmup) acks.push(performance.now() - t0);
      // Wait for the follower before the next append (bounded), so each sample is one signal alone in flight.
      const deadline = Date.now() + 5_000;
      while (received < i) {
        if (Date.now() > deadline) throw new Error(`the follower did not receive ${i}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
    }
    await follow.stop();
    latencies.sort((a, b) => a - b);
    acks.sort((a, b) => a - b);
    console.log(`append → follower latency over ${latencies.length}: p50 ${ms(percentile(latencies, 50))} ms, p99 ${ms(percentile(latencies, 99))} ms`);
    console.log(`append acknowledged over ${acks.length}: p50 ${ms(percentile(acks, 50))} ms, p99 ${ms(percentile(acks, 99))} ms`);
  }
  // --growth: publishes/s with the expected last subject sequence per 2,000 as one subject grows to 16,000 (history
  // limit 10,000), memory against file storage: the reason the log defaults to file.
  if (process.argv.includes("--growth")) {
    const nc = await connection();
    const jsm = await nc.jetstreamManager();
    const js = nc.jetstream();
    for (const kind of ["memory", "file"] as const) {
      await jsm.streams.add({ name: `GROWTH_${kind}`, subjects: [`growth.${kind}.>`], storage: kind as StorageType, max_msgs_per_subject: 10_000 });
      let last = 0;
      const rates: number[] = [];
      for (let chunk = 0; chunk < 8; chunk++) {
        const t0 = performance.now();
        for (let i = 0; i < 2_000; i++) last = (await js.publish(`growth.${kind}.s`, payload, { expect: { lastSubjectSequence: last } })).seq;
        rates.push(Math.round(2_000 / ((performance.now() - t0) / 1000)));
      }
      console.log(`publishes/s with the expected last subject sequence per 2,000 up to 16,000, ${kind} storage: ${rates.join(" ")}`);
    }
  }
  console.log(`load at end: ${(await import("node:fs")).readFileSync("/proc/loadavg", "utf8").trim()}`);
} finally {
  await Promise.all(connections.map((nc) => nc.close()));
  await server.stop();
}
