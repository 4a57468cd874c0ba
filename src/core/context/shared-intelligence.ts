import type { JsonObject, JsonValue } from "../json.js";
import type { SharedIntelligence, SharedIntelligencePart } from "./types.js";

/** The empty shared intelligence: every part empty. */
export const emptySharedIntelligence: SharedIntelligence = Object.freeze({
  type_registry: {},
  pattern_library: {},
  validation_rules: {},
  naming_conventions: {},
  dependency_graph: {},
});

const isStringList = (v: JsonValue | undefined): boolean => Array.isArray(v) && v.every((s) => typeof s === "string");

/**
 * Why merging `data` into `part` would break the part's shape, or `undefined` when it would not: every value of
 * `pattern_library` and `dependency_graph` is a list of strings, every value of `naming_conventions` a string; the
 * two free-form parts take any JSON value.
 */
export function shapeViolation(part: SharedIntelligencePart, data: JsonObject): string | undefined {
  for (const [key, value] of Object.entries(data)) {
    if ((part === "pattern_library" || part === "dependency_graph") && !isStringList(value)) {
      return `${part}[${JSON.stringify(key)}] must be a list of strings`;
    }
    if (part === "naming_conventions" && typeof value !== "string") return `${part}[${JSON.stringify(key)}] must be a string`;
  }
  return undefined;
}

/**
 * A new shared intelligence: `shared` with each top-level key of `data` set in `part` (a shallow merge). The other
 * parts are the same objects as in `shared`. `data` must have passed {@link shapeViolation}.
 */
export function mergeSharedIntelligence(shared: SharedIntelligence, part: SharedIntelligencePart, data: JsonObject): SharedIntelligence {
  return Object.freeze({ ...shared, [part]: Object.freeze({ ...shared[part], ...data }) });
}
