import { performance } from "node:perf_hooks";
import { ConsortError, Violations, type FieldViolation } from "../errors.js";
import { checkJson, jsonByteSize, jsonEquals, type JsonObject } from "../json.js";
import { defaultLimits, type Limits } from "../limits.js";
import { coordinationDropped, type Coordination, type Store } from "../store.js";
import { checkId, optionalId, pageSize, requireId } from "../validate.js";
import { decodePageToken, queryFingerprint } from "../page-token.js";
import { createSequenceLog, pageNewestFirst, type PageBudget, type SequenceLog } from "../sequence-log.js";
import { inMemorySignalBackend, type SignalBackend, type SignalLogView } from "./signal-backend.js";
import { createSubscription, type Subscription } from "./subscription.js";
import { createUuidSource } from "../uuid.js";
import {
  signalTypes,
  type PublishInput,
  type PublishResult,
  type SignalMetrics,
  type SignalRecord,
  type SignalType,
} from "./types.js";

/** The signal part of a coordination (its store slot): the local view a backend applies to. */
interface SignalState extends SignalLogView {
  /** Sender ids seen, each kept once (at most {@link maxInternedSenders}) and shared by their signals. */
  readonly senders: Map<string, string>;
  /** Given when the log is created (minted here, or the backend's): a sequence means something only within it. */
  readonly epoch: string;
  readonly log: SequenceLog<SignalRecord>;
  /** idempotency key → sequence, for retained signals only. */
  readonly idempotency: Map<string, number>;
  readonly subscriptions: Set<LiveSubscription>;
  /** sender → the sequence of the last signal it sent (at most `maxAgentsPerCoordination` senders). */
  readonly lastSent: Map<string, number>;
  sent: number;
  received: number;
  /** Deliveries of live signals (not replays): what the propagation figures average over. */
  liveReceived: number;
  propagationSumMs: number;
  propagationMaxMs: number;
  byType: Map<SignalType, number>;
  /** Zeroes the counters (sent, received, propagation, by type), as a clear does. */
  resetCounters(): void;
}

interface LiveSubscription {
  readonly sub: Subscription;
  readonly matches: (s: SignalRecord) => boolean;
  /** An observer's stream: every recipient's signals, and not one of the coordination's agents. */
  readonly observer: boolean;
}

/** What a subscriber asks for. */
export interface SubscribeInput {
  readonly coordinationId: string;
  readonly agentId: string;
  /** Type names; empty means all. */
  readonly types?: readonly string[];
  /** Senders; empty means all. */
  readonly senderAgentIds?: readonly string[];
  /** Replay retained signals after this sequence first; `undefined` means live only. */
  readonly afterSequence?: number;
  /** The epoch `afterSequence` belongs to; "" or unset means any. Another log's epoch is refused (EPOCH_CHANGED). */
  readonly epoch?: string;
  /** Receive signals addressed to any recipient, and do not count as an agent of the coordination. @default false */
  readonly observer?: boolean;
}

/** A registered subscription and the log position it started at. */
export interface SubscribeResult {
  readonly subscription: Subscription;
  /** Head sequence at registration. */
  readonly headSequence: number;
  /** Oldest retained sequence at registration; 0 when the history is empty. */
  readonly oldestSequence: number;
  /** The epoch of the coordination's log. */
  readonly epoch: string;
}

/** A history query. */
export interface ListSignalsInput {
  readonly coordinationId: string;
  readonly types?: readonly string[];
  readonly senderAgentId?: string;
  readonly dataEquals?: JsonObject;
  /** 0 means the default page size. */
  readonly pageSize?: number;
  readonly pageToken?: string;
  /** A bound on the page's bytes as it will be sent. @default none */
  readonly budget?: PageBudget<SignalRecord>;
}

/** A page of history, newest first. */
export interface ListSignalsResult {
  readonly signals: readonly SignalRecord[];
  readonly nextPageToken: string;
}

/** The signal part of a coordination's summary (CoordinationService). */
export interface SignalSummary {
  /** The log's epoch. */
  readonly epoch: string;
  /** Newest sequence; 0 when nothing was published. */
  readonly headSequence: number;
  /** Signals retained in the history. */
  readonly signalCount: number;
  /** Open subscriptions. */
  readonly openSubscriptions: number;
}

/** What one agent did in a coordination's log. */
export interface SignalAgentActivity {
  /** The sequence of the last signal it sent (as sender); 0 when none is known. */
  readonly lastSentSequence: number;
  /** Its open subscriptions. */
  readonly openSubscriptions: number;
}

/** Observers of the engine, for server metrics. All optional. */
export interface SignalEngineHooks {
  /** A signal was appended. */
  readonly onPublished?: (signal: SignalRecord) => void;
  /**
   * `count` signals were handed to subscribers, with the propagation time (publish → hand-off) of each live one;
   * replayed signals are counted but not timed (a resume minutes later says nothing about propagation).
   */
  readonly onDelivered?: (count: number, livePropagationMs: readonly number[]) => void;
  /** Open subscriptions changed by `delta`. */
  readonly onSubscriptionsChanged?: (delta: number) => void;
}

/** What a publish returns: the result itself (in-memory backend) or a promise of it (a shared backend). */
export type PublishReturn = PublishResult | Promise<PublishResult>;

/** What ClearSignals did: signals dropped here, and the head numbering continues from. */
export interface ClearedSignals {
  readonly cleared: number;
  readonly headSequence: number;
}

/** What a clear returns: like a publish, the result itself in memory, a promise of it for a shared backend. */
export type ClearReturn<R extends PublishReturn> = R extends Promise<unknown> ? Promise<ClearedSignals> : ClearedSignals;

/** Options of {@link createSignalEngine}. */
export interface SignalEngineOptions<R extends PublishReturn = PublishResult> {
  /** @default a new store */
  readonly store: Store;
  /** @default defaultLimits */
  readonly limits?: Limits;
  readonly hooks?: SignalEngineHooks;
  /** Clock in milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
  /**
   * How a payload (`data`, `metadata`) is measured against `maxPayloadBytes`: the bytes it takes when sent. An
   * unset field counts 0. @default its JSON size
   */
  readonly payloadBytes?: (payload: JsonObject) => number;
  /** Where appends go (DESIGN.md §8). @default inMemorySignalBackend */
  readonly backend?: SignalBackend<R>;
}

/**
 * The signal engine: per-coordination logs, subscriptions and fan-out (SPEC.md §1, DESIGN.md §2–§3). `R` is what
 * its backend's appends return: `PublishResult` in memory (the default), so `publish` is synchronous; a promise for
 * a shared backend. Code serving either takes a `SignalEngine<PublishReturn>`.
 */
export interface SignalEngine<R extends PublishReturn = PublishResult> {
  /**
   * Validates and appends a signal, then offers it to every matching subscription without waiting. Each call
   * below takes `found`: violations the caller found while decoding the request, reported with the engine's own
   * in one `invalid` error (nothing is done when there is any). Invalid input throws, whatever the backend; a
   * retry found in the local view is answered synchronously; otherwise the backend's result is returned as it
   * is (see {@link SignalBackend}): a promise only from a shared backend, resolved once the signal is applied
   * locally.
   */
  publish(input: PublishInput, found?: readonly FieldViolation[]): R | PublishResult;
  /**
   * Throws what {@link publish} would refuse `input` with before it touches any coordination (shutting down,
   * invalid fields), and does nothing otherwise. With a shared backend the caller checks before it serves the
   * coordination here, so that a refused publish brings no coordination into being (as in memory).
   */
  checkPublish(input: PublishInput, found?: readonly FieldViolation[]): void;
  /** Registers a subscription; with `afterSequence`, it replays retained signals first. */
  subscribe(input: SubscribeInput, found?: readonly FieldViolation[]): SubscribeResult;
  /** Like {@link checkPublish}, for {@link subscribe}: invalid fields, the server's subscription limit. */
  checkSubscribe(input: SubscribeInput, found?: readonly FieldViolation[]): void;
  /** History, newest first, filtered and paginated. */
  list(input: ListSignalsInput, found?: readonly FieldViolation[]): ListSignalsResult;
  /** Counters of a coordination; zeros when unknown. */
  metrics(coordinationId: string): SignalMetrics;
  /** The coordination's newest sequence; 0 when unknown or nothing was published. */
  headSequence(coordinationId: string): number;
  /**
   * Drops history, keys and metrics; sequences continue. In memory, at once; with a shared backend
   * ({@link SignalBackend.clear}), on every replica, and the promise resolves once this one's view is cleared.
   */
  clear(coordinationId: string): ClearReturn<R>;
  /**
   * Calls `listener` with every signal appended from now on, synchronously within its publish, before any
   * subscriber is offered it (how the dependency engine sees completions the moment they land). Returns the
   * function that removes it.
   */
  addAppendListener(listener: (signal: SignalRecord) => void): () => void;
  /**
   * Refuses every later publish (UNAVAILABLE, SHUTTING_DOWN), storing nothing: the first step of a shutdown, so
   * that what subscribers hold when their streams are flushed is every signal ever acknowledged.
   */
  stopAccepting(): void;
  /**
   * Resolves once every publish accepted so far has been applied here or has failed. In memory a publish is applied
   * before it returns, so at once; with a shared backend an accepted publish is applied only when its append comes
   * back through the follower, so a shutdown awaits this after {@link stopAccepting} and before it ends the
   * streams: what they flush is then every signal acknowledged. Never rejects.
   */
  settled(): Promise<void>;
  /** The coordination's log in figures; `undefined` when it has none (never published to nor subscribed). */
  summary(coordinationId: string): SignalSummary | undefined;
  /**
   * Per agent: the last sequence it sent and its open subscriptions. The senders remembered are bounded by
   * `maxAgentsPerCoordination` (beyond it, the one first heard longest ago is forgotten).
   */
  agentActivity(coordinationId: string): ReadonlyMap<string, SignalAgentActivity>;
  /** Open subscriptions on the server. */
  readonly subscriptionCount: number;
}

const typeSet: ReadonlySet<string> = new Set(signalTypes);
/** Entries a list of signal types may hold (there are six types; a few repeats are tolerated). */
const maxTypeFilters = 64;

/** Records a violation when `list` holds more than `max` entries; returns whether it is within the bound. */
function listBound(v: Violations, field: string, list: readonly unknown[] | undefined, max: number): boolean {
  if ((list?.length ?? 0) <= max) return true;
  v.add(field, `must hold at most ${max} entries, got ${list?.length}`);
  return false;
}
const SLOT = "signals";

/** Distinct sender ids a coordination shares among its signals; beyond it, each signal keeps its own copy. */
const maxInternedSenders = 1024;
const noRecipients: readonly string[] = Object.freeze([]);
const emptyJson: JsonObject = Object.freeze({});

/** The one shared copy of `sender` in the coordination (most coordinations have a few senders, repeated). */
function internSender(st: SignalState, sender: string): string {
  const known = st.senders.get(sender);
  if (known !== undefined) return known;
  if (st.senders.size < maxInternedSenders) st.senders.set(sender, sender);
  return sender;
}

/** `json`, or one shared frozen `{}` when it is unset or empty (most metadata is). */
function compactJson(json: JsonObject | undefined): JsonObject {
  if (json === undefined) return emptyJson;
  for (const _ in json) return json;
  return emptyJson;
}

function parseTypes(v: Violations, field: string, types: readonly string[] | undefined): ReadonlySet<SignalType> {
  const out = new Set<SignalType>();
  (types ?? []).forEach((t, i) => {
    if (typeSet.has(t)) out.add(t as SignalType);
    else v.add(`${field}[${i}]`, `must be one of ${signalTypes.join(", ")}; got ${JSON.stringify(t)}`);
  });
  return out;
}

/** Creates a {@link SignalEngine} over a shared store. */
export function createSignalEngine<R extends PublishReturn = PublishResult>(options: SignalEngineOptions<R>): SignalEngine<R> {
  const { store } = options;
  const backend = options.backend ?? (inMemorySignalBackend as SignalBackend<PublishResult> as SignalBackend<R>);
  const limits = options.limits ?? defaultLimits;
  const nextId = createUuidSource();
  const hooks = options.hooks ?? {};
  const now = options.now ?? Date.now;
  const payloadBytes = options.payloadBytes ?? jsonByteSize;
  let subscriptionCount = 0;
  let nextSubscription = 1;
  const appendListeners = new Set<(signal: SignalRecord) => void>();
  let stopped = false;
  /**
   * Whether the backend applies to the views itself (it has `connect`: a shared one): it applies a signal after
   * the publish's `acquire` told the store's change listeners (this replica's own, a round trip later) or with no
   * publish here at all (another replica's), so each applied signal tells them itself. In memory the `acquire`
   * is in the same synchronous step as the apply, and tells them.
   */
  const shared = backend.connect !== undefined;
  /** A shared backend's appends not yet applied or failed (always empty in memory): what `settled` awaits. */
  const appending = new Set<Promise<PublishResult>>();

  /**
   * A coordination's local log. A class made per engine: its methods are shared by every coordination (no closures
   * per coordination) and see the engine's limits, hooks and listeners.
   */
  class LocalLog implements SignalState {
    readonly senders = new Map<string, string>();
    readonly epoch: string;
    readonly log = createSequenceLog<SignalRecord>(limits.maxHistory);
    readonly idempotency = new Map<string, number>();
    readonly subscriptions = new Set<LiveSubscription>();
    readonly lastSent = new Map<string, number>();
    sent = 0;
    received = 0;
    liveReceived = 0;
    propagationSumMs = 0;
    propagationMaxMs = 0;
    byType = new Map<SignalType, number>();
    constructor(readonly coordinationId: string) {
      this.epoch = backend.epochOf === undefined ? nextId() : backend.epochOf(coordinationId);
    }

    get head(): number {
      return this.log.head;
    }

    byKey(key: string): SignalRecord | undefined {
      const seq = this.idempotency.get(key);
      return seq === undefined ? undefined : this.log.get(seq);
    }

    clearThrough(sequence: number): number {
      const before = this.log.head;
      const cleared = this.log.clear(sequence);
      if (cleared === 0 && this.log.head === before) return 0;
      for (const [key, seq] of this.idempotency) if (seq <= sequence) this.idempotency.delete(key);
      this.resetCounters();
      return cleared;
    }

    resetCounters(): void {
      this.sent = 0;
      this.received = 0;
      this.liveReceived = 0;
      this.propagationSumMs = 0;
      this.propagationMaxMs = 0;
      this.byType = new Map();
    }

    apply(signal: SignalRecord): void {
      const evicted = this.log.append(signal);
      if (evicted !== undefined && evicted.idempotencyKey !== "" && this.idempotency.get(evicted.idempotencyKey) === evicted.sequence) {
        this.idempotency.delete(evicted.idempotencyKey);
      }
      // A second signal under a key the view holds (another replica's, raced in) keeps the key on the first.
      if (signal.idempotencyKey !== "" && !this.idempotency.has(signal.idempotencyKey)) this.idempotency.set(signal.idempotencyKey, signal.sequence);
      this.sent++;
      // Setting a known sender keeps its place (and the size); only a new one can pass the bound.
      this.lastSent.set(signal.senderAgentId, signal.sequence);
      if (this.lastSent.size > limits.maxAgentsPerCoordination) this.lastSent.delete(this.lastSent.keys().next().value!);
      this.byType.set(signal.type, (this.byType.get(signal.type) ?? 0) + 1);
      hooks.onPublished?.(signal);
      if (shared) {
        const c = store.peek(this.coordinationId);
        if (c !== undefined) store.changed(c);
      }
      for (const listener of appendListeners) listener(signal);
      if (this.subscriptions.size > 0) {
        const at = performance.now();
        for (const live of this.subscriptions) {
          if (live.matches(signal)) live.sub.offer(signal, at);
        }
      }
    }
  }

  const stateOf = (c: Coordination): SignalState => {
    let s = c.slots[SLOT] as SignalState | undefined;
    if (s === undefined) {
      s = new LocalLog(c.id);
      c.slots[SLOT] = s;
    }
    return s;
  };
  const peekState = (id: string) => store.peek(id)?.slots[SLOT] as SignalState | undefined;
  // A backend with `clear` is a shared one (its appends return promises): its clears answer with a promise too.
  const done = (r: ClearedSignals) => (backend.clear === undefined ? r : Promise.resolve(r)) as ClearReturn<R>;
  backend.connect?.({ view: peekState, open: (id) => stateOf(store.acquire(id)), drop: (id, reason) => void store.delete(id, reason) });
  const coordinationIdOf = (v: Violations, id: string) => requireId(v, "coordination_id", id, limits.maxIdLength);
  const checkCoordinationId = (id: string) => checkId("coordination_id", id, limits.maxIdLength);

  // A dropped coordination's subscriptions end at once (the transport's interrupt, where set, ends the stream
  // without waiting for the client to read), each with its resume point and the epoch that is gone.
  store.onDrop((c, reason) => {
    const st = c.slots[SLOT] as SignalState | undefined;
    if (st === undefined) return;
    for (const live of [...st.subscriptions]) {
      live.sub.end(coordinationDropped(c.id, reason, { epoch: st.epoch, last_delivered_sequence: String(live.sub.lastDelivered) }));
    }
    backend.drop?.(st, reason);
  });

  /** Publish's checks of its input, before it touches any coordination: its refusals, or the parsed fields. */
  const checkedPublish = (input: PublishInput, found: readonly FieldViolation[] | undefined) => {
    if (stopped) {
      throw new ConsortError("unavailable", "server is shutting down: the signal was not stored; publish it again to a running server", { reason: "SHUTTING_DOWN" });
    }
    const v = new Violations(found);
    coordinationIdOf(v, input.coordinationId);
    if (!typeSet.has(input.type)) v.add("type", `must be one of ${signalTypes.join(", ")}; got ${JSON.stringify(input.type)}`);
    const sender = optionalId(v, "sender_agent_id", input.senderAgentId ?? "", limits.maxIdLength) || "system";
    const recipients = input.recipientAgentIds ?? [];
    if (recipients.length > limits.maxRecipients) {
      v.add("recipient_agent_ids", `must hold at most ${limits.maxRecipients} ids, got ${recipients.length}`);
    } else {
      recipients.forEach((r, i) => requireId(v, `recipient_agent_ids[${i}]`, r, limits.maxIdLength));
    }
    const key = optionalId(v, "idempotency_key", input.idempotencyKey ?? "", limits.maxIdLength);
    checkJson(v, "data", input.data, limits.maxJsonDepth);
    checkJson(v, "metadata", input.metadata, limits.maxJsonDepth);
    const payload = (input.data === undefined ? 0 : payloadBytes(input.data)) + (input.metadata === undefined ? 0 : payloadBytes(input.metadata));
    if (payload > limits.maxPayloadBytes) {
      v.add(input.data === undefined ? "metadata" : "data", `data and metadata must be at most ${limits.maxPayloadBytes} bytes together (encoded), got ${payload}`);
    }
    v.throwIfAny();
    return { sender, recipients, key };
  };

  /** Subscribe's checks of its input, before it looks at any coordination: its refusals, or the parsed fields. */
  const checkedSubscribe = (input: SubscribeInput, found: readonly FieldViolation[] | undefined) => {
    const v = new Violations(found);
    coordinationIdOf(v, input.coordinationId);
    const agentId = requireId(v, "agent_id", input.agentId, limits.maxIdLength);
    const observer = input.observer === true;
    const types = listBound(v, "types", input.types, maxTypeFilters) ? parseTypes(v, "types", input.types) : new Set<SignalType>();
    const senders = new Set(input.senderAgentIds ?? []);
    if (listBound(v, "sender_agent_ids", input.senderAgentIds, limits.maxRecipients)) {
      (input.senderAgentIds ?? []).forEach((s, i) => requireId(v, `sender_agent_ids[${i}]`, s, limits.maxIdLength));
    }
    const after = input.afterSequence;
    if (after !== undefined && (!Number.isSafeInteger(after) || after < 0)) v.add("after_sequence", `must be a non-negative integer, got ${after}`);
    // Epochs are server-minted UUIDs: bounded by the contract's 100 characters, whatever the id limit.
    const epoch = optionalId(v, "epoch", input.epoch ?? "", 100);
    v.throwIfAny();
    if (subscriptionCount >= limits.maxSubscriptions) {
      throw new ConsortError("exhausted", `the server holds its limit of ${limits.maxSubscriptions} subscriptions`, {
        reason: "TOO_MANY_SUBSCRIPTIONS",
        metadata: { limit: String(limits.maxSubscriptions) },
      });
    }
    return { agentId, observer, types, senders, after, epoch };
  };

  return {
    get subscriptionCount() {
      return subscriptionCount;
    },

    stopAccepting() {
      stopped = true;
    },

    async settled() {
      await Promise.allSettled([...appending]);
    },

    addAppendListener(listener) {
      appendListeners.add(listener);
      return () => appendListeners.delete(listener);
    },

    publish(input, found) {
      const { sender, recipients, key } = checkedPublish(input, found);
      const data = compactJson(input.data);
      const metadata = compactJson(input.metadata);

      const c = store.acquire(input.coordinationId);
      const st = stateOf(c);
      if (key !== "") {
        const original = st.byKey(key);
        if (original !== undefined) return { signal: original, duplicate: true };
      }
      // Retained by the million: strings every signal of the coordination repeats are shared, not copied.
      const signal: SignalRecord = {
        signalId: nextId(),
        coordinationId: c.id,
        sequence: st.log.head + 1,
        type: input.type as SignalType,
        senderAgentId: internSender(st, sender),
        recipientAgentIds: recipients.length === 0 ? noRecipients : recipients.slice(),
        createdAt: now(),
        data,
        metadata,
        idempotencyKey: key,
        epoch: st.epoch,
      };
      const result = backend.append(st, signal);
      if (result instanceof Promise) {
        appending.add(result);
        const done = () => void appending.delete(result);
        result.then(done, done);
      }
      return result;
    },

    checkPublish(input, found) {
      checkedPublish(input, found);
    },

    subscribe(input, found) {
      const { agentId, observer, types, senders, after, epoch } = checkedSubscribe(input, found);
      // Checked against the log as it is, before anything is created: a subscription refused here leaves no
      // coordination behind.
      const existingState = peekState(input.coordinationId);
      const existing = existingState?.log;
      const head = existing?.head ?? 0;
      const oldest = existing?.oldest ?? 1;
      // The epoch qualifies `after_sequence`: a live-only subscription has no position to be wrong about.
      if (after !== undefined && epoch !== "" && epoch !== existingState?.epoch) {
        const current = existingState?.epoch ?? "";
        throw new ConsortError(
          "failed_precondition",
          current === ""
            ? `coordination ${input.coordinationId} has no log now (epoch ${epoch} is gone: the server restarted or the coordination expired); subscribe without epoch and after_sequence to start over`
            : `coordination ${input.coordinationId}'s log is epoch ${current}, not ${epoch} (the server restarted or the coordination expired and was created again); its sequences are not those of the log you followed`,
          {
            reason: "EPOCH_CHANGED",
            metadata: { epoch: current, oldest_sequence: String(existing !== undefined && existing.size > 0 ? oldest : 0), head_sequence: String(head) },
          },
        );
      }
      if (after !== undefined) {
        if (after > head) {
          throw new ConsortError("out_of_range", `after_sequence ${after} is beyond the head sequence ${head} of coordination ${input.coordinationId}`, {
            reason: "SEQUENCE_AHEAD",
            metadata: { head_sequence: String(head) },
          });
        }
        if (after + 1 < oldest && after < head) {
          throw new ConsortError("out_of_range", `after_sequence ${after} is older than the retained history; the oldest retained sequence is ${oldest}`, {
            reason: "HISTORY_TRIMMED",
            metadata: { oldest_sequence: String(oldest), head_sequence: String(head) },
          });
        }
      }
      const c = store.acquire(input.coordinationId);
      const st = stateOf(c);
      const { log } = st;
      const matches = (s: SignalRecord) =>
        (types.size === 0 || types.has(s.type)) &&
        (senders.size === 0 || senders.has(s.senderAgentId)) &&
        (observer || s.recipientAgentIds.length === 0 || s.recipientAgentIds.includes(agentId));
      const onDeliver = (batch: readonly SignalRecord[], liveOfferedAt: readonly number[]) => {
        st.received += batch.length;
        st.liveReceived += liveOfferedAt.length;
        const times: number[] = [];
        if (liveOfferedAt.length > 0) {
          const t = performance.now();
          for (const at of liveOfferedAt) {
            const ms = t - at;
            times.push(ms);
            st.propagationSumMs += ms;
            if (ms > st.propagationMaxMs) st.propagationMaxMs = ms;
          }
        }
        hooks.onDelivered?.(batch.length, times);
      };
      // Registration and the head snapshot happen in one synchronous step: every later publish is offered live,
      // every earlier one is in the replay range, so nothing is missed or delivered twice.
      const live: LiveSubscription = {
        matches,
        observer,
        sub: createSubscription({
          id: `sub-${nextSubscription++}`,
          agentId,
          log,
          matches,
          replayFrom: after === undefined ? log.head + 1 : after + 1,
          replayTo: log.head,
          bufferSize: limits.subscriberBuffer,
          onDeliver,
          onClose: () => {
            st.subscriptions.delete(live);
            c.pins--;
            c.lastActivity = now();
            store.changed(c);
            subscriptionCount--;
            hooks.onSubscriptionsChanged?.(-1);
          },
        }),
      };
      st.subscriptions.add(live);
      c.pins++;
      subscriptionCount++;
      hooks.onSubscriptionsChanged?.(1);
      return { subscription: live.sub, headSequence: log.head, oldestSequence: log.size > 0 ? log.oldest : 0, epoch: st.epoch };
    },

    checkSubscribe(input, found) {
      checkedSubscribe(input, found);
    },

    list(input, found) {
      const v = new Violations(found);
      coordinationIdOf(v, input.coordinationId);
      const types = listBound(v, "types", input.types, maxTypeFilters) ? parseTypes(v, "types", input.types) : new Set<SignalType>();
      const sender = optionalId(v, "sender_agent_id", input.senderAgentId ?? "", limits.maxIdLength);
      const size = pageSize(v, input.pageSize ?? 0, limits.maxPageSize);
      const dataEquals = Object.entries(input.dataEquals ?? {});
      checkJson(v, "data_equals", input.dataEquals, limits.maxJsonDepth);
      const fingerprint = queryFingerprint([input.coordinationId, [...types].sort(), sender, input.dataEquals ?? {}]);
      const before = decodePageToken<number>(v, input.pageToken ?? "", fingerprint, "number");
      v.throwIfAny();
      const page = pageNewestFirst(peekState(input.coordinationId)?.log, {
        size,
        before,
        fingerprint,
        matches: (s) =>
          (types.size === 0 || types.has(s.type)) &&
          (sender === "" || s.senderAgentId === sender) &&
          dataEquals.every(([k, value]) => Object.hasOwn(s.data, k) && jsonEquals(s.data[k], value)),
        ...(input.budget !== undefined && { budget: input.budget }),
      });
      return { signals: page.items, nextPageToken: page.nextPageToken };
    },

    metrics(coordinationId) {
      checkCoordinationId(coordinationId);
      const st = peekState(coordinationId);
      if (st === undefined) {
        return {
          totalSignalsSent: 0,
          totalSignalsReceived: 0,
          averagePropagationMs: 0,
          maxPropagationMs: 0,
          signalsByType: {},
          headSequence: 0,
          oldestSequence: 0,
          activeSubscriptions: 0,
        };
      }
      return {
        totalSignalsSent: st.sent,
        totalSignalsReceived: st.received,
        averagePropagationMs: st.liveReceived === 0 ? 0 : st.propagationSumMs / st.liveReceived,
        maxPropagationMs: st.propagationMaxMs,
        signalsByType: Object.fromEntries(st.byType),
        headSequence: st.log.head,
        oldestSequence: st.log.size > 0 ? st.log.oldest : 0,
        activeSubscriptions: st.subscriptions.size,
      };
    },

    headSequence(coordinationId) {
      return peekState(coordinationId)?.log.head ?? 0;
    },

    summary(coordinationId) {
      const st = peekState(coordinationId);
      if (st === undefined) return undefined;
      // Counted as agentActivity counts them: a subscription ended (cut, or its coordination dropped) is not open,
      // even before its stream has closed it.
      let open = 0;
      for (const live of st.subscriptions) if (live.sub.endedWith === undefined) open++;
      return { epoch: st.epoch, headSequence: st.log.head, signalCount: st.log.size, openSubscriptions: open };
    },

    agentActivity(coordinationId) {
      const out = new Map<string, SignalAgentActivity>();
      const st = peekState(coordinationId);
      if (st === undefined) return out;
      for (const [agentId, lastSentSequence] of st.lastSent) out.set(agentId, { lastSentSequence, openSubscriptions: 0 });
      for (const live of st.subscriptions) {
        if (live.sub.endedWith !== undefined || live.observer) continue;
        const a = out.get(live.sub.agentId);
        out.set(live.sub.agentId, { lastSentSequence: a?.lastSentSequence ?? 0, openSubscriptions: (a?.openSubscriptions ?? 0) + 1 });
      }
      return out;
    },

    clear(coordinationId) {
      checkCoordinationId(coordinationId);
      const c = store.peek(coordinationId);
      const st = peekState(coordinationId);
      if (c === undefined || st === undefined) return done({ cleared: 0, headSequence: 0 });
      c.lastActivity = now();
      store.changed(c);
      if (backend.clear === undefined) {
        const cleared = st.clearThrough(st.head);
        st.resetCounters();
        return done({ cleared, headSequence: st.head });
      }
      const size = st.log.size;
      const cleared = backend.clear(st);
      const result = () => ({ cleared: size - st.log.size, headSequence: st.head });
      return (cleared instanceof Promise ? cleared.then(result) : result()) as ClearReturn<R>;
    },
  };
}
