/**
 * How many cases a property-based test runs: `quick` in `npm test` (a few seconds in all), or
 * `CONSORT_FUZZ_RUNS` when set, for a longer search (e.g. `CONSORT_FUZZ_RUNS=20000 npx vitest run test/service`).
 */
export function fuzzRuns(quick: number): number {
  const n = Number(process.env["CONSORT_FUZZ_RUNS"]);
  return Number.isSafeInteger(n) && n > 0 ? n : quick;
}
