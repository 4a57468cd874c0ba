import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** bench/results/ in the source tree (this file runs from dist/bench/). */
const resultsDir = fileURLToPath(new URL("../../bench/results/", import.meta.url));

/** One benchmark run as written to disk: what ran, on what, the machine's load around it, and every area's results. */
export interface RunRecord {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly seconds: number;
  readonly argv: readonly string[];
  readonly runs: number;
  readonly smoke: boolean;
  readonly node: string;
  readonly cpus: number;
  readonly load: { readonly start: unknown; readonly end: unknown };
  /** Per area (Signals, Routing, …, Peers): what its run function returned; an area that failed has `error`. */
  readonly areas: Readonly<Record<string, unknown>>;
}

/**
 * Writes a run's record to bench/results/latest.json (a smoke run to smoke.json, which git ignores, so it never
 * replaces a real run's numbers) and returns the path.
 */
export function writeResults(record: Omit<RunRecord, "node" | "cpus">): string {
  mkdirSync(resultsDir, { recursive: true });
  const path = join(resultsDir, record.smoke ? "smoke.json" : "latest.json");
  const full: RunRecord = { ...record, node: process.version, cpus: cpus().length };
  writeFileSync(path, `${JSON.stringify(full, (_, v: unknown) => (typeof v === "bigint" ? Number(v) : v), 2)}\n`);
  return path;
}
