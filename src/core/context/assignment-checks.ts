import type { Violations } from "../errors.js";
import type { Limits } from "../limits.js";
import { checkJson } from "../json.js";
import { optionalId, requireId } from "../validate.js";
import type { AssignmentInput, CoordinationProtocols, ResourceAllocation } from "./types.js";

/**
 * The rules one assignment of a DistributeContext obeys (SPEC.md §3): ids, task names, dependencies without
 * duplicates, JSON depth, and the bounds of its protocols and allocation. The context engine checks them before
 * planning a distribution; nothing here depends on the coordination's state.
 */

const maxEndpointLength = 2048;

/** `defaults` with every given (defined) field of `given` in place of its default. */
export function withDefaults<T extends object>(defaults: T, given: { readonly [K in keyof T]?: T[K] | undefined } | undefined): T {
  if (given === undefined) return defaults;
  const out = { ...defaults };
  for (const k of Object.keys(defaults) as (keyof T)[]) {
    const value = given[k];
    if (value !== undefined) out[k] = value as T[keyof T];
  }
  return Object.freeze(out);
}

type Bound = { readonly min: number; readonly max?: number };
const protocolBounds: Partial<Record<keyof CoordinationProtocols, [string, Bound]>> = {
  updateIntervalMs: ["update_interval_ms", { min: 100 }],
  heartbeatIntervalMs: ["heartbeat_interval_ms", { min: 100 }],
};
const allocationBounds: Record<keyof ResourceAllocation, [string, Bound]> = {
  maxExecutionTimeMs: ["max_execution_time_ms", { min: 1000 }],
  maxRetryAttempts: ["max_retry_attempts", { min: 0 }],
  maxMemoryMb: ["max_memory_mb", { min: 1 }],
  qualityThreshold: ["quality_threshold", { min: 0, max: 1 }],
  timeoutMs: ["timeout_ms", { min: 100 }],
  concurrencyLimit: ["concurrency_limit", { min: 1 }],
};

function checkBound(v: Violations, field: string, value: number | undefined, b: Bound): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < b.min || (b.max !== undefined && value > b.max)) {
    v.add(field, b.max === undefined ? `must be at least ${b.min}, got ${value}` : `must be between ${b.min} and ${b.max}, got ${value}`);
  }
}

/** Records every rule one assignment (at `f`) breaks, its agent id aside, in `v`. */
export function checkAssignment(v: Violations, f: string, a: AssignmentInput, limits: Limits): void {
  const maxId = limits.maxIdLength;
  optionalId(v, `${f}.agent_role`, a.agentRole ?? "", maxId);
  (a.tasks ?? []).forEach((t, j) => requireId(v, `${f}.tasks[${j}]`, t, limits.maxTaskNameLength));
  const seen = new Map<string, number>();
  (a.dependencies ?? []).forEach((d, j) => {
    requireId(v, `${f}.dependencies[${j}]`, d, maxId);
    const k = seen.get(d);
    if (k !== undefined) v.add(`${f}.dependencies[${j}]`, `duplicates ${f}.dependencies[${k}] ${JSON.stringify(d)}`);
    else seen.set(d, j);
  });
  for (const [name, value] of [["input_data", a.inputData], ["output_requirements", a.outputRequirements], ["success_criteria", a.successCriteria]] as const) {
    checkJson(v, `${f}.${name}`, value, limits.maxJsonDepth);
  }
  const p = a.protocols;
  if (p !== undefined) {
    for (const [k, [name, b]] of Object.entries(protocolBounds) as [keyof CoordinationProtocols, [string, Bound]][]) {
      checkBound(v, `${f}.coordination_protocols.${name}`, p[k] as number | undefined, b);
    }
    for (const [k, name] of [["statusChannel", "status_channel"], ["resultChannel", "result_channel"], ["errorChannel", "error_channel"]] as const) {
      const value = p[k];
      if (value !== undefined) requireId(v, `${f}.coordination_protocols.${name}`, value, maxId);
    }
    optionalId(v, `${f}.coordination_protocols.coordination_endpoint`, p.coordinationEndpoint ?? "", maxEndpointLength);
  }
  const r = a.allocation;
  if (r !== undefined) {
    for (const [k, [name, b]] of Object.entries(allocationBounds) as [keyof ResourceAllocation, [string, Bound]][]) {
      checkBound(v, `${f}.resource_allocation.${name}`, r[k], b);
    }
  }
}
