import { jsonEquals, type JsonValue } from "../json.js";
import type { ConditionOperator } from "./types.js";

type Kind = "number" | "string" | "boolean" | "list" | "object" | "null";

function kindOf(v: JsonValue): Kind {
  if (v === null) return "null";
  if (Array.isArray(v)) return "list";
  return typeof v as Kind;
}

/** `needle in haystack` as the original evaluated it; `undefined` when the types make it meaningless. */
function membership(needle: JsonValue, haystack: JsonValue): boolean | undefined {
  if (Array.isArray(haystack)) {
    for (const x of haystack) if (jsonEquals(x, needle)) return true;
    return false;
  }
  if (typeof haystack === "string") return typeof needle === "string" ? haystack.includes(needle) : undefined;
  if (haystack !== null && typeof haystack === "object") return typeof needle === "string" ? Object.hasOwn(haystack, needle) : undefined;
  return undefined;
}

/**
 * Whether `stateValue <operator> ruleValue` holds. A missing (`undefined`) or null state value never matches;
 * values of types the operator cannot compare never match (also for the negated operators). Never throws.
 *
 * - `==`, `!=`: same JSON type, deep equality.
 * - `>`, `<`, `>=`, `<=`: two numbers, or two strings (code-point order).
 * - `in` / `not_in`: the state value is / is not an element of the rule's list, a substring of its string, or a
 *   key of its object.
 * - `contains` / `not_contains`: the rule's value is / is not an element of the state's list, a substring of its
 *   string, or a key of its object.
 */
export function evaluateCondition(operator: ConditionOperator, stateValue: JsonValue | undefined, ruleValue: JsonValue): boolean {
  if (stateValue === undefined || stateValue === null) return false;
  switch (operator) {
    case "==":
    case "!=": {
      if (kindOf(stateValue) !== kindOf(ruleValue)) return false;
      return jsonEquals(stateValue, ruleValue) === (operator === "==");
    }
    case ">":
    case "<":
    case ">=":
    case "<=": {
      const comparable =
        (typeof stateValue === "number" && typeof ruleValue === "number") ||
        (typeof stateValue === "string" && typeof ruleValue === "string");
      if (!comparable) return false;
      const a = stateValue as number | string;
      const b = ruleValue as number | string;
      return operator === ">" ? a > b : operator === "<" ? a < b : operator === ">=" ? a >= b : a <= b;
    }
    case "in":
    case "not_in": {
      const r = membership(stateValue, ruleValue);
      return r === undefined ? false : r === (operator === "in");
    }
    case "contains":
    case "not_contains": {
      const r = membership(ruleValue, stateValue);
      return r === undefined ? false : r === (operator === "contains");
    }
  }
}

/** A condition compiled for one rule: whether a state value satisfies it. */
export type CompiledCondition = (stateValue: JsonValue | undefined) => boolean;

const never: CompiledCondition = () => false;
const isPrimitive = (v: JsonValue): v is string | number | boolean => typeof v === "string" || typeof v === "number" || typeof v === "boolean";

/**
 * `operator` and `ruleValue` compiled once, when the policy is stored: exactly {@link evaluateCondition} with the
 * rule's side fixed, specialized for the common shapes (a primitive to compare with, a list of primitives to look
 * in) so that Route does not dispatch on the operator and the rule value's type for every rule on every call.
 */
export function compileCondition(operator: ConditionOperator, ruleValue: JsonValue): CompiledCondition {
  switch (operator) {
    case "==":
      if (ruleValue === null) return never; // a null state value never matches, any other is of another type
      if (isPrimitive(ruleValue)) return (v) => v === ruleValue;
      break;
    case "!=":
      if (ruleValue === null) return never;
      if (isPrimitive(ruleValue)) {
        const type = typeof ruleValue;
        return (v) => typeof v === type && v !== ruleValue;
      }
      break;
    case ">":
    case "<":
    case ">=":
    case "<=": {
      if (typeof ruleValue !== "number" && typeof ruleValue !== "string") return never;
      const type = typeof ruleValue;
      const b = ruleValue;
      if (operator === ">") return (v) => typeof v === type && (v as typeof b) > b;
      if (operator === "<") return (v) => typeof v === type && (v as typeof b) < b;
      if (operator === ">=") return (v) => typeof v === type && (v as typeof b) >= b;
      return (v) => typeof v === type && (v as typeof b) <= b;
    }
    case "in":
    case "not_in": {
      const wanted = operator === "in";
      // A list of primitives: JSON equality with a primitive is identity (rule values hold no NaN).
      if (Array.isArray(ruleValue) && ruleValue.every(isPrimitive)) {
        const members = new Set<JsonValue>(ruleValue);
        return (v) => v !== undefined && v !== null && members.has(v) === wanted;
      }
      if (typeof ruleValue === "string") return (v) => typeof v === "string" && ruleValue.includes(v) === wanted;
      if (ruleValue === null || typeof ruleValue !== "object") return never; // a number or boolean holds nothing
      break;
    }
    case "contains":
    case "not_contains":
      break; // the state value is the container: nothing to fix in advance
  }
  return (v) => evaluateCondition(operator, v, ruleValue);
}
