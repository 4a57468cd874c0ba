import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignalType, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { eventually, startTestServer, type TestServer } from "./harness.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(["--cors-origins", "http://app.example"]);
});
afterAll(() => server.close());

describe.each(["connect", "grpcWeb"] as const)("SignalService over HTTP/1.1 (%s protocol)", (protocol) => {
  const client = () => server[protocol].signals;
  const c = `web-${protocol}`;

  it("publishes, subscribes live, resumes and lists", async () => {
    await client().publish({ coordinationId: c, type: SignalType.AGENT_INITIALIZED, data: { agent_id: "a" } });
    const ac = new AbortController();
    const stream = client().subscribe({ coordinationId: c, agentId: "b", afterSequence: 0n }, { signal: ac.signal, timeoutMs: 5000 });
    const it: AsyncIterator<SubscribeResponse> = stream[Symbol.asyncIterator]();
    const next = async () => (await it.next()).value as SubscribeResponse;
    expect((await next()).subscribed?.headSequence).toBe(1n);
    expect((await next()).signals.map((s) => s.sequence)).toEqual([1n]);
    await client().publish({ coordinationId: c, type: SignalType.AGENT_COMPLETED, data: { agent_id: "a", success: true } });
    expect((await next()).signals.map((s) => [s.sequence, s.data])).toEqual([[2n, { agent_id: "a", success: true }]]);
    ac.abort();
    await eventually(() => server.app.signals.subscriptionCount === 0);
    const list = await client().listSignals({ coordinationId: c });
    expect(list.signals.map((s) => s.sequence)).toEqual([2n, 1n]);
    const m = await client().getSignalMetrics({ coordinationId: c });
    expect(m.totalSignalsSent).toBe(2n);
    expect(m.totalSignalsReceived).toBe(2n);
    const cleared = await client().clearSignals({ coordinationId: c });
    expect(cleared.clearedSignals).toBe(2n);
  });

  it("returns INVALID_ARGUMENT with BadRequest and ErrorInfo details", async () => {
    const err = await client()
      .publish({ coordinationId: "", type: SignalType.AGENT_COMPLETED })
      .then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toMatch(/^coordination_id: must not be empty/);
    expect(err?.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("coordination_id");
    expect(err?.findDetails(ErrorInfoSchema)[0]?.domain).toBe("consort.v1");
  });

  it("ends a stream OUT_OF_RANGE with the head in the error when resuming beyond it", async () => {
    const stream = client().subscribe({ coordinationId: `${c}-ahead`, agentId: "a", afterSequence: 5n }, { timeoutMs: 5000 });
    const err = await (async () => {
      for await (const _ of stream) void _;
    })().then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(err?.code).toBe(Code.OutOfRange);
    expect(err?.findDetails(ErrorInfoSchema)[0]?.metadata).toEqual({ head_sequence: "0" });
  });
});

describe("HTTP endpoints", () => {
  it("serves Prometheus metrics with the signal counters", async () => {
    await server.connect.signals.publish({ coordinationId: "metrics", type: SignalType.AGENT_COMPLETED });
    const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
    expect(text).toMatch(/consort_signals_published_total \d+/);
    expect(text).toMatch(/consort_rpc_duration_seconds_count\{method="consort.v1.SignalService\/Publish",code="OK",transport="web"\} \d+/);
    expect(text).toMatch(/signal_propagation_time_ms_bucket/);
  });

  it("answers /healthz and CORS preflights for allowed origins only", async () => {
    expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
    const url = `${server.baseUrl}/consort.v1.SignalService/Publish`;
    const ok = await fetch(url, { method: "OPTIONS", headers: { Origin: "http://app.example", "Access-Control-Request-Method": "POST" } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe("http://app.example");
    // Authorization (the default of --cors-headers) beside the protocols' own headers: ready for an auth layer.
    const allowed = (ok.headers.get("access-control-allow-headers") ?? "").toLowerCase().split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(["authorization", "content-type", "connect-protocol-version", "x-grpc-web"]));
    const other = await fetch(url, { method: "OPTIONS", headers: { Origin: "http://evil.example", "Access-Control-Request-Method": "POST" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("the HTTP port turned off", () => {
  it("serves the gRPC port alone: no HTTP port is bound", async () => {
    const server = await startTestServer(["--http-port", "off"]);
    try {
      expect(server.app.httpPort).toBeUndefined();
      const res = await server.grpc.signals.publish({ coordinationId: "no-http", type: SignalType.AGENT_COMPLETED });
      expect(res.signal?.sequence).toBe(1n);
    } finally {
      await server.close();
    }
  });
});
