import { settled, type CompiledRouter } from "./routers.js";
import { strategyWeights, type RouterResult, type RoutingContext } from "./types.js";

/** The result when no router decided (none configured, or every one failed). */
export const defaultRouterResult: RouterResult = Object.freeze({
  decision: "continue",
  confidence: 0.5,
  reasoning: "No routers available, using default decision",
  strategy: "priority",
  nextTask: "",
  metadata: Object.freeze({}),
});

/**
 * Winner-takes-all: every router is evaluated in order; a router that throws is skipped (reported through
 * `onRouterError`); each result scores confidence × its strategy's weight; the highest score wins and its result
 * is returned as plain data (only its description is ever written); ties go to the earlier router.
 */
export function aggregate(
  routers: readonly CompiledRouter[],
  ctx: RoutingContext,
  onRouterError?: (router: CompiledRouter, error: unknown) => void,
): RouterResult {
  let best: RouterResult | undefined;
  let bestScore = -Infinity;
  for (const router of routers) {
    let r: RouterResult;
    try {
      r = router.evaluate(ctx);
    } catch (e) {
      onRouterError?.(router, e);
      continue;
    }
    const score = r.confidence * strategyWeights[r.strategy];
    if (score > bestScore) {
      best = r;
      bestScore = score;
    }
  }
  return best === undefined ? defaultRouterResult : settled(best);
}
