import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** A histogram, or one labelled child of one: what {@link ServerMetrics.observeLater} records into. */
export interface Observable {
  observe(value: number): void;
}

/** Server metrics, exported on the HTTP port at `/metrics` (Prometheus text format). */
export interface ServerMetrics {
  readonly registry: Registry;
  /**
   * Records `value` into `histogram` after the current I/O callbacks (setImmediate) instead of now: a call's
   * response reaches the socket before its metrics are recorded (prom-client's observe costs about as much as a
   * routing decision), and the calls of one event-loop turn are recorded in one loop. Scrapes record every
   * pending observation first; at most {@link maxPendingObservations} wait.
   */
  observeLater(histogram: Observable, value: number): void;
  /** RPC duration by method, status code and transport. */
  readonly rpcDuration: Histogram<"method" | "code" | "transport">;
  readonly signalsPublished: Counter;
  readonly signalsDelivered: Counter;
  readonly activeSubscriptions: Gauge;
  /** The original system's metric: publish → hand-off to a subscriber's stream, in milliseconds. */
  readonly signalPropagation: Histogram;
  /** The original system's metric: in-core routing evaluation time, in milliseconds. */
  readonly routingDecisionTime: Histogram;
  /** Open WatchAgentContext streams. */
  readonly activeContextWatchers: Gauge;
  /** Open WatchCoordinations streams. */
  readonly activeCoordinationWatchers: Gauge;
  /** The original system's metric: server time of one DistributeContext, in milliseconds. */
  readonly contextDistributionTime: Histogram;
  /** Dependency waits open on the server (a cancelled or finished call leaves none behind). */
  readonly pendingWaits: Gauge;
  /** The original system's metric: how long each dependency was waited for, by how it ended, in milliseconds. */
  readonly dependencyResolutionTime: Histogram<"status">;
}

/** Options of {@link createServerMetrics}. */
export interface ServerMetricsOptions {
  /** Called at scrape time for the number of coordinations in memory. */
  readonly coordinations: () => number;
  /** Also export Node.js process metrics. @default true */
  readonly processMetrics?: boolean;
}

/** Observations waiting for {@link ServerMetrics.observeLater}'s next flush at most; more flush at once. */
export const maxPendingObservations = 4096;

/** The queue behind {@link ServerMetrics.observeLater}. */
function createDeferredObservations() {
  const targets: Observable[] = [];
  const values: number[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    for (let i = 0; i < targets.length; i++) {
      try {
        (targets[i] as Observable).observe(values[i] as number);
      } catch {
        // prom-client refuses a value that is not finite; that observation is dropped, never the process (this
        // runs outside any call, where a throw would be an uncaught exception).
      }
    }
    targets.length = 0;
    values.length = 0;
  };
  return {
    flush,
    observeLater(histogram: Observable, value: number) {
      targets.push(histogram);
      values.push(value);
      if (targets.length >= maxPendingObservations) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
  };
}

/** Creates a fresh registry with Consort's metrics (one per server, so tests can run several servers). */
export function createServerMetrics(options: ServerMetricsOptions): ServerMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const deferred = createDeferredObservations();
  // Histograms record pending observations before they are read (prom-client calls `collect` on every scrape).
  const collect = deferred.flush;
  new Gauge({
    name: "consort_coordinations",
    help: "Coordinations held in memory.",
    registers,
    collect() {
      this.set(options.coordinations());
    },
  });
  return {
    registry,
    observeLater: deferred.observeLater,
    rpcDuration: new Histogram({
      name: "consort_rpc_duration_seconds",
      help: "RPC duration by method, status code and transport (streams: until the stream ends).",
      labelNames: ["method", "code", "transport"],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1, 5, 30, 300],
      registers,
      collect,
    }),
    signalsPublished: new Counter({ name: "consort_signals_published_total", help: "Signals appended.", registers }),
    signalsDelivered: new Counter({
      name: "consort_signals_delivered_total",
      help: "Signals handed to subscriber streams (one per signal per subscription).",
      registers,
    }),
    activeSubscriptions: new Gauge({ name: "consort_active_subscriptions", help: "Open Subscribe streams.", registers }),
    signalPropagation: new Histogram({
      name: "signal_propagation_time_ms",
      help: "Milliseconds from publish to the hand-off of the signal to a subscriber's stream.",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 50, 100, 1000],
      registers,
      collect,
    }),
    routingDecisionTime: new Histogram({
      name: "routing_decision_time_ms",
      help: "Milliseconds of in-core routing evaluation per Route call.",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
      registers,
      collect,
    }),
    activeContextWatchers: new Gauge({ name: "consort_active_context_watchers", help: "Open WatchAgentContext streams.", registers }),
    activeCoordinationWatchers: new Gauge({ name: "consort_active_coordination_watchers", help: "Open WatchCoordinations streams.", registers }),
    contextDistributionTime: new Histogram({
      name: "context_distribution_time_ms",
      help: "Milliseconds of server time per DistributeContext (validation, contexts built, watchers told).",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 50, 100, 500],
      registers,
      collect,
    }),
    pendingWaits: new Gauge({ name: "consort_pending_waits", help: "Dependency waits open on the server.", registers }),
    dependencyResolutionTime: new Histogram({
      name: "dependency_resolution_time_ms",
      help: "Milliseconds each dependency was waited for, by how it ended (resolved, failed, timeout).",
      labelNames: ["status"],
      buckets: [0.1, 1, 10, 100, 1000, 10_000, 60_000, 120_000, 600_000],
      registers,
      collect,
    }),
  };
}
