import { request } from "node:http";

/** A Prometheus histogram's running totals, summed over the series that matched. */
export interface HistogramTotals {
  readonly sum: number;
  readonly count: number;
}

/** The text of `/metrics` on a server's HTTP port. */
export function scrapeMetrics(httpPort: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: httpPort, path: "/metrics", method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics answered ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end();
  });
}

/** `name{a="x",b="y"}` → {a: "x", b: "y"} (values without escapes, as Consort's labels are). */
function labelsOf(series: string): Record<string, string> {
  const out: Record<string, string> = {};
  const open = series.indexOf("{");
  if (open < 0) return out;
  for (const m of series.slice(open + 1, series.lastIndexOf("}")).matchAll(/(\w+)="([^"]*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

/**
 * `_sum` and `_count` of histogram `name` in a scrape, over every series whose labels include `labels`; undefined
 * when the scrape has no such histogram. Two scrapes around one call give that call's own observation exactly:
 * the difference of the sums, with a count difference of 1.
 */
export function histogramTotals(text: string, name: string, labels: Record<string, string> = {}): HistogramTotals | undefined {
  let sum = 0;
  let count = 0;
  let found = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const space = line.lastIndexOf(" ");
    const series = line.slice(0, space);
    const metric = series.split("{")[0];
    if (metric !== `${name}_sum` && metric !== `${name}_count`) continue;
    const l = labelsOf(series);
    if (!Object.entries(labels).every(([k, v]) => l[k] === v)) continue;
    found = true;
    const value = Number(line.slice(space + 1));
    if (metric === `${name}_sum`) sum += value;
    else count += value;
  }
  return found ? { sum, count } : undefined;
}

/** The value of gauge `name` (its first series) in a scrape; undefined when absent. */
export function gaugeValue(text: string, name: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}
