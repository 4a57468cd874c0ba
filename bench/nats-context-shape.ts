import { connect, headers, type JetStreamClient, type NatsConnection, StorageType } from "nats";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { createJetStreamContextLog } from "../src/backend/nats/context-log.js";
import { startNatsServer } from "../test/nats/nats-server.js";
import { median } from "./median.js";

/**
 * The shape of a context distribution on JetStream (issue 12: "DistributeContext to 1,000 agents as 1,000 KV puts
 * is neither atomic nor within 20 ms"), against Debian's nats-server on this machine, file storage. For 10, 100
 * and 1,000 agents with realistic assignments (~500 B of JSON each, plus one ~3 KB shared intelligence), the time
 * from "encode" to "the server acknowledged every write" (durable), median of the samples, as:
 *
 * - `kv-puts`: one KV put per agent (`<coordination>.<agent>`), all sent, then awaited;
 * - `one-doc`: ONE message per distribution on `consort.ctx.<token>` holding every assignment, with the revision
 *   in a header and the expected last subject sequence (optimistic concurrency), encode included;
 * - `n-async`: one stream message per agent on `consort.ctxa.<token>.<agent>`, all sent, then awaited (no
 *   expected sequence: concurrent publishes cannot be chained);
 * - `chunked-256k`: the document split in 256 KiB parts published in turn, each expecting its predecessor;
 * - `context-log`: `one-doc` through the module (`src/backend/nats/context-log.ts`), encode included;
 * - `log→follower`: from encode to a follower on another connection holding the decoded document.
 *
 * With `--large` it also starts a server with `max_payload: 8MB` and times a 10,000-agent document (the engine's
 * `maxAgentsPerCoordination`) in one message and in parts. Not part of `npm run bench`.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/nats-context-shape.js [--samples 30] [--large]
 */

const at = process.argv.indexOf("--samples");
const samples = at < 0 ? 30 : Number(process.argv[at + 1]);
const warmup = 5;
const encoder = new TextEncoder();

/** One agent's assignment as a distribution holds it (~500 B of JSON; protocols left to their defaults). */
function assignment(i: number, revision: number) {
  return {
    agentId: `agent-${String(i).padStart(5, "0")}`,
    agentRole: i % 3 === 0 ? "implementer" : i % 3 === 1 ? "reviewer" : "tester",
    tasks: [`implement-module-${i}`, `write-tests-${i}`],
    dependencies: i > 0 ? [`agent-${String(i - 1).padStart(5, "0")}`] : [],
    inputData: { module: `models.m${i}`, spec: `docs/spec/m${i}.md`, priority: i % 5 },
    outputRequirements: { format: "python", path: `src/models/m${i}.py` },
    successCriteria: { tests_pass: true, coverage: 0.9 },
    allocation: { maxExecutionTimeMs: 300000, maxRetryAttempts: 3, maxMemoryMb: 512, qualityThreshold: 0.8, timeoutMs: 30000, concurrencyLimit: 2 },
    version: 1,
    revision,
  };
}

/** ~3 KB: the shared intelligence every assignment of a distribution shares (held once per document). */
const shared = {
  typeRegistry: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`Type${i}`, { kind: "model", fields: { id: "uuid", name: "str", created_at: "datetime", tags: "list[str]" } }])),
  patternLibrary: { models: ["pydantic.BaseModel subclass per entity", "Field(...) with description"], tests: ["pytest parametrize per field rule", "one round-trip test per model"] },
  validationRules: { email: { pattern: "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", max_length: 254 }, title: { min_length: 3, max_length: 200 } },
  namingConventions: { classes: "PascalCase", functions: "snake_case", constants: "UPPER_SNAKE_CASE" },
};

function document(agents: number, revision: number): Uint8Array {
  const assignments = Array.from({ length: agents }, (_, i) => assignment(i, revision));
  return encoder.encode(JSON.stringify({ kind: "distribution", coordinationId: "bench", sessionId: "s1", revision, shared, assignments }));
}

const connections: NatsConnection[] = [];
const rows: string[] = [];
const row = (shape: string, agents: number, bytes: number, ms: number[]) => {
  const line = `${shape.padEnd(14)} ${String(agents).padStart(6)} agents  ${(bytes / 1024).toFixed(1).padStart(8)} KiB  median ${median(ms).toFixed(2).padStart(7)} ms  min ${Math.min(...ms).toFixed(2)}  max ${Math.max(...ms).toFixed(2)}`;
  rows.push(line);
  console.log(line);
};

/** Times `run(revision)` `samples` times after a warm-up; returns the durations in ms. */
async function time(run: (revision: number) => Promise<void>, count = samples): Promise<number[]> {
  const ms: number[] = [];
  for (let k = 0; k < warmup + count; k++) {
    const t = performance.now();
    await run(k + 1);
    if (k >= warmup) ms.push(performance.now() - t);
  }
  return ms;
}

/** Publishes `doc` in parts of `partBytes`, each expecting its predecessor; returns the last stream sequence. */
async function publishParts(js: JetStreamClient, subject: string, doc: Uint8Array, partBytes: number, revision: number, last: number): Promise<number> {
  const parts = Math.ceil(doc.length / partBytes);
  for (let p = 0; p < parts; p++) {
    const h = headers();
    h.set("Consort-Sequence", String(revision));
    h.set("Consort-Part", `${p + 1}/${parts}`);
    last = (await js.publish(subject, doc.subarray(p * partBytes, (p + 1) * partBytes), { headers: h, expect: { lastSubjectSequence: last } })).seq;
  }
  return last;
}

const server = await startNatsServer();
try {
  console.log(`file storage, ${samples} samples after ${warmup}; load at start: ${readFileSync("/proc/loadavg", "utf8").trim()}`);
  const nc = await connect({ servers: server.url });
  connections.push(nc);
  console.log(`server max_payload: ${nc.info?.max_payload} bytes`);
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  await jsm.streams.add({ name: "BENCH_CTX", subjects: ["consort.ctx.>"], storage: StorageType.File, max_msgs_per_subject: 8 });
  await jsm.streams.add({ name: "BENCH_CTXA", subjects: ["consort.ctxa.>"], storage: StorageType.File, max_msgs_per_subject: 1 });
  const kv = await js.views.kv("BENCH_CTX_KV", { history: 1, storage: StorageType.File });

  for (const agents of [10, 100, 1_000]) {
    const size = document(agents, 1).length;
    console.log(`${agents} agents: a document of ${size} bytes (${(size / agents).toFixed(0)} B per agent), ${((100 * size) / (nc.info?.max_payload ?? 1)).toFixed(1)}% of max_payload`);

    // Encoding alone: what every shape pays before the first byte leaves.
    row("encode-only", agents, size, await time(async (r) => void document(agents, r)));

    row(
      "kv-puts",
      agents,
      size,
      await time(async (r) => {
        const puts = Array.from({ length: agents }, (_, i) => assignment(i, r)).map((a) => kv.put(`c${agents}.${a.agentId}`, encoder.encode(JSON.stringify({ shared, ...a }))));
        await Promise.all(puts);
      }),
    );

    let last = 0;
    const subject = `consort.ctx.c${agents}`;
    row(
      "one-doc",
      agents,
      size,
      await time(async (r) => {
        const h = headers();
        h.set("Consort-Sequence", String(r));
        last = (await js.publish(subject, document(agents, r), { headers: h, expect: { lastSubjectSequence: last } })).seq;
      }),
    );

    row(
      "n-async",
      agents,
      size,
      await time(async (r) => {
        const acks = Array.from({ length: agents }, (_, i) => assignment(i, r)).map((a) => {
          const h = headers();
          h.set("Consort-Sequence", String(r));
          return js.publish(`consort.ctxa.c${agents}.${a.agentId}`, encoder.encode(JSON.stringify(a)), { headers: h });
        });
        await Promise.all(acks);
      }),
    );

    // The module: the same document through the context log, then to a follower on another connection.
    const log = await createJetStreamContextLog({ connection: nc, streamName: "BENCH_LOG", subjectPrefix: "bench.ctx" });
    const followerConnection = await connect({ servers: server.url });
    connections.push(followerConnection);
    const reader = await createJetStreamContextLog({ connection: followerConnection, streamName: "BENCH_LOG", subjectPrefix: "bench.ctx" });
    let revision = 0;
    const appendOne = async (id: string) => {
      const r = await log.append(id, document(agents, revision + 1), { expectedRevision: revision });
      if (!r.ok) throw new Error(`append failed: ${r.reason}: ${r.message}`);
      revision = r.revision;
    };
    row("context-log", agents, size, await time(() => appendOne(`log-${agents}`)));
    revision = 0;
    let heard: ((revision: number) => void) | undefined;
    const follow = reader.follow(`follow-${agents}`, 0, (d) => {
      const decoded = JSON.parse(new TextDecoder().decode(d.document)) as { assignments: unknown[] };
      if (decoded.assignments.length === agents) heard?.(d.revision);
    });
    row(
      "log→follower",
      agents,
      size,
      await time(async () => {
        const delivered = new Promise<number>((resolve) => (heard = resolve));
        await appendOne(`follow-${agents}`);
        if ((await delivered) !== revision) throw new Error("the follower saw another revision");
      }),
    );
    await follow.stop();

    if (size > 256 * 1024) {
      let lastPart = 0;
      const sub = `consort.ctx.p${agents}`;
      row("chunked-256k", agents, size, await time(async (r) => void (lastPart = await publishParts(js, sub, document(agents, r), 256 * 1024, r, lastPart))));
    }
  }

  if (process.argv.includes("--large")) {
    const big = await startNatsServer({ config: "max_payload: 8MB\n" });
    try {
      const bc = await connect({ servers: big.url });
      connections.push(bc);
      const bjsm = await bc.jetstreamManager();
      const bjs = bc.jetstream();
      await bjsm.streams.add({ name: "BENCH_BIG", subjects: ["consort.ctx.>"], storage: StorageType.File, max_msgs_per_subject: 8 });
      const agents = 10_000;
      const size = document(agents, 1).length;
      console.log(`max_payload raised to ${bc.info?.max_payload} bytes; ${agents} agents: a document of ${size} bytes`);
      let last = 0;
      row(
        "one-doc-8MB",
        agents,
        size,
        await time(async (r) => {
          const h = headers();
          h.set("Consort-Sequence", String(r));
          last = (await bjs.publish("consort.ctx.big", document(agents, r), { headers: h, expect: { lastSubjectSequence: last } })).seq;
        }, 10),
      );
      let lastPart = 0;
      row("chunked-512k", agents, size, await time(async (r) => void (lastPart = await publishParts(bjs, "consort.ctx.bigp", document(agents, r), 512 * 1024, r, lastPart)), 10));
    } finally {
      await Promise.all(connections.splice(1).map((c) => c.close()));
      await big.stop();
    }
  }
  console.log(`\nload at end: ${readFileSync("/proc/loadavg", "utf8").trim()}`);
} finally {
  await Promise.all(connections.map((c) => c.close()));
  await server.stop();
}
