import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Server metrics, exported on the HTTP port at `/metrics` (Prometheus text format). */
export interface ServerMetrics {
  readonly registry: Registry;
  /** RPC duration by method, status code and transport. */
  readonly rpcDuration: Histogram<"method" | "code" | "transport">;
  readonly signalsPublished: Counter;
  readonly signalsDelivered: Counter;
  readonly activeSubscriptions: Gauge;
  /** The original system's metric: publish → hand-off to a subscriber's stream, in milliseconds. */
  readonly signalPropagation: Histogram;
  /** The original system's metric: in-core routing evaluation time, in milliseconds. */
  readonly routingDecisionTime: Histogram;
}

/** Options of {@link createServerMetrics}. */
export interface ServerMetricsOptions {
  /** Called at scrape time for the number of coordinations in memory. */
  readonly coordinations: () => number;
  /** Also export Node.js process metrics. @default true */
  readonly processMetrics?: boolean;
}

/** Creates a fresh registry with Consort's metrics (one per server, so tests can run several servers). */
export function createServerMetrics(options: ServerMetricsOptions): ServerMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
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
    rpcDuration: new Histogram({
      name: "consort_rpc_duration_seconds",
      help: "RPC duration by method, status code and transport (streams: until the stream ends).",
      labelNames: ["method", "code", "transport"],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1, 5, 30, 300],
      registers,
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
    }),
    routingDecisionTime: new Histogram({
      name: "routing_decision_time_ms",
      help: "Milliseconds of in-core routing evaluation per Route call.",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
  };
}
