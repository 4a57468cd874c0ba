import { parseArgs } from "node:util";
import { defaultLimits, type Limits } from "./core/limits.js";
import { responseReserveBytes } from "./service/encoded-size.js";
import { signalBytesBound } from "./service/signal-size-bound.js";

/** The server's validated configuration. */
export interface Config {
  /** Address both ports bind. @default "127.0.0.1" */
  readonly host: string;
  /** Native gRPC port (0 picks a free one). @default 50051 */
  readonly grpcPort: number;
  /**
   * HTTP/1.1 port: Connect, gRPC-Web, /metrics, /healthz (0 picks a free one); `undefined` (`--http-port off`)
   * serves no HTTP port at all: no browsers, no /metrics (the gRPC port's health service stays). @default 8080
   */
  readonly httpPort: number | undefined;
  /** pino level. @default "info" */
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Milliseconds in-flight calls get to finish on shutdown. @default 10000 */
  readonly shutdownGraceMs: number;
  /** Browser origins allowed by CORS on the HTTP port; `*` for any. @default [] */
  readonly corsOrigins: readonly string[];
  /**
   * Request headers an allowed origin's page may send beyond the protocols' own (answered in CORS preflights):
   * credentials and custom headers for auth or tracing. @default ["Authorization"]
   */
  readonly corsHeaders: readonly string[];
  /**
   * Milliseconds between keepalive probes of a quiet connection (HTTP/2 pings on the gRPC port, TCP keepalive on
   * the HTTP port), so a peer that vanished without closing its connection is dropped, its streams ended.
   * @default 30000
   */
  readonly keepaliveMs: number;
  /** Milliseconds a gRPC keepalive ping may go unanswered before the connection is closed. @default 10000 */
  readonly keepaliveTimeoutMs: number;
  /**
   * Milliseconds WatchCoordinations coalesces changes over: a coordination changed many times within one interval
   * is sent once, with its figures at the end of it. @default 250
   */
  readonly coordinationWatchIntervalMs: number;
  /**
   * Where signals are kept: this process's memory (the default), or NATS JetStream at a `nats://host:port` server,
   * shared by every replica on it (issue 12: signals only so far). @default { kind: "memory" }
   */
  readonly backend: BackendConfig;
  /** Every limit of DESIGN.md §4. */
  readonly limits: Limits;
}

/** The signal backend: in memory, or NATS JetStream at `url` (`nats://host:port`). */
export type BackendConfig = { readonly kind: "memory" } | { readonly kind: "nats"; readonly url: string };

/** `memory`, or `nats://host:port` with a host and a port from 1 to 65535 (nothing else: no credentials, no path). */
export function parseBackend(v: string): BackendConfig {
  if (v === "memory") return { kind: "memory" };
  const m = /^nats:\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/.exec(v);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || port < 1 || port > 65535) {
    throw new ConfigError(`--backend: must be memory or nats://host:port, got ${JSON.stringify(v)}`);
  }
  return { kind: "nats", url: v };
}

/** One configuration option: its flag, environment variable, default and rule. */
interface OptionSpec {
  readonly flag: string;
  readonly env: string;
  readonly help: string;
  readonly default: string;
  readonly apply: (value: string, into: Mutable) => void;
}
type Mutable = { -readonly [K in Exclude<keyof Config, "limits">]: Config[K] } & { limits: { -readonly [K in keyof Limits]: Limits[K] } };

/** A bad option value: the message names the option and the rule. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

function int(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new ConfigError(`${name}: must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    return n;
  };
}
const limit = (key: keyof Limits, flag: string, help: string, min: number, max: number): OptionSpec => ({
  flag,
  env: `CONSORT_${flag.toUpperCase().replaceAll("-", "_")}`,
  help,
  default: String(defaultLimits[key]),
  apply: (v, c) => {
    c.limits[key] = int(`--${flag}`, min, max)(v);
  },
});
const levels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Every option, in the order `--help` and the README list them. */
export const optionSpecs: readonly OptionSpec[] = [
  { flag: "host", env: "CONSORT_HOST", help: "Address both ports bind", default: "127.0.0.1", apply: (v, c) => {
      if (v.trim() === "") throw new ConfigError("--host: must not be empty");
      c.host = v;
    } },
  { flag: "grpc-port", env: "CONSORT_GRPC_PORT", help: "Native gRPC port (0: any free port)", default: "50051", apply: (v, c) => {
      c.grpcPort = int("--grpc-port", 0, 65535)(v);
    } },
  { flag: "http-port", env: "CONSORT_HTTP_PORT", help: "HTTP/1.1 port: Connect, gRPC-Web, /metrics, /healthz (0: any free port; off: none)", default: "8080", apply: (v, c) => {
      c.httpPort = v === "off" ? undefined : int("--http-port", 0, 65535)(v);
    } },
  { flag: "log-level", env: "CONSORT_LOG_LEVEL", help: `Log level: ${levels.join(", ")}`, default: "info", apply: (v, c) => {
      if (!(levels as readonly string[]).includes(v)) throw new ConfigError(`--log-level: must be one of ${levels.join(", ")}, got ${JSON.stringify(v)}`);
      c.logLevel = v as Config["logLevel"];
    } },
  { flag: "shutdown-grace-ms", env: "CONSORT_SHUTDOWN_GRACE_MS", help: "Milliseconds in-flight calls get on shutdown", default: "10000", apply: (v, c) => {
      c.shutdownGraceMs = int("--shutdown-grace-ms", 0, 600_000)(v);
    } },
  { flag: "keepalive-ms", env: "CONSORT_KEEPALIVE_MS", help: "Milliseconds between keepalive probes of a quiet connection", default: "30000", apply: (v, c) => {
      c.keepaliveMs = int("--keepalive-ms", 100, 3_600_000)(v);
    } },
  { flag: "keepalive-timeout-ms", env: "CONSORT_KEEPALIVE_TIMEOUT_MS", help: "Milliseconds a gRPC keepalive ping may go unanswered", default: "10000", apply: (v, c) => {
      c.keepaliveTimeoutMs = int("--keepalive-timeout-ms", 100, 600_000)(v);
    } },
  { flag: "cors-origins", env: "CONSORT_CORS_ORIGINS", help: "Comma-separated browser origins allowed on the HTTP port (* for any)", default: "", apply: (v, c) => {
      c.corsOrigins = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
    } },
  { flag: "cors-headers", env: "CONSORT_CORS_HEADERS", help: "Comma-separated request headers allowed origins may send besides the protocols' own", default: "Authorization", apply: (v, c) => {
      const headers = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
      const bad = headers.find((h) => !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h));
      if (bad !== undefined) throw new ConfigError(`--cors-headers: ${JSON.stringify(bad)} is not a header name`);
      c.corsHeaders = headers;
    } },
  { flag: "coordination-watch-interval-ms", env: "CONSORT_COORDINATION_WATCH_INTERVAL_MS", help: "Milliseconds WatchCoordinations coalesces changes over", default: "250", apply: (v, c) => {
      c.coordinationWatchIntervalMs = int("--coordination-watch-interval-ms", 10, 60_000)(v);
    } },
  { flag: "backend", env: "CONSORT_BACKEND", help: "Where signals and contexts are kept: memory, or nats://host:port (NATS JetStream, shared by replicas)", default: "memory", apply: (v, c) => {
      c.backend = parseBackend(v);
    } },
  limit("maxHistory", "max-history", "Signals retained per coordination", 1, 10_000_000),
  limit("maxPayloadBytes", "max-payload-bytes", "Bytes of a signal's data + metadata, protobuf-encoded (an unset field counts 0)", 1, 64 * 1024 * 1024),
  limit("maxMessageBytes", "max-message-bytes", "Bytes of one request or response message", 1024, 256 * 1024 * 1024),
  limit("maxSubscriptions", "max-subscriptions", "Open subscriptions per server, and open context watches, and open coordination watches", 1, 10_000_000),
  limit("subscriberBuffer", "subscriber-buffer", "Undelivered signals per subscription before it is cut", 1, 10_000_000),
  limit("maxPendingWaits", "max-pending-waits", "Pending dependency waits per server", 1, 100_000_000),
  limit("maxIdLength", "max-id-length", "Characters of any id", 1, 10_000),
  limit("maxTaskNameLength", "max-task-name-length", "Characters of a task name", 1, 100_000),
  limit("maxPageSize", "max-page-size", "Largest page of a List call", 1, 100_000),
  limit("maxRecipients", "max-recipients", "Recipients of one signal", 1, 1_000_000),
  limit("maxRoutingHistory", "max-routing-history", "Routing results retained per policy", 1, 10_000_000),
  limit("maxRoutingHistoryBytes", "max-routing-history-bytes", "Bytes of routing results retained across all policies", 1024, 64 * 1024 * 1024 * 1024),
  limit("maxRoutingPolicies", "max-routing-policies", "Stored routing policies per server", 1, 10_000_000),
  limit("maxRulesPerRouter", "max-rules-per-router", "Rules of a conditional router, hints of a parallel router", 1, 1_000_000),
  limit("maxJsonDepth", "max-json-depth", "Levels of nested objects and lists in any JSON field (data, state, contexts…)", 1, 90),
  limit("maxAgentsPerCoordination", "max-agents-per-coordination", "Agents of one context distribution; completions remembered per coordination", 1, 10_000_000),
  limit("maxGatesPerCoordination", "max-gates-per-coordination", "Quality gates, and resources, one coordination holds (each)", 1, 10_000_000),
  limit("contextChangeWindow", "context-change-window", "Context changes kept per coordination for watchers to resume from", 1, 10_000_000),
  limit("contextChangeWindowBytes", "context-change-window-bytes", "Bytes of context changes kept per coordination for watchers to resume from", 1024, 64 * 1024 * 1024 * 1024),
  limit("maxDependencyRecords", "max-dependency-records", "Finished dependency records kept per coordination", 1, 10_000_000),
  limit("maxCoordinations", "max-coordinations", "Coordinations held in memory", 1, 100_000_000),
  limit("idleCoordinationTtlMs", "idle-coordination-ttl-ms", "Milliseconds before an idle coordination is dropped", 1000, 365 * 24 * 3600 * 1000),
  limit("contextHistory", "context-history", "Context changes a shared backend keeps per coordination (a full state at least this often)", 1, 100_000),
];

/** The text of `--help`. */
export function helpText(): string {
  const rows = optionSpecs.map((o) => `  --${o.flag.padEnd(26)} ${o.env.padEnd(36)} ${o.help} (default ${o.default || "none"})`);
  return `Usage: consort [options]\n\nEach option can also be set by its environment variable; a flag wins over the environment.\n\n${rows.join("\n")}\n`;
}

/**
 * Builds the configuration from defaults, then the environment, then command-line flags (`--flag value` or
 * `--flag=value`). Throws {@link ConfigError} naming the option on an unknown flag or a bad value.
 * This is the only reader of `process.env`.
 */
export function loadConfig(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Config {
  const c: Mutable = {
    host: "",
    grpcPort: 0,
    httpPort: 0,
    logLevel: "info",
    shutdownGraceMs: 0,
    keepaliveMs: 0,
    keepaliveTimeoutMs: 0,
    coordinationWatchIntervalMs: 0,
    corsOrigins: [],
    corsHeaders: [],
    backend: { kind: "memory" },
    limits: { ...defaultLimits },
  };
  for (const o of optionSpecs) o.apply(o.default, c);
  for (const o of optionSpecs) {
    const v = env[o.env];
    if (v !== undefined && v !== "") {
      try {
        o.apply(v, c);
      } catch (e) {
        throw e instanceof ConfigError ? new ConfigError(`${o.env} (${e.message})`) : e;
      }
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries(optionSpecs.map((o) => [o.flag, { type: "string" as const }])),
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new ConfigError(`${(e as Error).message}; see --help`);
  }
  for (const o of optionSpecs) {
    const v = (parsed.values as Record<string, string | undefined>)[o.flag];
    if (v !== undefined) o.apply(v, c);
  }
  checkSignalsFit(c.limits);
  return c;
}

/**
 * Refuses limits under which a signal the server accepts could not be sent in one message: a subscriber would be
 * stuck on it for good. The largest signal is counted as JSON (a Connect JSON client reads it so), where escaped
 * characters take up to 6 times their protobuf size.
 */
function checkSignalsFit(l: Limits): void {
  const bound = signalBytesBound(l);
  const need = Math.max(bound.binary, bound.json) + responseReserveBytes;
  if (need > l.maxMessageBytes) {
    throw new ConfigError(
      `--max-message-bytes: ${l.maxMessageBytes} cannot hold the largest signal the other limits allow: up to ${need} bytes as JSON ` +
        `(--max-payload-bytes ${l.maxPayloadBytes}, up to 6 times larger as JSON; --max-recipients ${l.maxRecipients} of ` +
        `--max-id-length ${l.maxIdLength} characters); raise --max-message-bytes to at least ${need} or lower those limits`,
    );
  }
}
