import { ConsortError } from "../../src/core/errors.js";

/** The ConsortError `f` throws; fails the test when it throws nothing or something else. */
export function errorOf(f: () => unknown): ConsortError {
  try {
    f();
  } catch (e) {
    if (e instanceof ConsortError) return e;
    throw e;
  }
  throw new Error("expected a ConsortError");
}
