import { performance } from "node:perf_hooks";
import { defaultLimits } from "../src/core/limits.js";
import { createSignalEngine } from "../src/core/signals/signal-engine.js";
import { createStore } from "../src/core/store.js";

/** Options of {@link measurePublishCost}. */
export interface PublishCostOptions {
  /** Untimed publishes first. @default 20000 */
  readonly warmup?: number;
  /** Fresh coordinations whose signals 1..10 are timed. @default 200 */
  readonly coordinations?: number;
  /** Timed publishes at the full history. @default 20000 */
  readonly full?: number;
}

/** In-core publish cost, µs per signal, measured while the history is nearly empty and when it is full. */
export function measurePublishCost(options: PublishCostOptions = {}): { earlyUs: number; fullUs: number; ratio: number } {
  const coordinations = options.coordinations ?? 200;
  const engine = createSignalEngine({ store: createStore(), limits: defaultLimits });
  const data = { agent_id: "model-generator", quality_score: 0.95, success: true };
  const publishN = (id: string, n: number) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) engine.publish({ coordinationId: id, type: "agent_completed", data });
    return ((performance.now() - t0) * 1000) / n;
  };
  // Warm up the JIT on a throwaway coordination.
  publishN("warm", options.warmup ?? 20_000);
  // Early: many fresh coordinations, measuring signals 1..10 of each.
  let early = 0;
  for (let r = 0; r < coordinations; r++) early += publishN(`early-${r}`, 10);
  const earlyUs = early / coordinations;
  // Full: a coordination at its 10,000-signal bound, where each publish also evicts the oldest.
  publishN("full", defaultLimits.maxHistory);
  const fullUs = publishN("full", options.full ?? 20_000);
  return { earlyUs, fullUs, ratio: fullUs / earlyUs };
}
