import type { Violations } from "../errors.js";
import { requireId } from "../validate.js";
import type { DependencyInput, DependencyTarget } from "./types.js";

/** A dependency's timeout when the call sets none: two minutes. */
export const defaultTimeoutMs = 120_000;
/** Longest dependency timeout: a day (timers cannot exceed ~24.8 days anyway). */
export const maxTimeoutMs = 86_400_000;

/**
 * Checks a ResolveDependencies call's dependencies, recording every violation in `v` (ids of 1 to `maxId`
 * characters and unique, a timeout within (0, a day], exactly one target, a threshold in [0, 1]), and returns each
 * one's target with its defaults applied (`requireSuccess` true, `threshold` 0.8); `undefined` for one without a
 * target.
 */
export function checkDependencies(v: Violations, deps: readonly DependencyInput[], maxId: number): (DependencyTarget | undefined)[] {
  const seen = new Map<string, number>();
  return deps.map((d, i) => {
    const f = `dependencies[${i}]`;
    if (requireId(v, `${f}.dependency_id`, d.dependencyId, maxId) !== "") {
      const j = seen.get(d.dependencyId);
      if (j !== undefined) v.add(`${f}.dependency_id`, `duplicates dependencies[${j}].dependency_id ${JSON.stringify(d.dependencyId)}`);
      else seen.set(d.dependencyId, i);
    }
    if (d.timeoutMs !== undefined && !(d.timeoutMs > 0 && d.timeoutMs <= maxTimeoutMs)) {
      v.add(`${f}.timeout`, `must be more than 0 and at most ${maxTimeoutMs / 1000}s (unset means ${defaultTimeoutMs / 1000}s), got ${d.timeoutMs}ms`);
    }
    const t = d.target;
    switch (t?.type) {
      case undefined:
        v.add(`${f}.target`, "must set exactly one of agent_completion, resource, quality_gate");
        return undefined;
      case "agent_completion":
        requireId(v, `${f}.agent_completion.agent_id`, t.agentId, maxId);
        return { type: t.type, agentId: t.agentId, requireSuccess: t.requireSuccess ?? true };
      case "resource_availability":
        requireId(v, `${f}.resource.resource_id`, t.resourceId, maxId);
        return { type: t.type, resourceId: t.resourceId };
      case "quality_gate": {
        requireId(v, `${f}.quality_gate.gate_id`, t.gateId, maxId);
        const threshold = t.threshold ?? 0.8;
        if (!(threshold >= 0 && threshold <= 1)) v.add(`${f}.quality_gate.threshold`, `must be between 0 and 1, got ${threshold}`);
        return { type: t.type, gateId: t.gateId, threshold };
      }
    }
  });
}
