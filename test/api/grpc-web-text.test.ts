import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PublishRequestSchema,
  PublishResponseSchema,
  SignalType,
  SubscribeRequestSchema,
  SubscribeResponseSchema,
  type SubscribeResponse,
} from "../../gen/ts/consort/v1/signal_pb.js";
import { frame, frames } from "./envelopes.js";
import { startTestServer, type TestServer } from "./harness.js";

/**
 * gRPC-Web's text mode (application/grpc-web-text), which Google's grpc-web client uses for server streaming:
 * base64 both ways, frames as in binary gRPC-Web. Spoken here with raw HTTP, as that client does.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());



/** Decodes a text-mode body made of independently padded base64 chunks, one 4-character group at a time. */
const decodeChunks = (chunks: string[]) => {
  const text = chunks.join("");
  const out: Buffer[] = [];
  for (let i = 0; i < text.length; i += 4) out.push(Buffer.from(text.slice(i, i + 4), "base64"));
  return Buffer.concat(out);
};

const post = (path: string, body: string) =>
  fetch(`${server.baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web-text", accept: "application/grpc-web-text", "x-grpc-web": "1" },
    body,
  });

describe("gRPC-Web text mode", () => {
  it("answers a unary call in base64 frames, the trailer last", async () => {
    const req = create(PublishRequestSchema, { coordinationId: "text", type: SignalType.AGENT_COMPLETED, data: { via: "grpc-web-text" } });
    const res = await post("/consort.v1.SignalService/Publish", frame(toBinary(PublishRequestSchema, req)).toString("base64"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/grpc-web-text+proto");
    const [message, trailer] = frames(decodeChunks([await res.text()]));
    expect(fromBinary(PublishResponseSchema, message?.data ?? new Uint8Array()).signal?.data).toEqual({ via: "grpc-web-text" });
    expect(trailer?.flags).toBe(0x80);
    expect(trailer?.data.toString()).toMatch(/grpc-status: 0/);
  });

  it("streams Subscribe live: each message arrives as its own base64 chunk, not held back for the next", async () => {
    const req = create(SubscribeRequestSchema, { coordinationId: "text-stream", agentId: "google-client" });
    const ac = new AbortController();
    const res = await fetch(`${server.baseUrl}/consort.v1.SignalService/Subscribe`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web-text" },
      body: frame(toBinary(SubscribeRequestSchema, req)).toString("base64"),
      signal: ac.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    // Text received so far; a message counts as delivered once its whole frame has arrived.
    let text = "";
    let taken = 0;
    const next = async (): Promise<SubscribeResponse> => {
      for (;;) {
        const complete = frames(decodeChunks([text.slice(0, text.length - (text.length % 4))]));
        if (complete.length > taken) return fromBinary(SubscribeResponseSchema, (complete[taken++] as { data: Buffer }).data);
        const { value, done } = await reader.read();
        if (done === true) throw new Error("stream ended");
        text += Buffer.from(value).toString("latin1");
      }
    };
    expect((await next()).subscribed?.subscriptionId).toMatch(/^sub-/);
    await server.connect.signals.publish({ coordinationId: "text-stream", type: SignalType.AGENT_INITIALIZED });
    expect((await next()).signals.map((s) => s.sequence)).toEqual([1n]);
    await server.connect.signals.publish({ coordinationId: "text-stream", type: SignalType.AGENT_COMPLETED });
    expect((await next()).signals.map((s) => s.sequence)).toEqual([2n]);
    ac.abort();
  });

  it("accepts a request made of padded base64 chunks, and refuses one that is not base64 with an ErrorInfo", async () => {
    const bytes = frame(toBinary(PublishRequestSchema, create(PublishRequestSchema, { coordinationId: "text-chunks", type: SignalType.STAGE_COMPLETED })));
    const chunked = [bytes.subarray(0, 4), bytes.subarray(4, 9), bytes.subarray(9)].map((b) => b.toString("base64")).join("");
    const ok = frames(decodeChunks([await (await post("/consort.v1.SignalService/Publish", chunked)).text()]));
    expect(fromBinary(PublishResponseSchema, ok[0]?.data ?? new Uint8Array()).signal?.sequence).toBe(1n);

    const bad = frames(decodeChunks([await (await post("/consort.v1.SignalService/Publish", "!!!not base64!!")).text()]));
    const trailer = bad.find((f) => f.flags === 0x80)?.data.toString() ?? "";
    expect(trailer).toMatch(/grpc-status: 3\r\n/);
    expect(trailer).toMatch(/grpc-status-details-bin: /);
  });
});
