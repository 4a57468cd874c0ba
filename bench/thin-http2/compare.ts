/**
 * MEASUREMENT HARNESS for the thin-http2 prototype (./server.ts): the real server (`dist/src/main.js`, grpc-js)
 * against the thin one (`dist/bench/thin-http2/server.js`, node:http2) and the variants below, same Go client
 * (bench/go), **alternating case by case in one run** (the order rotates each round), medians over rounds. Not
 * part of `npm run bench`; bench/README.md ("A thin gRPC layer on node:http2") has what it measured.
 *
 *   npm run build && (cd bench/go && go build -o /tmp/cbench-thin .)
 *   node dist/bench/thin-http2/compare.js --go /tmp/cbench-thin --rounds 5 [--subscribers 1,10,100] [--no-latency]
 *     [--main NAME=PATH/dist/src/main.js …] [--targets NAME,grpc-js,thin,thin-aw,in-process,in-process-turn] [--base NAME]
 *   node dist/bench/thin-http2/compare.js --go /tmp/cbench-thin --profile --rounds 3 [--profile-messages 60000]
 *
 * Fan-out: each case gets a fresh server (`--subscriber-buffer 1000000`), an unmeasured warm-up, a sizing run of
 * ~1 s and a measured run of what the sizing rate delivers in ~2 s (≥ 5,000 messages), as bench/compare.ts does.
 * Latency: `-mode signal-stream` (PublishStream at 1,000/s, 5,000 after 500) on a fresh server.
 * Profile: `--cpu-prof` of each server at fan-out N=1 flat out, the servers in turn each round; self time in the
 * measured run's window (samples between the harness's monotonic clock readings before and after the run: V8's
 * profile timestamps and `process.hrtime` both read CLOCK_MONOTONIC), grouped by package, scaled to the main
 * thread's CPU time from /proc (the sampler counts descheduled time too); medians over rounds.
 *
 * Writes everything to bench/results/thin-http2.json (or --out).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const goBin = arg("--go") ?? "/tmp/cbench-thin";
const rounds = Number(arg("--rounds") ?? 3);
const subscriberCounts = (arg("--subscribers") ?? "1,10,100").split(",").map(Number);
const withLatency = !process.argv.includes("--no-latency");
const out = arg("--out") ?? fileURLToPath(new URL("../../../bench/results/thin-http2.json", import.meta.url));

/**
 * Servers: `grpc-js` (this build's dist/src/main.js), `thin` and `thin-aw` (./server.ts with --pull eager /
 * after-write), and any other build of Consort given as `--main NAME=PATH/dist/src/main.js` (run with the same
 * arguments as `grpc-js`). No server: `in-process` and `in-process-turn` (./in-process.ts with --pull eager /
 * per-turn), fan-out only. Ratios are to `--base` (default: the first target).
 */
type Target = string;
const isServer = (t: Target) => !t.startsWith("in-process");
const inProcessJs = fileURLToPath(new URL("./in-process.js", import.meta.url));
const grpcArgs = (p: number) => ["--grpc-port", String(p), "--http-port", "0", "--log-level", "warn", "--subscriber-buffer", "1000000"];
const mains: Record<string, string> = {
  "grpc-js": fileURLToPath(new URL("../../src/main.js", import.meta.url)),
  thin: fileURLToPath(new URL("./server.js", import.meta.url)),
  "thin-aw": fileURLToPath(new URL("./server.js", import.meta.url)),
};
const serverArgs: Record<string, (port: number) => string[]> = {
  "grpc-js": grpcArgs,
  thin: (p) => ["--grpc-port", String(p), "--log-level", "warn", "--subscriber-buffer", "1000000", "--pull", "eager"],
  "thin-aw": (p) => ["--grpc-port", String(p), "--log-level", "warn", "--subscriber-buffer", "1000000", "--pull", "after-write"],
};
const extraBuilds: string[] = [];
process.argv.forEach((a, i) => {
  if (a !== "--main") return;
  const [name, path] = (process.argv[i + 1] ?? "").split("=");
  if (name === undefined || path === undefined || name === "" || path === "") throw new Error("--main NAME=PATH");
  mains[name] = path;
  serverArgs[name] = grpcArgs;
  extraBuilds.push(name);
});

const loadavg = () => readFileSync("/proc/loadavg", "utf8").trim();
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const a = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return a.port;
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: "127.0.0.1", port });
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} not open in 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Server {
  readonly addr: string;
  readonly pid: number;
  stop(): Promise<void>;
}

async function startServer(target: Target, nodeFlags: readonly string[] = []): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeFlags, mains[target]!, ...serverArgs[target]!(port)], { stdio: ["ignore", "ignore", "inherit"] });
  await waitForPort(port, child);
  return {
    addr: `127.0.0.1:${port}`,
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        const kill = setTimeout(() => child.kill("SIGKILL"), 15_000);
        child.once("exit", () => (clearTimeout(kill), resolve()));
        child.kill("SIGTERM");
      }),
  };
}

function runGo(args: readonly string[]): Promise<Record<string, number>> {
  return new Promise((resolve, reject) =>
    execFile(goBin, args, { encoding: "utf8", timeout: 150_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${goBin} ${args.join(" ")}: ${err.message} ${stderr}`)) : resolve(JSON.parse(stdout) as Record<string, number>),
    ),
  );
}

const fanout = (s: Server, n: number, messages: number) =>
  runGo(["-mode", "fanout", "-system", "consort", "-addr", s.addr, "-server-pid", String(s.pid), "-subscribers", String(n), "-count", String(messages), "-timeout", "120s"]);

/** Messages for a run: what `pilot`'s rate delivers in `seconds`, rounded up to a thousand, within [min, 500,000]. */
const sized = (pilot: Record<string, number>, n: number, seconds: number, min: number) =>
  Math.min(500_000, Math.max(min, Math.ceil((pilot["deliveries_per_second"]! * seconds) / n / 1000) * 1000));

async function fanoutCase(target: Target, n: number): Promise<Record<string, number>> {
  if (!isServer(target)) return inProcessCase(n, target === "in-process-turn" ? "per-turn" : "eager");
  const s = await startServer(target);
  try {
    const warm = await fanout(s, n, Math.max(200, Math.min(2000, Math.round(20_000 / n))));
    const sizing = await fanout(s, n, sized(warm, n, 1, 1000));
    return await fanout(s, n, sized(sizing, n, 2, 5000));
  } finally {
    await s.stop();
  }
}

/** The handlers with no transport, in a child process: ~2 s worth of signals after its own warm-up. */
function inProcessCase(n: number, pull: "eager" | "per-turn"): Promise<Record<string, number>> {
  const messages = String(n === 1 ? 60_000 : n === 10 ? 150_000 : 300_000);
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [inProcessJs, "--subscribers", String(n), "--rounds", "1", "--messages", messages, "--pull", pull, "--json"], { encoding: "utf8", timeout: 150_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`in-process: ${err.message} ${stderr}`)) : resolve(JSON.parse(stdout.trim().split("\n").pop()!) as Record<string, number>),
    ),
  );
}

async function latencyCase(target: Target): Promise<Record<string, number>> {
  const s = await startServer(target);
  try {
    return await runGo(["-mode", "signal-stream", "-addr", s.addr, "-rate", "1000", "-count", "5000", "-timeout", "100s"]);
  } finally {
    await s.stop();
  }
}

// ---- profile ------------------------------------------------------------------------------------------------

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The group a function's self time is counted in. */
function groupOf(fn: string, url: string): string {
  if (fn === "(garbage collector)") return "GC";
  if (fn === "(idle)") return "idle";
  if (fn === "(program)") return "(program): native, outside any JS frame (libuv, nghttp2, syscalls)";
  if (fn === "runMicrotasks") return "runMicrotasks (promise and async-generator machinery)";
  if (fn === "(root)") return "(root)";
  if (url.includes("/node_modules/@grpc/grpc-js/")) return "grpc-js";
  if (url.includes("/node_modules/@bufbuild/protobuf/")) return "protobuf-es";
  if (url.includes("/node_modules/@connectrpc/")) return "connect (handler context)";
  if (url.includes("/node_modules/")) return `other deps (${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? "?"})`;
  if (url.includes("/dist/bench/thin-http2/")) return "transport adapter: thin-http2";
  // Any build's dist/ (another one given with --main, or dist/aw as the first runs had it).
  if (/\/dist\/(aw\/)?src\/transport\//.test(url)) return "transport adapter: grpc-bridge & co (src/transport)";
  if (/\/dist\/(aw\/)?(src|gen)\//.test(url)) return "consort (service, core, binding)";
  if (url.startsWith("node:")) return "node internals (JS: http2, streams, events, timers)";
  return "V8/Node builtins called from JS (writev, Buffer copies, encodeInto…)";
}

/** A script's path from its package (node_modules/…) or from dist/. */
const shortUrl = (url: string) => (url.includes("/node_modules/") ? url.replace(/^.*\/node_modules\//, "") : url.replace(/^.*\/dist\//, ""));

/** Self time (µs) per group and per top function, within [from, to] (µs, CLOCK_MONOTONIC). */
function summarize(profile: CpuProfile, from: number, to: number) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const groups = new Map<string, number>();
  const fns = new Map<string, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < from || t > to) continue;
    // Each sample's weight is the time to the next sample.
    const w = profile.timeDeltas[i + 1] ?? 0;
    const node = byId.get(profile.samples[i]!)!;
    const g = groupOf(node.callFrame.functionName, node.callFrame.url);
    groups.set(g, (groups.get(g) ?? 0) + w);
    const key = `${node.callFrame.functionName || "(anonymous)"} ${shortUrl(node.callFrame.url)}`;
    fns.set(key, (fns.get(key) ?? 0) + w);
  }
  return { groups, fns };
}

/** CPU time (user + system) of process `pid`'s main thread (its task `pid`) in µs, from /proc (USER_HZ = 100). */
function mainThreadCpuMicros(pid: number): number {
  const st = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8");
  const fields = st.slice(st.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) / 100) * 1e6;
}

/** The groups summed into the README's three subtotals. */
const subtotalOf = (g: string): "transport" | "consort" | "shared" =>
  g === "grpc-js" || g.startsWith("transport adapter") || g.startsWith("node internals") || g.startsWith("(program)")
    ? "transport"
    : g === "consort (service, core, binding)" || g === "protobuf-es" || g.startsWith("other deps") || g.startsWith("connect")
      ? "consort"
      : "shared";

async function profileCase(target: Target, messages: number) {
  const dir = mkdtempSync(join(tmpdir(), `thin-prof-${target}-`));
  const s = await startServer(target, ["--cpu-prof", "--cpu-prof-interval", "250", `--cpu-prof-dir=${dir}`]);
  let run: Record<string, number>;
  let from: number, to: number, mainCpu: number;
  try {
    await fanout(s, 1, 2000);
    await fanout(s, 1, 20_000);
    const cpu0 = mainThreadCpuMicros(s.pid);
    from = Number(process.hrtime.bigint() / 1000n);
    run = await fanout(s, 1, messages);
    to = Number(process.hrtime.bigint() / 1000n);
    mainCpu = mainThreadCpuMicros(s.pid) - cpu0;
  } finally {
    await s.stop();
  }
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (file === undefined) throw new Error(`no profile in ${dir}`);
  const { groups, fns } = summarize(JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile, from, to);
  const total = [...groups.values()].reduce((a, b) => a + b, 0);
  const busy = total - (groups.get("idle") ?? 0);
  // The profiler samples by wall clock: while the machine is loaded, time the main thread spent descheduled is
  // counted as busy in whatever it was running. Per-signal figures are the groups' shares of the busy samples
  // times the main thread's CPU time (from /proc), which counts only time it ran.
  const perSignal = (us: number) => ((us / busy) * mainCpu) / messages;
  console.log(
    `profile ${target}: ${Math.round(run["deliveries_per_second"]!).toLocaleString("en-US")} deliveries/s, ${run["server_cpu_us_per_delivery"]!.toFixed(1)} µs server CPU (all threads) per delivery; ` +
      `main thread: ${(mainCpu / messages).toFixed(1)} µs CPU per signal, sampled busy ${(busy / messages).toFixed(1)} µs of ${(total / messages).toFixed(1)} µs wall per signal (${join(dir, file)})`,
  );
  const rows = [...groups.entries()].sort((a, b) => b[1] - a[1]);
  for (const [g, us] of rows) {
    if (g === "idle") continue;
    console.log(`  ${g.padEnd(60)} ${((100 * us) / busy).toFixed(1).padStart(5)} % of busy  ${perSignal(us).toFixed(2).padStart(6)} µs/signal`);
  }
  console.log(`  (idle ${((100 * (groups.get("idle") ?? 0)) / total).toFixed(1)} % of the window)`);
  const subtotals = { transport: 0, consort: 0, shared: 0 };
  for (const [g, us] of rows) if (g !== "idle") subtotals[subtotalOf(g)] += perSignal(us);
  console.log(`  subtotals µs/signal: transport ${f2(subtotals.transport)}, Consort's own ${f2(subtotals.consort)}, shared (GC, microtasks, builtins, program root) ${f2(subtotals.shared)}`);
  console.log("  top self time:");
  for (const [f, us] of [...fns.entries()].filter(([f]) => !f.startsWith("(idle)")).sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`    ${((100 * us) / busy).toFixed(1).padStart(5)} %  ${f}`);
  }
  const groupsPerSignal = Object.fromEntries(rows.filter(([g]) => g !== "idle").map(([g, us]) => [g, perSignal(us)]));
  return { target, run, profile: join(dir, file), window: [from, to], mainCpuUsPerSignal: mainCpu / messages, subtotals, groupsPerSignal, busyUs: busy, totalUs: total, groups: Object.fromEntries(rows), top: Object.fromEntries([...fns.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40)) };
}

// ---- main ---------------------------------------------------------------------------------------------------

const k0 = (v: number) => Math.round(v).toLocaleString("en-US");
const f2 = (v: number) => v.toFixed(2);
const f3 = (v: number) => v.toFixed(3);
const load1 = () => loadavg().split(" ")[0];

function logFanout(r: number, n: number, who: string, res: Record<string, number>): void {
  console.log(
    `round ${r + 1} fanout-${n} ${who.padEnd(10)}: ${k0(res["deliveries_per_second"]!).padStart(9)} deliveries/s, ` +
      `${f2(res["server_cpu_us_per_delivery"]!)} µs server CPU, ${f2(res["client_cpu_us_per_delivery"]!)} µs client CPU per delivery, ` +
      `${f3(res["reads_per_delivery"]!)} reads/delivery, ${res["messages"]} msgs in ${f2(res["seconds"]!)} s (publish ${f2(res["publish_seconds"]!)} s) [load ${load1()}]`,
  );
}

async function main(): Promise<void> {
  const loadStart = loadavg();
  console.log(`load at start: ${loadStart}`);
  const targets = (arg("--targets") ?? [...extraBuilds, "grpc-js", "thin", "thin-aw", "in-process", "in-process-turn"].join(",")).split(",") as Target[];
  for (const t of targets) if (isServer(t) && mains[t] === undefined) throw new Error(`unknown target ${t}: give its build with --main ${t}=PATH`);
  const servers = targets.filter(isServer);
  if (process.argv.includes("--profile")) {
    const messages = Number(arg("--profile-messages") ?? 60_000);
    const profiles: Awaited<ReturnType<typeof profileCase>>[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const t of servers.map((_, i) => servers[(i + r) % servers.length]!)) profiles.push(await profileCase(t, messages));
    }
    const loadEnd = loadavg();
    console.log(`load at end: ${loadEnd}`);
    // Medians over rounds, µs per signal, by group and subtotal.
    const groupNames = [...new Set(profiles.flatMap((p) => Object.keys(p.groupsPerSignal)))];
    const of = (t: Target) => profiles.filter((p) => p.target === t);
    console.log(`profile medians of ${rounds} (µs per signal, main thread): ${servers.join(" | ")}`);
    console.log(`  main-thread CPU | ${servers.map((t) => f2(median(of(t).map((p) => p.mainCpuUsPerSignal)))).join(" | ")}`);
    console.log(`  server CPU, all threads | ${servers.map((t) => f2(median(of(t).map((p) => p.run["server_cpu_us_per_delivery"]!)))).join(" | ")}`);
    for (const g of groupNames) console.log(`  ${g} | ${servers.map((t) => f2(median(of(t).map((p) => p.groupsPerSignal[g] ?? 0)))).join(" | ")}`);
    for (const k of ["transport", "consort", "shared"] as const) console.log(`  subtotal ${k} | ${servers.map((t) => f2(median(of(t).map((p) => p.subtotals[k])))).join(" | ")}`);
    writeFileSync(out.replace(/\.json$/, "-profile.json"), `${JSON.stringify({ loadStart, loadEnd, messages, profiles }, null, 2)}\n`);
    return;
  }
  const fan: Record<string, Record<Target, Record<string, number>[]>> = {};
  const lat: Record<Target, Record<string, number>[]> = {};
  for (let r = 0; r < rounds; r++) {
    // Case by case, every target in turn; the order rotates each round.
    const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
    for (const n of subscriberCounts) {
      for (const t of order) {
        const res = await fanoutCase(t, n);
        ((fan[n] ??= {})[t] ??= []).push(res);
        logFanout(r, n, t, res);
      }
    }
    if (withLatency) {
      for (const t of order.filter(isServer)) {
        const res = await latencyCase(t);
        (lat[t] ??= []).push(res);
        console.log(`round ${r + 1} latency ${t.padEnd(10)}: p50 ${f3(res["p50"]!)} ms, p90 ${f3(res["p90"]!)} ms, p99 ${f3(res["p99"]!)} ms, max ${f3(res["max"]!)} ms [load ${load1()}]`);
      }
    }
  }
  const loadEnd = loadavg();
  console.log(`load at end: ${loadEnd}`);
  const list = (xs: Record<string, number>[], k: string, f: (v: number) => string) => xs.map((x) => f(x[k]!)).join(" / ");
  const med = (xs: Record<string, number>[], k: string) => median(xs.map((x) => x[k]!));
  const base = arg("--base") ?? targets[0]!;
  for (const n of subscriberCounts) {
    for (const [k, f, label] of [
      ["deliveries_per_second", k0, "deliveries/s"],
      ["server_cpu_us_per_delivery", f2, "server µs/delivery"],
      ["client_cpu_us_per_delivery", f2, "client µs/delivery"],
      ["reads_per_delivery", f3, "reads/delivery"],
    ] as const) {
      const shown = k === "client_cpu_us_per_delivery" ? servers : targets;
      const cols = shown.map((t) => `${t} ${f(med(fan[n]![t]!, k))} (${list(fan[n]![t]!, k, f)})`);
      const ratios = shown.slice(1).map((t) => `${t}/${base} ${(med(fan[n]![t]!, k) / med(fan[n]![base]!, k)).toFixed(2)}`);
      console.log(`fanout-${n} ${label}: ${cols.join(", ")}; ${ratios.join(", ")}`);
    }
  }
  if (withLatency) {
    for (const p of ["p50", "p90", "p99"]) {
      const cols = servers.map((t) => `${t} ${f3(med(lat[t]!, p))} ms (${list(lat[t]!, p, f3)})`);
      const ratios = servers.slice(1).map((t) => `${t}/${base} ${(med(lat[t]!, p) / med(lat[base]!, p)).toFixed(2)}`);
      console.log(`latency ${p}: ${cols.join(", ")}; ${ratios.join(", ")}`);
    }
  }
  writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), loadStart, loadEnd, rounds, targets, fanout: fan, latency: lat }, null, 2)}\n`);
}

await main();
