// Browser code of the browser test: bundled by esbuild (platform browser, format esm) and loaded by index.html.
// It exposes `runConsort(baseUrl, coordinationId)`, which talks to Consort from a different origin (so through
// CORS) with both browser protocols: gRPC-Web for the Subscribe stream, Connect for the unary calls.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { SignalService, SignalType, SignalTypeSchema, type Signal, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";

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

(globalThis as unknown as { runConsort: typeof runConsort }).runConsort = runConsort;
