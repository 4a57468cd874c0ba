// Browser code of the browser test: bundled by esbuild (platform browser, format esm) and loaded by index.html.
// It exposes `runConsort(baseUrl, coordinationId)`, which talks to Consort from a different origin (so through
// CORS) with both browser protocols: gRPC-Web for the Subscribe stream, Connect for the unary calls; and
// `runGoogleGrpcWebText`, which does the same with Google's grpc-web client in text mode.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { GrpcWebClientBase, MethodDescriptor } from "grpc-web";
import {
  PublishRequestSchema,
  PublishResponseSchema,
  SignalService,
  SignalType,
  SignalTypeSchema,
  SubscribeRequestSchema,
  SubscribeResponseSchema,
  type Signal,
  type SubscribeResponse,
} from "../../gen/ts/consort/v1/signal_pb.js";

/** A received signal as plain JSON (bigints as strings, the type as its proto enum value name). */
export interface ReceivedSignal {
  readonly sequence: string;
  readonly type: string;
  readonly sender: string;
  readonly recipients: string[];
  readonly data: unknown;
}

/** What `runConsort` returns to the test: plain JSON, since `page.evaluate` cannot carry bigints or messages. */
export interface ConsortRun {
  readonly subscribed: { readonly headSequence: string };
  readonly received: ReceivedSignal[];
  readonly listed: string[];
  readonly error: { readonly code: Code; readonly codeName: string; readonly rawMessage: string } | null;
}

const WANT = 3;
const TIMEOUT_MS = 10_000;

function typeName(t: SignalType): string {
  return SignalTypeSchema.value[t]?.name ?? `UNKNOWN_${t}`;
}

function plain(s: Signal): ReceivedSignal {
  return {
    sequence: s.sequence.toString(),
    type: typeName(s.type),
    sender: s.senderAgentId,
    recipients: [...s.recipientAgentIds],
    data: s.data ?? null,
  };
}

async function runConsort(baseUrl: string, coordinationId: string): Promise<ConsortRun> {
  const grpcWeb = createClient(SignalService, createGrpcWebTransport({ baseUrl }));
  const connect = createClient(SignalService, createConnectTransport({ baseUrl }));

  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`timed out after ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  const received: ReceivedSignal[] = [];
  let subscribed: { headSequence: string } | undefined;
  try {
    const stream = grpcWeb.subscribe(
      { coordinationId, agentId: "browser-agent", afterSequence: 0n },
      { signal: ac.signal, timeoutMs: TIMEOUT_MS },
    );
    const it: AsyncIterator<SubscribeResponse> = stream[Symbol.asyncIterator]();

    // The first message confirms the registration: everything published after it is delivered.
    const first = await it.next();
    if (first.done || first.value.subscribed === undefined) {
      throw new Error(`the first Subscribe response is not "subscribed": ${JSON.stringify(first.value ?? null)}`);
    }
    subscribed = { headSequence: first.value.subscribed.headSequence.toString() };

    await connect.publish({
      coordinationId,
      type: SignalType.AGENT_INITIALIZED,
      senderAgentId: "model-generator",
      data: { agent_id: "model-generator" },
    });
    await connect.publish({
      coordinationId,
      type: SignalType.INTER_AGENT_MESSAGE,
      senderAgentId: "model-generator",
      recipientAgentIds: ["browser-agent"],
      data: { text: "hello from the model generator" },
    });
    await connect.publish({
      coordinationId,
      type: SignalType.AGENT_COMPLETED,
      senderAgentId: "model-generator",
      data: { agent_id: "model-generator", success: true },
    });

    while (received.length < WANT) {
      const r = await it.next();
      if (r.done) throw new Error(`the Subscribe stream ended after ${received.length} signals`);
      for (const s of r.value.signals) received.push(plain(s));
    }
  } finally {
    clearTimeout(timer);
    ac.abort(); // ends the stream; the server sees the cancellation
  }

  const list = await connect.listSignals({ coordinationId }, { timeoutMs: TIMEOUT_MS });
  const listed = list.signals.map((s) => s.sequence.toString());

  let error: ConsortRun["error"] = null;
  try {
    await connect.publish({ coordinationId: "", type: SignalType.AGENT_COMPLETED }, { timeoutMs: TIMEOUT_MS });
  } catch (e) {
    const ce = ConnectError.from(e);
    error = { code: ce.code, codeName: Code[ce.code], rawMessage: ce.rawMessage };
  }

  return { subscribed: subscribed ?? { headSequence: "" }, received, listed, error };
}

/** What `runGoogleGrpcWebText` returns: the signals its Subscribe stream received, and its Publish's sequence. */
export interface GoogleRun {
  readonly received: ReceivedSignal[];
  readonly publishedSequence: string;
}

/** A grpc-web method descriptor whose messages are protobuf-es messages (grpc-web needs no generated code). */
function descriptor<I extends DescMessage, O extends DescMessage>(name: string, type: string, input: I, output: O) {
  return new MethodDescriptor<MessageShape<I>, MessageShape<O>>(
    `/consort.v1.SignalService/${name}`,
    type,
    Object as never,
    Object as never,
    (req: MessageShape<I>) => toBinary(input, req),
    (bytes: Uint8Array) => fromBinary(output, bytes),
  );
}

/**
 * Google's grpc-web client in text mode (application/grpc-web-text), the mode it uses for server streaming:
 * subscribes, publishes one signal through text-mode unary and two through Connect, and reads the three.
 */
async function runGoogleGrpcWebText(baseUrl: string, coordinationId: string): Promise<GoogleRun> {
  const client = new GrpcWebClientBase({ format: "text" });
  const connect = createClient(SignalService, createConnectTransport({ baseUrl }));
  const subscribe = descriptor("Subscribe", "server_streaming", SubscribeRequestSchema, SubscribeResponseSchema);
  const publish = descriptor("Publish", "unary", PublishRequestSchema, PublishResponseSchema);
  const received: ReceivedSignal[] = [];
  const stream = client.serverStreaming(`${baseUrl}/consort.v1.SignalService/Subscribe`, create(SubscribeRequestSchema, { coordinationId, agentId: "google-agent" }), {}, subscribe);
  try {
    const done = new Promise<void>((resolve, reject) => {
      let subscribed = false;
      stream.on("error", (e) => reject(new Error(`grpc-web error ${e.code}: ${e.message}`)));
      stream.on("data", (res) => {
        if (!subscribed && res.subscribed !== undefined) {
          subscribed = true;
          void Promise.all([
            connect.publish({ coordinationId, type: SignalType.AGENT_INITIALIZED, senderAgentId: "tester" }),
            connect.publish({ coordinationId, type: SignalType.STAGE_COMPLETED, senderAgentId: "tester" }),
          ]).catch(reject);
        }
        for (const s of res.signals) received.push(plain(s));
        if (received.length >= 3) resolve();
      });
    });
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${TIMEOUT_MS} ms with ${received.length} signals`)), TIMEOUT_MS));
    const published = await Promise.race([
      client.unaryCall(`${baseUrl}/consort.v1.SignalService/Publish`, create(PublishRequestSchema, { coordinationId: `${coordinationId}-unary`, type: SignalType.AGENT_COMPLETED }), {}, publish),
      timeout,
    ]);
    await client.unaryCall(`${baseUrl}/consort.v1.SignalService/Publish`, create(PublishRequestSchema, { coordinationId, type: SignalType.AGENT_COMPLETED, senderAgentId: "tester" }), {}, publish);
    await Promise.race([done, timeout]);
    return { received: received.slice().sort((a, b) => Number(a.sequence) - Number(b.sequence)), publishedSequence: String(published.signal?.sequence ?? "") };
  } finally {
    stream.cancel();
  }
}

(globalThis as unknown as { runConsort: typeof runConsort }).runConsort = runConsort;
(globalThis as unknown as { runGoogleGrpcWebText: typeof runGoogleGrpcWebText }).runGoogleGrpcWebText = runGoogleGrpcWebText;
