import { setMaxListeners } from "node:events";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { Config } from "./config.js";
import type { ContextMode } from "./core/context/context-backend.js";
import { createContextEngine, type ContextEngine, type ContextEngineOptions } from "./core/context/context-engine.js";
import { createCoordinationEngine, type CoordinationEngine } from "./core/coordinations/coordination-engine.js";
import { createCoordinationFeed, type CoordinationFeed } from "./core/coordinations/coordination-feed.js";
import { createDependencyEngine, type DependencyEngine, type DependencyWriteReturn } from "./core/dependencies/dependency-engine.js";
import { createRoutingEngine, type RoutingEngine } from "./core/routing/routing-engine.js";
import type { RoutingRecord } from "./core/routing/types.js";
import { startSharedPolicies, type SharedPolicies } from "./backend/nats/routing-policies.js";
import type { SignalBackend } from "./core/signals/signal-backend.js";
import { createSignalEngine, type PublishReturn, type SignalEngine } from "./core/signals/signal-engine.js";
import type { PublishInput, PublishResult } from "./core/signals/types.js";
import { startNatsSignals, type NatsSignals } from "./backend/nats/nats-signals.js";
import { createStore, type Store } from "./core/store.js";
import { createLogger } from "./logger.js";
import { createServerMetrics, type ServerMetrics } from "./metrics.js";
import { ServerShutdown } from "./binding/call-context.js";
import type { ServiceBinding } from "./binding/service-binding.js";
import { decodeRouteRequest } from "./service/route-codec.js";
import { createRoutingService, policyOversize } from "./service/routing-service.js";
import { decodePublishRequest, decodePublishStreamRequest } from "./service/publish-codec.js";
import { createSignalService } from "./service/signal-service.js";
import { structSize } from "./service/struct-codec.js";
import { contextBinarySize, contextOversize } from "./service/context-messages.js";
import { createContextService } from "./service/context-service.js";
import { createCoordinationService } from "./service/coordination-service.js";
import { createDependencyService } from "./service/dependency-service.js";
import { decodeDistributeContextRequest } from "./service/distribute-codec.js";
import { responseReserveBytes } from "./service/encoded-size.js";
import { ContextService } from "../gen/ts/consort/v1/context_pb.js";
import { CoordinationService } from "../gen/ts/consort/v1/coordination_pb.js";
import { DependencyService } from "../gen/ts/consort/v1/dependency_pb.js";
import { RoutingService } from "../gen/ts/consort/v1/routing_pb.js";
import { SignalService } from "../gen/ts/consort/v1/signal_pb.js";
import { statusDetailsBin, toWireError } from "./transport/errors.js";
import { startGrpcServer } from "./transport/grpc.js";
import { createCallObserver } from "./transport/observe.js";
import { startWebServer, type WebServer } from "./transport/web.js";

/** A running Consort server. */
export interface App {
  /** The bound native gRPC port. */
  readonly grpcPort: number;
  /** The bound HTTP/1.1 port; `undefined` when it is off (`--http-port off`). */
  readonly httpPort: number | undefined;
  /** Calls on the HTTP port whose response is not over yet. */
  readonly openWebCalls: number;
  readonly store: Store;
  /** Its publishes return promises when signals are on NATS JetStream (`--backend nats://…`). */
  readonly signals: SignalEngine<PublishReturn>;
  readonly routing: RoutingEngine;
  /** Its changes return promises when contexts are on NATS JetStream (`--backend nats://…`). */
  readonly contexts: ContextEngine<ContextMode>;
  /** Its writes return promises when dependencies are shared on NATS JetStream KV (`--backend nats://…`). */
  readonly dependencies: DependencyEngine<DependencyWriteReturn>;
  readonly coordinations: CoordinationEngine;
  /** What WatchCoordinations streams. */
  readonly coordinationFeed: CoordinationFeed;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  /**
   * Graceful shutdown: refuse publishes first, stop accepting calls, let each subscriber's stream deliver what it
   * holds (as far as its flow control allows within the grace period) and end it UNAVAILABLE with its resume
   * point, let in-flight unary calls finish, then close once every stream's trailers are out (or the grace period
   * is over); with a NATS backend, only then stop its followers and meta watch and drain the connection.
   * Idempotent.
   */
  close(): Promise<void>;
}

/** Options of {@link startApp} beyond the configuration. */
export interface AppOptions {
  /** @default a pino logger at the configured level */
  readonly logger?: Logger;
  /** Export Node.js process metrics. @default true */
  readonly processMetrics?: boolean;
  /** The built dashboard served at `/` on the HTTP port. @default dist/dashboard of the package (`npm run build`) */
  readonly dashboardDir?: string;
}

/** dist/dashboard of the package this module belongs to (found from src/ and from dist/src/ alike). */
export function packageDashboardDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, "dist", "dashboard");
}

/**
 * The signal engine as the server composes it: the configured limits, payloads measured as they travel (the
 * protobuf encoding of the data and metadata Structs), and the metrics hooks; `backend` when signals are shared
 * (in memory without it, publishing synchronously).
 */
export function createServerSignalEngine(store: Store, config: Config, metrics: ServerMetrics): SignalEngine;
export function createServerSignalEngine(store: Store, config: Config, metrics: ServerMetrics, backend: SignalBackend<Promise<PublishResult>>): SignalEngine<Promise<PublishResult>>;
export function createServerSignalEngine(store: Store, config: Config, metrics: ServerMetrics, backend?: SignalBackend<Promise<PublishResult>>): SignalEngine<PublishReturn> {
  const options = {
    store,
    limits: config.limits,
    payloadBytes: structSize,
    hooks: {
      onPublished: () => metrics.signalsPublished.inc(),
      onDelivered: (count: number, times: readonly number[]) => {
        metrics.signalsDelivered.inc(count);
        for (const ms of times) metrics.observeLater(metrics.signalPropagation, ms);
      },
      onSubscriptionsChanged: (delta: number) => metrics.activeSubscriptions.inc(delta),
    },
  };
  return backend === undefined ? createSignalEngine(options) : createSignalEngine({ ...options, backend });
}

/**
 * The one place a shared backend's "serve before use" is enforced (DESIGN.md §8): every call touching a
 * coordination (SignalService's calls, PublishStream per request, ContextService's and DependencyService's calls,
 * GetCoordination, DeleteCoordination, the dependency engine's dependency_resolved) awaits this first when it is
 * set, so a wait here hears completions published on other replicas and the dependency engine holds the gate
 * scores, resources and records shared so far (`nats.prepare` serves signals, then dependencies); it is unset in
 * memory, where those calls take no extra await. A call that must not bring a coordination into being
 * (`mayCreate` false: reads, clears, GetCoordination, DeleteCoordination) serves it only when it exists here or on
 * another replica. An id the engine will refuse (empty, too long) is left to the engine to refuse.
 */
function preparer(nats: NatsSignals, store: Store, maxIdLength: number): (coordinationId: string, mayCreate: boolean) => Promise<void> | undefined {
  return (id, mayCreate) => {
    if (id === "" || id.length > maxIdLength) return undefined;
    return mayCreate ? nats.prepare(id) : nats.prepareExisting(id, store.peek(id) !== undefined);
  };
}

/** Resolves once the engine's accepted publishes are applied or failed ({@link SignalEngine.settled}), or after `ms`. */
async function settledWithin(signals: { settled(): Promise<void> }, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([signals.settled(), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** The composition root: store → engines → services → transports. */
export async function startApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const store = createStore({ idleTtlMs: config.limits.idleCoordinationTtlMs, maxCoordinations: config.limits.maxCoordinations });
  const metrics = createServerMetrics({ coordinations: () => store.size, processMetrics: options.processMetrics ?? true });
  // A NATS backend first: a replica that cannot reach it must not start on its own.
  const nats: NatsSignals | undefined =
    config.backend.kind === "nats"
      ? await startNatsSignals({
          url: config.backend.url,
          historyLimit: config.limits.maxHistory,
          contextHistoryLimit: config.limits.contextHistory,
          onError: (err) => logger.error({ err }, "a coordination's signals, dependencies or contexts stopped being served here; its next call serves it again"),
          idle: {
            store,
            idleTtlMs: config.limits.idleCoordinationTtlMs,
            onExpired: (ids) => logger.info({ expired: ids.length }, "coordinations idle on every replica expired"),
            onError: (err) => logger.warn({ err }, "the idle sweep failed; the next one tries again"),
          },
        })
      : undefined;
  const signals = nats === undefined ? createServerSignalEngine(store, config, metrics) : createServerSignalEngine(store, config, metrics, nats.backend);
  const prepare = nats === undefined ? undefined : preparer(nats, store, config.limits.maxIdLength);
  const routingOptions = {
    store,
    limits: config.limits,
    // Every stored policy fits in one message in either encoding, so GetRoutingPolicy can always return it.
    policySize: { oversize: policyOversize(config.limits.maxMessageBytes - responseReserveBytes), maxBytes: config.limits.maxMessageBytes - responseReserveBytes },
    onRouterError: (policyId: string, strategy: string, err: unknown) => logger.warn({ policyId, strategy, err: (err as Error).message }, "router failed and was skipped"),
    onRouted: (record: RoutingRecord) => metrics.observeLater(metrics.routingDecisionTime, record.routingTimeMs),
  };
  // On NATS, policies are shared: the engine writes through them, and they apply every replica's writes to it.
  let sharedPolicies: SharedPolicies | undefined;
  const routing: RoutingEngine =
    nats === undefined
      ? createRoutingEngine(routingOptions)
      : createRoutingEngine({ ...routingOptions, policyBackend: { put: (r) => sharedPolicies!.put(r), delete: (id) => sharedPolicies!.delete(id) } });
  if (nats !== undefined) {
    try {
      sharedPolicies = await startSharedPolicies({ connection: nats.connection, target: routing, onError: (err) => logger.error({ err }, "a shared routing policy could not be applied") });
    } catch (e) {
      await nats.close();
      throw new Error(`NATS JetStream refused the routing policies bucket: ${(e as Error).message}`, { cause: e });
    }
  }
  const { maxMessageBytes } = config.limits;
  const contextOptions: ContextEngineOptions = {
    store,
    limits: config.limits,
    // Every stored context fits in one message in either encoding, so every client can read it back.
    contextSize: { oversize: contextOversize(maxMessageBytes - responseReserveBytes), maxBytes: maxMessageBytes - responseReserveBytes },
    sizeOf: contextBinarySize,
    hooks: {
      onDistributed: (_agents, ms) => metrics.observeLater(metrics.contextDistributionTime, ms),
      onWatchersChanged: (delta) => metrics.activeContextWatchers.inc(delta),
    },
  };
  // Shared contexts (issue 12): changes go through the NATS context backend, served with the signals by `prepare`.
  const contexts: ContextEngine<ContextMode> = nats === undefined ? createContextEngine(contextOptions) : createContextEngine({ ...contextOptions, backend: nats.contexts });
  const dependencies = createDependencyEngine({
    store,
    // dependency_resolved goes to a coordination served here first, like a Publish.
    signals:
      prepare === undefined
        ? signals
        : {
            addAppendListener: (listener) => signals.addAppendListener(listener),
            publish: (input: PublishInput) => prepare(input.coordinationId, true)?.then(() => signals.publish(input)) ?? signals.publish(input),
          },
    assignmentDependencies: contexts.assignmentDependencies,
    limits: config.limits,
    hooks: {
      onPendingChanged: (delta) => metrics.pendingWaits.inc(delta),
      onFinished: (status, ms) => metrics.observeLater(metrics.dependencyResolutionTime.labels(status), ms),
      onError: (err) => logger.error({ err }, "dependency_resolved or a wait's final record could not be shared"),
    },
    // Gate scores, resources and wait records shared through JetStream KV; served by `prepare` with the signals.
    ...(nats !== undefined && { backend: nats.dependencies }),
  });
  const coordinations = createCoordinationEngine({ store, signals, contexts, dependencies, limits: config.limits });
  const coordinationFeed = createCoordinationFeed({
    store,
    summarize: coordinations.summarize,
    intervalMs: config.coordinationWatchIntervalMs,
    maxWatchers: config.limits.maxSubscriptions,
    hooks: { onWatchersChanged: (delta) => metrics.activeCoordinationWatchers.inc(delta) },
  });
  const services: ServiceBinding[] = [
    {
      service: SignalService,
      impl: createSignalService({ engine: signals, maxMessageBytes, statusBytes: (err) => statusDetailsBin(toWireError(err)), ...(prepare !== undefined && { prepare }) }),
      decoders: { publish: decodePublishRequest, publishStream: decodePublishStreamRequest },
    },
    { service: RoutingService, impl: createRoutingService({ engine: routing, maxMessageBytes }), decoders: { route: decodeRouteRequest } },
    { service: ContextService, impl: createContextService({ engine: contexts, maxMessageBytes, ...(prepare !== undefined && { prepare }) }), decoders: { distributeContext: decodeDistributeContextRequest } },
    { service: DependencyService, impl: createDependencyService({ engine: dependencies, maxMessageBytes, ...(prepare !== undefined && { prepare }) }) },
    {
      service: CoordinationService,
      impl: createCoordinationService({ engine: coordinations, feed: coordinationFeed, maxMessageBytes, maxAgents: config.limits.maxPageSize, maxChanges: config.limits.maxPageSize, ...(prepare !== undefined && { prepare: (id: string) => prepare(id, false) }) }),
    },
  ];
  const observer = createCallObserver(logger, metrics);
  // One shutdown signal for every call on both ports: each handler's context signal aborts with ServerShutdown.
  // Every open call listens to it (10,000 subscriptions are 10,000 listeners): no listener cap.
  const shutdown = new AbortController();
  setMaxListeners(0, shutdown.signal);
  const common = { host: config.host, services, observer, maxMessageBytes, shutdownSignal: shutdown.signal, keepaliveMs: config.keepaliveMs };
  let grpc;
  try {
    grpc = await startGrpcServer({ ...common, port: config.grpcPort, keepaliveTimeoutMs: config.keepaliveTimeoutMs });
  } catch (e) {
    coordinationFeed.close();
    await sharedPolicies?.close();
    await nats?.close();
    throw e;
  }
  let web: WebServer | undefined;
  try {
    if (config.httpPort !== undefined) {
      web = await startWebServer({ ...common, port: config.httpPort, registry: metrics.registry, corsOrigins: config.corsOrigins, corsHeaders: config.corsHeaders, dashboardDir: options.dashboardDir ?? packageDashboardDir() });
    }
  } catch (e) {
    coordinationFeed.close();
    await grpc.close(0);
    await sharedPolicies?.close();
    await nats?.close();
    throw e;
  }
  const sweeper = setInterval(() => {
    const dropped = store.sweep();
    if (dropped > 0) logger.info({ dropped }, "idle coordinations dropped");
  }, Math.min(60_000, config.limits.idleCoordinationTtlMs));
  sweeper.unref();

  let closing: Promise<void> | undefined;
  return {
    grpcPort: grpc.port,
    httpPort: web?.port,
    get openWebCalls() {
      return web?.openCalls ?? 0;
    },
    store,
    signals,
    routing,
    contexts,
    dependencies,
    coordinations,
    coordinationFeed,
    metrics,
    logger,
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        coordinationFeed.close();
        // Publishes stop first: every signal acknowledged from here on is in the buffers the streams flush below.
        signals.stopAccepting();
        grpc.drain();
        web?.drain();
        // On NATS a publish accepted before that is applied (and acknowledged) only once its append comes back
        // through the follower: the streams end after those, so none is acknowledged after its subscribers ended.
        // In memory nothing is pending; a backend that does not answer holds the shutdown up to the grace at most.
        if (nats !== undefined) await settledWithin(signals, config.shutdownGraceMs);
        shutdown.abort(new ServerShutdown());
        await Promise.all([grpc.close(config.shutdownGraceMs), web?.close(config.shutdownGraceMs)]);
        // The streams are flushed and ended: only then stop following and drain the NATS connection.
        await sharedPolicies?.close();
        await nats?.close();
      })();
      return closing;
    },
  };
}
