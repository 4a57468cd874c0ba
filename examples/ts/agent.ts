// What every TypeScript example agent shares: one gRPC (HTTP/2) connection to Consort, the four service clients,
// and the calls agents repeat. Every call has a deadline, so an example never hangs.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ContextService, type AgentContext } from "../../gen/ts/consort/v1/context_pb.js";
import {
  DependencySchema,
  DependencyService,
  DependencyStatus,
  type Dependency,
} from "../../gen/ts/consort/v1/dependency_pb.js";
import { RoutingService } from "../../gen/ts/consort/v1/routing_pb.js";
import { SignalService, SignalType, type Signal } from "../../gen/ts/consort/v1/signal_pb.js";

export const CALL_TIMEOUT_MS = 10_000; // unary calls
export const WAIT_TIMEOUT_S = 30; // a dependency's own timeout, and how long a stream may stay open
// ResolveDependencies' deadline is longer than its dependencies' timeouts, so that a dependency that times out is
// reported in the results (DEPENDENCY_STATUS_TIMEOUT) rather than as DEADLINE_EXCEEDED.
const RESOLVE_DEADLINE_MS = (WAIT_TIMEOUT_S + 5) * 1000;
const call = { timeoutMs: CALL_TIMEOUT_MS };
// Streams are bounded by an AbortSignal.timeout rather than `timeoutMs`: connect clears its deadline timer only when
// the stream is read to its end, so a stream left early (as here, once the awaited message arrived) would keep the
// process alive until the deadline.

type Json = { [key: string]: Json } | Json[] | string | number | boolean | null;

/** One agent process: its id (the role it was started as), its coordination and the four service clients. */
export class Agent {
  readonly signals: Client<typeof SignalService>;
  readonly contexts: Client<typeof ContextService>;
  readonly dependencies: Client<typeof DependencyService>;
  readonly routing: Client<typeof RoutingService>;

  constructor(readonly id: string, addr: string, readonly coord: string) {
    const transport = createGrpcTransport({ baseUrl: `http://${addr}` });
    this.signals = createClient(SignalService, transport);
    this.contexts = createClient(ContextService, transport);
    this.dependencies = createClient(DependencyService, transport);
    this.routing = createClient(RoutingService, transport);
  }

  say(line: string): void {
    console.log(line);
  }

  async publish(type: SignalType, data: { [key: string]: Json }): Promise<Signal | undefined> {
    const reply = await this.signals.publish({ coordinationId: this.coord, type, senderAgentId: this.id, data }, call);
    return reply.signal;
  }

  /** WatchAgentContext instead of polling: the first message is the agent's current state — its context, or
   * `absent` when it has none yet — and a context distributed later arrives on the same stream. */
  async waitForContext(): Promise<AgentContext> {
    const stop = new AbortController(); // ends the watch once the context is here
    try {
      const watch = this.contexts.watchAgentContext(
        { coordinationId: this.coord, agentId: this.id },
        { signal: AbortSignal.any([stop.signal, AbortSignal.timeout(WAIT_TIMEOUT_S * 1000)]) },
      );
      for await (const message of watch) {
        if (message.state.case === "context") return message.state.value;
        this.say("No context yet, watching for it...");
      }
    } finally {
      stop.abort();
    }
    throw new Error("WatchAgentContext ended without a context");
  }

  /** Subscribe to `agent_completed` signals from `sender`. afterSequence 0 replays the retained history first, so a
   * completion published before this subscription registered is not missed; the first message, `subscribed`,
   * confirms the registration. */
  async waitForCompletionOf(sender: string): Promise<Signal> {
    const stop = new AbortController(); // ends the subscription
    try {
      const stream = this.signals.subscribe(
        { coordinationId: this.coord, agentId: this.id, types: [SignalType.AGENT_COMPLETED], senderAgentIds: [sender], afterSequence: 0n },
        { signal: AbortSignal.any([stop.signal, AbortSignal.timeout(WAIT_TIMEOUT_S * 1000)]) },
      );
      for await (const message of stream) {
        if (message.subscribed) this.say(`Subscribed, waiting for ${sender}`);
        const [signal] = message.signals;
        if (signal) return signal;
      }
    } finally {
      stop.abort();
    }
    throw new Error(`Subscribe ended before ${sender} completed`);
  }

  /** ResolveDependencies: waits for all of them together; fails unless every one resolved. */
  async resolve(dependencies: Dependency[]): Promise<void> {
    const reply = await this.dependencies.resolveDependencies(
      { coordinationId: this.coord, agentId: this.id, dependencies },
      { timeoutMs: RESOLVE_DEADLINE_MS },
    );
    if (!reply.success) {
      const why = reply.results.map((r) => `${r.dependencyId} ${DependencyStatus[r.status]} ${r.message}`);
      throw new Error(`dependencies not resolved: ${why.join("; ")}`);
    }
  }
}

/** A dependency on `target`, with the examples' timeout. */
export const dependency = (dependencyId: string, target: NonNullable<MessageInitShape<typeof DependencySchema>["target"]>): Dependency =>
  create(DependencySchema, { dependencyId, target, timeout: { seconds: BigInt(WAIT_TIMEOUT_S) } });

/** Waits for an `agent_completed` signal whose sender or data.agent_id is `agentId` (require_success: default). */
export const completion = (agentId: string, dependencyId = agentId): Dependency =>
  dependency(dependencyId, { case: "agentCompletion", value: { agentId } });

export function describe(context: AgentContext): string {
  const a = context.agentAssignment;
  const deps = a?.dependencies.join(", ") || "nothing";
  return `Context v${context.contextVersion}: ${a?.objective}; tasks ${a?.tasks.join(", ")}; depends on ${deps}`;
}
