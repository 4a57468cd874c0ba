import { readFileSync } from "node:fs";

/**
 * The machine's load as /proc/loadavg gives it: 1-, 5- and 15-minute load averages, runnable/total tasks. Printed at
 * the start and end of every benchmark run: on this 2-core machine a load near 2 or above means other work competed
 * with the measurement.
 */
export function machineLoad(): { readonly load1: number; readonly load5: number; readonly load15: number; readonly raw: string } {
  const raw = readFileSync("/proc/loadavg", "utf8").trim();
  const [load1, load5, load15] = raw.split(" ").map(Number) as [number, number, number];
  return { load1, load5, load15, raw };
}
