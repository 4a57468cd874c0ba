import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SharedIntelligencePart, type WatchAgentContextResponse } from "../../gen/ts/consort/v1/context_pb.js";
import { DependencyStatus } from "../../gen/ts/consort/v1/dependency_pb.js";
import { SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import * as grpc from "@grpc/grpc-js";
import { ContextService } from "../../gen/ts/consort/v1/context_pb.js";
import { startTestServer, type Clients, type TestServer } from "./harness.js";

/**
 * ContextService and DependencyService through real clients over real ports: native gRPC (connect-node's gRPC
 * transport against the grpc-js port), Connect binary and JSON, gRPC-Web.
 */

let server: TestServer;
let n = 0;
const cid = () => `coord-${++n}`;

beforeAll(async () => {
  server = await startTestServer(["--max-message-bytes", "65536", "--max-payload-bytes", "4096", "--max-recipients", "10"]);
});
afterAll(() => server.close());

const transports: Record<string, () => Clients> = {
  grpc: () => server.grpc,
  connect: () => server.connect,
  "connect-json": () => server.connectJson,
  "grpc-web": () => server.grpcWeb,
};

const reasonOf = (e: unknown) => ConnectError.from(e).findDetails(ErrorInfoSchema)[0]?.reason;
const completionTarget = (agentId: string) => ({ case: "agentCompletion" as const, value: { agentId } });

describe.each(Object.keys(transports))("over %s", (name) => {
  const c = transports[name] as () => Clients;

  it("runs the quick start: distribute, wait on a completion, release, dependency_resolved", async () => {
    const coordinationId = cid();
    const d = await c().contexts.distributeContext({
      coordinationId,
      sessionId: "session-456",
      sharedIntelligence: { namingConventions: { model: "PascalCase" }, patternLibrary: { crud: { values: ["create"] } } },
      assignments: [
        { agentId: "model_gen", objective: "Generate models", tasks: ["parse_contract", "generate_models"] },
        { agentId: "validator_gen", objective: "Generate validators", dependencies: ["model_gen"], resourceAllocation: { maxMemoryMb: 1024 } },
      ],
    });
    expect(d.contexts.map((x) => x.agentAssignment?.agentId)).toEqual(["model_gen", "validator_gen"]);
    expect(d.contexts[1]?.resourceAllocation).toMatchObject({ maxMemoryMb: 1024, timeoutMs: 30_000, qualityThreshold: 0.8 });
    expect(d.contexts[0]?.sharedIntelligence?.patternLibrary["crud"]?.values).toEqual(["create"]);
    expect(d.revision).toBe(1n);

    const wait = c().dependencies.resolveDependencies({ coordinationId, agentId: "validator_gen", dependencies: [] }, { timeoutMs: 5000 });
    // The wait is registered before the completion lands or after it: either way it resolves.
    await c().signals.publish({ coordinationId, type: SignalType.AGENT_COMPLETED, senderAgentId: "model_gen", data: { quality_score: 0.95 } });
    const r = await wait;
    expect(r.success).toBe(true);
    expect(r.results).toMatchObject([{ dependencyId: "model_gen", status: DependencyStatus.RESOLVED }]);
    const resolved = await c().signals.listSignals({ coordinationId, types: [SignalType.DEPENDENCY_RESOLVED] });
    expect(resolved.signals[0]?.data).toMatchObject({ resolver_agent: "validator_gen", dependency_count: 1 });
  });

  it("streams 'absent' first to an agent without a context, then its context on the same stream", async () => {
    const coordinationId = cid();
    const ac = new AbortController();
    const it_ = c().contexts.watchAgentContext({ coordinationId, agentId: "late" }, { signal: ac.signal })[Symbol.asyncIterator]();
    const first = (await it_.next()).value as WatchAgentContextResponse;
    expect(first.state.case).toBe("absent");
    await c().contexts.distributeContext({ coordinationId, sessionId: "s", assignments: [{ agentId: "late" }] });
    const second = (await it_.next()).value as WatchAgentContextResponse;
    expect(second.state.case).toBe("context");
    expect(second.revision).toBe(1n);
    ac.abort();
  });

  it("reports targeted updates and versions (SPEC cases 18, 19)", async () => {
    const coordinationId = cid();
    await c().contexts.distributeContext({ coordinationId, sessionId: "s", assignments: [{ agentId: "a" }, { agentId: "b" }] });
    const u = await c().contexts.updateSharedIntelligence({
      coordinationId,
      updateType: SharedIntelligencePart.TYPE_REGISTRY,
      updateData: { User: { fields: ["id"] } },
      targetAgentIds: ["a", "ghost"],
    });
    expect(u.results).toEqual({ a: true, ghost: false });
    const a = await c().contexts.getAgentContext({ coordinationId, agentId: "a" });
    expect(a.context?.contextVersion).toBe(2n);
    expect(a.context?.sharedIntelligence?.typeRegistry).toEqual({ User: { fields: ["id"] } });
    expect((await c().contexts.getAgentContext({ coordinationId, agentId: "b" })).context?.contextVersion).toBe(1n);
  });

  it("resolves gates and resources, and times out what never comes (SPEC cases 21, 22, 20)", async () => {
    const coordinationId = cid();
    const wait = c().dependencies.resolveDependencies(
      {
        coordinationId,
        agentId: "test-gen",
        dependencies: [
          { dependencyId: "cov", target: { case: "qualityGate", value: { gateId: "coverage" } } },
          { dependencyId: "db", target: { case: "resource", value: { resourceId: "database" } } },
          { dependencyId: "never", timeout: durationFromMs(300), target: completionTarget("nobody") },
        ],
      },
      { timeoutMs: 5000 },
    );
    await c().dependencies.setQualityGateScore({ coordinationId, gateId: "coverage", score: 0.7 });
    await c().dependencies.setResourceAvailability({ coordinationId, resourceId: "database", available: true });
    await c().dependencies.setQualityGateScore({ coordinationId, gateId: "coverage", score: 0.9 });
    const r = await wait;
    expect(r.success).toBe(false);
    expect(r.results.map((x) => x.status)).toEqual([DependencyStatus.RESOLVED, DependencyStatus.RESOLVED, DependencyStatus.TIMEOUT]);
    expect(r.results[2]?.message).toBe("Dependency 'never' timed out after 0.3s");
    const st = await c().dependencies.getDependencyStatus({ coordinationId, agentId: "test-gen", dependencyId: "never" });
    expect(st.record?.dependency?.target.case).toBe("agentCompletion");
    expect(st.record?.finishedAt).toBeDefined();
  });
});

describe("errors name their condition", () => {
  it("NOT_FOUND for an unknown context or dependency; INVALID_ARGUMENT names the cycle; nothing stored", async () => {
    const coordinationId = cid();
    const e1 = await server.grpc.contexts.getAgentContext({ coordinationId, agentId: "x" }).catch((e: unknown) => e);
    expect(ConnectError.from(e1).code).toBe(Code.NotFound);
    expect(reasonOf(e1)).toBe("CONTEXT_NOT_FOUND");
    const e2 = await server.grpc.dependencies.getDependencyStatus({ coordinationId, agentId: "x", dependencyId: "d" }).catch((e: unknown) => e);
    expect(reasonOf(e2)).toBe("DEPENDENCY_NOT_FOUND");
    const e3 = await server.connectJson.contexts
      .distributeContext({ coordinationId, sessionId: "s", assignments: [{ agentId: "a", dependencies: ["b"] }, { agentId: "b", dependencies: ["a"] }] })
      .catch((e: unknown) => e);
    expect(ConnectError.from(e3).code).toBe(Code.InvalidArgument);
    expect(ConnectError.from(e3).rawMessage).toContain("dependency cycle: a -> b -> a");
    expect((await server.grpc.contexts.listAgentContexts({ coordinationId })).contexts).toHaveLength(0);
  });

  it("WatchAgentContext: OUT_OF_RANGE REVISION_AHEAD for a resume point the server never had", async () => {
    const coordinationId = cid();
    const err = await (async () => {
      for await (const _ of server.grpc.contexts.watchAgentContext({ coordinationId, agentId: "a", afterRevision: 5n })) void _;
    })().catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.OutOfRange);
    expect(reasonOf(err)).toBe("REVISION_AHEAD");
  });
});

describe("what one port accepts, every client reads back", () => {
  it("a context nested to the JSON depth limit is read back over gRPC and Connect JSON; one level more is refused", async () => {
    const coordinationId = cid();
    const nest = (levels: number) => Array.from({ length: levels - 1 }).reduce<Record<string, unknown>>((x) => ({ x }), { leaf: true });
    await server.grpc.contexts.distributeContext({ coordinationId, sessionId: "s", assignments: [{ agentId: "deep", inputData: nest(32) as never }] });
    for (const clients of [server.grpc, server.connectJson]) {
      const got = await clients.contexts.getAgentContext({ coordinationId, agentId: "deep" });
      expect(got.context?.agentAssignment?.inputData).toEqual(nest(32));
    }
    const err = await server.grpc.contexts
      .distributeContext({ coordinationId, sessionId: "s", assignments: [{ agentId: "deeper", inputData: nest(33) as never }] })
      .catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.InvalidArgument);
    expect(ConnectError.from(err).rawMessage).toContain("assignments[0].input_data");
  });
});

describe("responses fit in one message", () => {
  it("cuts DistributeContext's contexts to the message limit and continues them through ListAgentContexts", async () => {
    const coordinationId = cid();
    // A small request whose response is large: every context carries the shared intelligence.
    const assignments = Array.from({ length: 40 }, (_, i) => ({ agentId: `agent-${i}`, objective: "generate" }));
    const sharedIntelligence = { typeRegistry: { blob: "b".repeat(4000) } };
    for (const clients of [server.grpc, server.connectJson]) {
      const d = await clients.contexts.distributeContext({ coordinationId, sessionId: "s", assignments, sharedIntelligence });
      expect(d.contexts.length).toBeLessThan(40);
      expect(d.nextPageToken).not.toBe("");
      const ids = d.contexts.map((x) => x.agentAssignment?.agentId);
      let token = d.nextPageToken;
      while (token !== "") {
        const page = await clients.contexts.listAgentContexts({ coordinationId, pageToken: token });
        ids.push(...page.contexts.map((x) => x.agentAssignment?.agentId));
        token = page.nextPageToken;
      }
      expect(ids).toEqual(assignments.map((a) => a.agentId));
    }
  });

  it("refuses a context that could not be read back: RESOURCE_EXHAUSTED CONTEXT_TOO_LARGE", async () => {
    const err = await server.grpc.contexts
      .distributeContext({ coordinationId: cid(), sessionId: "s", assignments: [{ agentId: "a", objective: "x".repeat(64_000) }] })
      .catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.ResourceExhausted);
    expect(reasonOf(err)).toBe("CONTEXT_TOO_LARGE");
  });
});

describe("a blocking call and its caller", () => {
  const pendingWaits = async () => {
    const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
    return Number(/^consort_pending_waits (\d+)/m.exec(text)?.[1]);
  };
  const until = async (check: () => Promise<boolean> | boolean) => {
    for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 10));
  };

  it("deadline: the call ends DEADLINE_EXCEEDED and its wait is recorded TIMEOUT; cancel: FAILED; no waiter left", async () => {
    const coordinationId = cid();
    const dependencies = [{ dependencyId: "d", target: completionTarget("gen") }];
    const err = await server.grpc.dependencies.resolveDependencies({ coordinationId, agentId: "v", dependencies }, { timeoutMs: 150 }).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.DeadlineExceeded);
    await until(async () => (await server.grpc.dependencies.getDependencyStatus({ coordinationId, agentId: "v", dependencyId: "d" })).record?.status !== DependencyStatus.IN_PROGRESS);
    expect((await server.grpc.dependencies.getDependencyStatus({ coordinationId, agentId: "v", dependencyId: "d" })).record?.status).toBe(DependencyStatus.TIMEOUT);

    const ac = new AbortController();
    const cancelled = server.grpc.dependencies.resolveDependencies({ coordinationId, agentId: "v", dependencies: [{ dependencyId: "e", target: completionTarget("gen") }] }, { signal: ac.signal });
    await until(() => server.app.dependencies.pendingCount === 1);
    expect(await pendingWaits()).toBe(1);
    ac.abort();
    await cancelled.catch(() => undefined);
    await until(() => server.app.dependencies.pendingCount === 0);
    const rec = (await server.grpc.dependencies.getDependencyStatus({ coordinationId, agentId: "v", dependencyId: "e" })).record;
    expect(rec).toMatchObject({ status: DependencyStatus.FAILED, message: "Dependency 'e' cancelled" });
    expect(await pendingWaits()).toBe(0);
  });

  it("a retry joins the open wait instead of colliding, and reads the recorded result once finished", async () => {
    const coordinationId = cid();
    const req = { coordinationId, agentId: "v", dependencies: [{ dependencyId: "d", target: completionTarget("gen") }] };
    const first = server.grpc.dependencies.resolveDependencies(req, { timeoutMs: 5000 });
    const retry = server.connect.dependencies.resolveDependencies(req, { timeoutMs: 5000 });
    await until(() => server.app.dependencies.list({ coordinationId, statuses: ["in_progress"] }).records.length === 1);
    await server.grpc.signals.publish({ coordinationId, type: SignalType.AGENT_COMPLETED, senderAgentId: "gen" });
    expect((await first).success).toBe(true);
    expect((await retry).success).toBe(true);
    expect((await server.grpcWeb.dependencies.resolveDependencies(req)).results[0]?.status).toBe(DependencyStatus.RESOLVED);
    const mismatch = await server.grpc.dependencies
      .resolveDependencies({ ...req, dependencies: [{ dependencyId: "d", target: completionTarget("other") }] })
      .catch((e: unknown) => e);
    expect(ConnectError.from(mismatch).code).toBe(Code.FailedPrecondition);
    expect(reasonOf(mismatch)).toBe("DEPENDENCY_MISMATCH");
  });
});

describe("a context watcher that stops reading", () => {
  it("is unregistered as soon as it falls behind its buffer, while it still does not read: it holds no changes, no pin", async () => {
    const own = await startTestServer(["--subscriber-buffer", "3"]);
    try {
      const coordinationId = "lagging";
      const objective = "o".repeat(16_000); // updates soon fill the stream's flow-control windows
      await own.grpc.contexts.distributeContext({ coordinationId, sessionId: "s", assignments: [{ agentId: "a", objective }] });
      const client = own.grpcClient(ContextService);
      const stream = (client["watchAgentContext"] as (r: object) => grpc.ClientReadableStream<unknown>).call(client, { coordinationId, agentId: "a" });
      stream.on("error", () => {});
      stream.pause();
      for (let i = 0; i < 200 && own.app.contexts.watcherCount > 0; i++) {
        await own.grpc.contexts.updateSharedIntelligence({ coordinationId, updateType: SharedIntelligencePart.TYPE_REGISTRY, updateData: { i } });
      }
      expect(own.app.contexts.watcherCount).toBe(0);
      expect(own.app.store.peek(coordinationId)?.pins).toBe(0);
      stream.cancel();
    } finally {
      await own.close();
    }
  });
});

describe("shutdown", () => {
  it("ends an open wait UNAVAILABLE and a context watch UNAVAILABLE with its resume point", async () => {
    const own = await startTestServer();
    const coordinationId = "shutdown";
    await own.grpc.contexts.distributeContext({ coordinationId, sessionId: "s", assignments: [{ agentId: "a" }] });
    const wait = own.grpc.dependencies
      .resolveDependencies({ coordinationId, agentId: "v", dependencies: [{ dependencyId: "d", target: completionTarget("gen") }] })
      .catch((e: unknown) => e);
    const watched: bigint[] = [];
    const watch = (async () => {
      for await (const m of own.grpc.contexts.watchAgentContext({ coordinationId, agentId: "a" })) watched.push(m.revision);
    })().catch((e: unknown) => e);
    for (let i = 0; i < 200 && (own.app.dependencies.pendingCount === 0 || watched.length === 0); i++) await new Promise((r) => setTimeout(r, 10));
    await own.close();
    const [w, x] = [await wait, await watch];
    expect(ConnectError.from(w).code).toBe(Code.Unavailable);
    expect(ConnectError.from(x).code).toBe(Code.Unavailable);
    expect(ConnectError.from(x).findDetails(ErrorInfoSchema)[0]?.metadata["last_revision"]).toBe("1");
    expect(own.app.dependencies.pendingCount).toBe(0);
  });
});
