import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../../src/core/json.js";
import { compileCondition, evaluateCondition } from "../../../src/core/routing/conditions.js";
import { conditionOperators, type ConditionOperator } from "../../../src/core/routing/types.js";

// [operator, state value, rule value, expected]
const table: [ConditionOperator, JsonValue | undefined, JsonValue, boolean][] = [
  // numbers
  ["==", 3, 3, true], ["==", 3, 4, false], ["!=", 3, 4, true], ["!=", 3, 3, false],
  [">", 3, 0, true], [">", 0, 0, false], ["<", -1, 0, true], ["<", 1, 0, false],
  [">=", 0, 0, true], [">=", -1, 0, false], ["<=", 0, 0, true], ["<=", 1, 0, false],
  ["in", 2, [1, 2, 3], true], ["in", 5, [1, 2, 3], false], ["not_in", 5, [1, 2], true], ["not_in", 2, [1, 2], false],
  ["contains", [1, 2], 2, true], ["contains", [1, 2], 3, false], ["not_contains", [1, 2], 3, true], ["not_contains", [1, 2], 1, false],
  // strings
  ["==", "a", "a", true], ["!=", "a", "b", true], [">", "b", "a", true], ["<", "a", "b", true], [">=", "b", "b", true], ["<=", "a", "b", true],
  ["in", "ell", "hello", true], ["in", "x", "hello", false], ["in", "b", ["a", "b"], true], ["not_in", "z", ["a", "b"], true],
  ["contains", "hello", "ell", true], ["contains", "hello", "z", false], ["not_contains", "hello", "z", true], ["not_contains", "hello", "he", false],
  ["in", "k", { k: 1 }, true], ["contains", { k: 1 }, "k", true], ["not_contains", { k: 1 }, "j", true],
  // booleans
  ["==", true, true, true], ["!=", true, false, true], ["==", false, true, false], ["in", true, [true], true], [">", true, false, false],
  // lists and objects
  ["==", [1, { a: 2 }], [1, { a: 2 }], true], ["==", { a: 1, b: 2 }, { b: 2, a: 1 }, true], ["!=", { a: 1 }, { a: 2 }, true],
  ["in", [1], [[1], [2]], true], ["contains", [{ a: 1 }], { a: 1 }, true], [">", [2], [1], false],
  // missing and null state values never match, even for the negated operators
  ...conditionOperators.map((op) => [op, undefined, 1, false] as [ConditionOperator, undefined, JsonValue, boolean]),
  ...conditionOperators.map((op) => [op, null, null, false] as [ConditionOperator, null, JsonValue, boolean]),
  // type mismatches never match
  ["==", 1, "1", false], ["!=", 1, "1", false], [">", 1, "0", false], ["<", "1", 2, false], [">=", 1, true, false],
  ["in", 1, "123", false], ["not_in", 1, "123", false], ["in", 1, 5, false], ["not_in", 1, 5, false],
  ["contains", 5, 1, false], ["not_contains", 5, 1, false], ["contains", "abc", 1, false], ["not_contains", { a: 1 }, 1, false],
];

describe("conditions", () => {
  it.each(table)("%s: %j vs %j → %s", (op, stateValue, ruleValue, expected) => {
    expect(evaluateCondition(op, stateValue, ruleValue)).toBe(expected);
  });
});

describe("compiled conditions", () => {
  it.each(table)("%s: %j vs %j → %s", (op, stateValue, ruleValue, expected) => {
    expect(compileCondition(op, ruleValue)(stateValue)).toBe(expected);
  });

  // Every operator × rule value × state value from a sample of each JSON shape: the compiled form agrees with
  // evaluateCondition everywhere, including the shapes it specializes (primitives, lists of primitives, strings).
  const ruleValues: JsonValue[] = [null, true, false, 0, 1, 2, 3, -1, 0.5, "", "a", "b", "ell", "hello", "k", "1", [], [1], [1, 2, 3], ["a", "b"], [true, 0, ""], [[1], [2]], [{ a: 1 }], { k: 1 }, { a: 1 }, {}];
  const stateValues: (JsonValue | undefined)[] = [undefined, NaN, -0, ...ruleValues, [1, 2], ["hello", "k"], { k: 1, a: 1 }];
  it("agrees with evaluateCondition on every operator × rule value × state value", () => {
    let checked = 0;
    for (const op of conditionOperators) {
      for (const rv of ruleValues) {
        const compiled = compileCondition(op, rv);
        for (const sv of stateValues) {
          expect(compiled(sv), `${op} ${JSON.stringify(sv)} vs ${JSON.stringify(rv)}`).toBe(evaluateCondition(op, sv, rv));
          checked++;
        }
      }
    }
    expect(checked).toBe(conditionOperators.length * ruleValues.length * stateValues.length);
  });
});
