// What every TypeScript example agent shares: one gRPC (HTTP/2) connection to Consort, the four service clients,
// and the calls agents repeat. Every call has a deadline, so an example never hangs.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Client, type Code } from "@connectrpc/connect";
import { createWritableIterable } from "@connectrpc/connect/protocol";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ContextService, type AgentContext } from "../../gen/ts/consort/v1/context_pb.js";
import {
  DependencySchema,
  DependencyService,
  DependencyStatus,
  type Dependency,
} from "../../gen/ts/consort/v1/dependency_pb.js";
import { RoutingService } from "../../gen/ts/consort/v1/routing_pb.js";
import {
  SignalService,
  SignalType,
  type PublishAck,
  type PublishStreamRequestSchema,
  type PublishStreamResponse,
  type Signal,
} from "../../gen/ts/consort/v1/signal_pb.js";
import type { Status } from "../../gen/ts/google/rpc/status_pb.js";

export const CALL_TIMEOUT_MS = 10_000; // unary calls
export const WAIT_TIMEOUT_S = 30; // a dependency's own timeout, and how long a stream may stay open
// ResolveDependencies' deadline is longer than its dependencies' timeouts, so that a dependency that times out is
// reported in the results (DEPENDENCY_STATUS_TIMEOUT) rather than as DEADLINE_EXCEEDED.
const RESOLVE_DEADLINE_MS = (WAIT_TIMEOUT_S + 5) * 1000;
/** The most requests a {@link Publisher} has sent whose outcome has not come back yet. */
export const PUBLISH_WINDOW = 32;
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

  /** One signal from this agent, as one unary call: for the agent's few one-off signals. An agent that publishes
   * often uses {@link openPublisher}. */
  async publish(type: SignalType, data: { [key: string]: Json }): Promise<Signal | undefined> {
    const reply = await this.signals.publish({ coordinationId: this.coord, type, senderAgentId: this.id, data }, call);
    return reply.signal;
  }

  /** Opens a PublishStream for this agent's signals (see {@link Publisher}); close it, also after a failed publish. */
  openPublisher(): Publisher {
    return new Publisher(this);
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

/** A request that PublishStream refused in-band, as Publish would have refused it: its code, message and details
 * (`findDetails(ErrorInfoSchema)`, and a BadRequest for invalid fields). The stream itself went on. */
export class PublishRefusedError extends ConnectError {
  /** @param request the request's position on the stream, from 1 */
  constructor(readonly request: number, status: Status) {
    super(`request ${request} refused: ${status.message}`, status.code as Code);
    this.details = status.details.map((d) => ({ type: d.typeUrl.slice(d.typeUrl.lastIndexOf("/") + 1), value: d.value }));
  }
}

/**
 * One agent's signals over a single PublishStream call, for an agent that publishes often: a unary Publish costs a
 * whole HTTP/2 stream per signal. At most {@link PUBLISH_WINDOW} requests are unacknowledged at a time. The server
 * answers every request with one outcome, in request order, so the n-th outcome is the n-th request's. The stream
 * stays open at most WAIT_TIMEOUT_S.
 *
 * @example
 * const publisher = agent.openPublisher();
 * await publisher.publish(SignalType.INTER_AGENT_MESSAGE, { step: 1 }); // waits only for a window slot
 * const last = await publisher.close(); // the last signal's place in the log
 */
export class Publisher {
  private readonly requests = createWritableIterable<MessageInitShape<typeof PublishStreamRequestSchema>>();
  private readonly stop = new AbortController();
  private readonly reading: Promise<void>;
  private sent = 0;
  private acked = 0;
  private lastAck: PublishAck | undefined;
  private failure: ConnectError | undefined; // the first: a PublishRefusedError or the stream's error
  private ended = false;
  private wake: (() => void) | undefined; // a publish waiting for a window slot

  constructor(private readonly agent: Agent) {
    const responses = agent.signals.publishStream(this.requests, {
      signal: AbortSignal.any([this.stop.signal, AbortSignal.timeout(WAIT_TIMEOUT_S * 1000)]),
    });
    this.reading = this.read(responses);
  }

  /** Sends one signal from the agent, after waiting while PUBLISH_WINDOW requests are unacknowledged; does not wait
   * for its own outcome. Rejects with the first failure seen so far — a PublishRefusedError naming an earlier
   * request, or the stream's error — and sends nothing once there is one; the requests sent after a refused one
   * (fewer than the window) may have been applied. */
  async publish(type: SignalType, data: { [key: string]: Json }): Promise<void> {
    while (this.sent - this.acked >= PUBLISH_WINDOW && !this.ended) await new Promise<void>((r) => (this.wake = r));
    if (this.failure) throw this.failure;
    if (this.ended) throw new Error("PublishStream ended before it was closed");
    this.sent++;
    // Not awaited: the window bounds what waits here, and a stream that fails reports it to read().
    this.requests.write({ publish: { coordinationId: this.agent.coord, type, senderAgentId: this.agent.id, data } }).catch(() => {});
  }

  /** Half-closes the stream and waits for the outcomes still to come. Resolves to the last acknowledgement
   * (undefined when there was none); rejects with the first failure: a PublishRefusedError, the stream's error, or a
   * stream that ended without an outcome for every request. */
  async close(): Promise<PublishAck | undefined> {
    this.requests.close();
    await this.reading;
    this.stop.abort();
    if (this.failure) throw this.failure;
    if (this.acked !== this.sent) throw new Error(`PublishStream ended after ${this.acked} outcomes for ${this.sent} requests`);
    return this.lastAck;
  }

  /** Gives each outcome to the oldest request still waiting for one, and frees its window slot. */
  private async read(responses: AsyncIterable<PublishStreamResponse>): Promise<void> {
    try {
      for await (const response of responses) {
        for (const { outcome } of response.outcomes) {
          this.acked++;
          if (outcome.case === "error") this.failure ??= new PublishRefusedError(this.acked, outcome.value);
          else if (outcome.case === "ack") this.lastAck = outcome.value;
          this.wake?.();
        }
      }
    } catch (e) {
      this.failure ??= ConnectError.from(e);
    } finally {
      this.ended = true;
      this.wake?.();
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
