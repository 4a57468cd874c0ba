import { runGo } from "./latency-go.js";

/** The systems the Go fan-out mode drives. */
export type FanoutSystem = "consort" | "nats" | "redis";

/** Options of {@link measureFanoutGo}. */
export interface FanoutGoOptions {
  readonly subscribers: number;
  /** Messages published; every subscriber receives them all. */
  readonly messages: number;
  /** Publishes in flight (Consort: unacknowledged PublishStream requests; NATS: pending async publishes; Redis: XADDs per pipeline). @default 32 */
  readonly window?: number;
}

/** What bench/go/fanout.go prints (its snake_case keys, as read). */
export interface FanoutGoResult {
  readonly system: FanoutSystem;
  readonly subscribers: number;
  readonly messages: number;
  readonly window: number;
  /** subscribers × messages over the time from the first publish until the last subscriber has every message. */
  readonly deliveries_per_second: number;
  readonly seconds: number;
  /** Until the publisher had every publish acknowledged. */
  readonly publish_seconds: number;
  /** The server process's CPU (user + system, from /proc/<pid>/stat) over the measured time, per delivery. */
  readonly server_cpu_us_per_delivery: number;
  /** The Go client process's CPU (publisher and all subscribers) over the same time, per delivery. */
  readonly client_cpu_us_per_delivery: number;
  /** Stream messages / callbacks / XREAD replies that carried messages, per delivery. */
  readonly reads_per_delivery: number;
}

/**
 * Fan-out with the Go client (`-mode fanout`, bench/go/fanout.go): one publisher flat out and N subscribers of
 * `system` at `addr`, whose server process is `serverPid`. Ends with an error after 90 s.
 */
export async function measureFanoutGo(system: FanoutSystem, addr: string, serverPid: number, options: FanoutGoOptions): Promise<FanoutGoResult> {
  const args = ["-mode", "fanout", "-system", system, "-addr", addr, "-server-pid", String(serverPid), "-subscribers", String(options.subscribers)];
  args.push("-count", String(options.messages), "-window", String(options.window ?? 32), "-timeout", "90s");
  return JSON.parse(await runGo(args, 100_000)) as FanoutGoResult;
}
