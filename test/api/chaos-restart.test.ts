import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { SignalService, SignalType, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { startServer, type Server } from "../examples/server.js";
import { cuttingProxy } from "./cutting-proxy.js";

/**
 * Chaos, short form, with the server process itself in it (`CONSORT_CHAOS_CUTS` raises the number of cuts):
 * subscribers behind one address follow a coordination while publishers keep publishing; their connections are
 * cut at random; the server is stopped with SIGTERM mid-load and another one started behind the same address.
 * Every subscriber must end up with every acknowledged signal of each server's log exactly once, in order; every
 * stream the shutdown ends must end with a status and the true resume point; and a resume against the new log
 * must be refused EPOCH_CHANGED, never taken as continuity.
 */

const cuts = Number(process.env["CONSORT_CHAOS_CUTS"] ?? 120) / 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const portOf = (s: Server) => Number(s.grpcAddress.split(":")[1]);

interface Follower {
  readonly id: string;
  /** Sequences received, per epoch, in arrival order. */
  readonly byEpoch: Map<string, bigint[]>;
  /** How each of its streams ended: code and ErrorInfo reason. */
  readonly endings: { code: Code | "no status"; reason: string }[];
  /** SHUTTING_DOWN endings whose resume point was not the last signal received. */
  readonly wrongResumePoints: string[];
  /** Signals whose epoch was not the one their stream's `subscribed` gave. */
  readonly wrongEpochs: string[];
}

describe("chaos with the server process", () => {
  it(`subscribers cut ${cuts} times, the server stopped with SIGTERM under load and restarted: nothing acknowledged is lost, nothing is mistaken for continuity`, async () => {
    const coordinationId = "chaos-restart";
    const servers: Server[] = [await startServer(["--shutdown-grace-ms", "5000"])];
    const proxy = await cuttingProxy(portOf(servers[0]!));
    const clientOf = (s: Server) => createClient(SignalService, createGrpcTransport({ baseUrl: `http://${s.grpcAddress}` }));
    let publishTo: Client<typeof SignalService> | undefined = clientOf(servers[0]!);
    /** Acknowledged sequences per epoch. */
    const acked = new Map<string, bigint[]>();
    const ackedIn = (epoch: string) => acked.get(epoch) ?? [];
    /** Set when publishing is over: what every follower must reach before it stops. */
    let target: { epoch: string; count: number } | undefined;

    const followers: Follower[] = Array.from({ length: 6 }, (_, i) => ({ id: `s${i}`, byEpoch: new Map(), endings: [], wrongResumePoints: [], wrongEpochs: [] }));
    const caughtUp = (f: Follower) => target !== undefined && (f.byEpoch.get(target.epoch)?.length ?? 0) >= target.count;
    const follow = async (f: Follower, deadline: number) => {
      let epoch = "";
      while (!caughtUp(f) && Date.now() < deadline) {
        // A fresh client each time: a cut or a stopped server took its connection.
        const client = createClient(SignalService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${proxy.port}` }));
        const seen = f.byEpoch.get(epoch) ?? [];
        const req = { coordinationId, agentId: f.id, afterSequence: seen[seen.length - 1] ?? 0n, epoch, heartbeatInterval: { nanos: 200_000_000 } };
        try {
          let broke = false;
          for await (const res of client.subscribe(req, { timeoutMs: 30_000 }) as AsyncIterable<SubscribeResponse>) {
            if (res.subscribed !== undefined) {
              epoch = res.subscribed.epoch;
              if (!f.byEpoch.has(epoch)) f.byEpoch.set(epoch, []);
            }
            for (const s of res.signals) {
              // Recorded, not asserted here: a throw inside the stream loop would be taken for a cut.
              if (s.epoch !== epoch) f.wrongEpochs.push(`${s.sequence}: ${s.epoch} ≠ ${epoch}`);
              f.byEpoch.get(epoch)!.push(s.sequence);
            }
            if (caughtUp(f)) {
              broke = true;
              break;
            }
          }
          if (!broke) f.endings.push({ code: "no status", reason: "" });
        } catch (e) {
          const err = ConnectError.from(e);
          const info = err.findDetails(ErrorInfoSchema)[0];
          f.endings.push({ code: err.code, reason: info?.reason ?? "" });
          if (info?.reason === "EPOCH_CHANGED") {
            // The log followed is gone: start over at the beginning of the new one ("" when the new server has
            // no log for the coordination yet).
            epoch = info.metadata["epoch"] ?? "";
          } else if (info?.reason === "SHUTTING_DOWN") {
            const got = f.byEpoch.get(epoch) ?? [];
            const last = String(got[got.length - 1] ?? 0n);
            if (info.metadata["last_delivered_sequence"] !== last) f.wrongResumePoints.push(`${info.metadata["last_delivered_sequence"]} ≠ ${last}`);
          } else {
            await sleep(10); // cut, or no server behind the address right now
          }
        }
      }
    };
    const deadline = Date.now() + 60_000;
    const following = followers.map((f) => follow(f, deadline));

    let publishing = true;
    const publishers = Array.from({ length: 2 }, async () => {
      while (publishing) {
        const client = publishTo;
        if (client === undefined) {
          await sleep(5);
          continue;
        }
        try {
          const r = await client.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, data: { blob: "x".repeat(200) } }, { timeoutMs: 5000 });
          const s = r.signal!;
          acked.set(s.epoch, [...ackedIn(s.epoch), s.sequence]);
        } catch {
          await sleep(5); // refused while shutting down, or no server: not acknowledged
        }
      }
    });
    let made = 0;
    const cutting = (async () => {
      while (made < cuts && Date.now() < deadline) {
        await sleep(10);
        if (proxy.cutOne()) made++;
      }
    })();
    const waitFor = async (ok: () => boolean) => {
      while (!ok() && Date.now() < deadline) await sleep(5);
    };

    try {
      // The first server: SIGTERM once it has acknowledged 300 signals, publishers still publishing.
      await waitFor(() => [...acked.values()].some((a) => a.length >= 300));
      const [firstEpoch] = [...acked.keys()];
      await servers[0]!.stop();
      publishTo = undefined;
      const firstCount = ackedIn(firstEpoch!).length;
      // A new server behind the same address: its logs start again at sequence 1, in a new epoch.
      servers.push(await startServer(["--shutdown-grace-ms", "5000"]));
      proxy.retarget(portOf(servers[1]!));
      publishTo = clientOf(servers[1]!);
      await waitFor(() => acked.size === 2 && [...acked.values()][1]!.length >= 300 && made >= cuts);
      publishing = false;
      await Promise.all(publishers);
      await cutting;
      const [, secondEpoch] = [...acked.keys()];
      target = { epoch: secondEpoch!, count: ackedIn(secondEpoch!).length };
      await Promise.all(following);

      expect(made).toBe(cuts);
      expect(acked.size).toBe(2);
      expect(firstCount).toBeGreaterThanOrEqual(300);
      const upTo = (n: number) => Array.from({ length: n }, (_, i) => BigInt(i + 1));
      // Acknowledged in order on each server, all of the second one's published (nothing was cut short there).
      expect(ackedIn(secondEpoch!).slice().sort((a, b) => Number(a - b))).toEqual(upTo(target.count));
      for (const f of followers) {
        const first = f.byEpoch.get(firstEpoch!) ?? [];
        // The first log: gap-free from 1, in order, each once, holding every acknowledged signal (a publish cut
        // short by the shutdown may have been stored without its acknowledgement reaching the publisher).
        expect(first, `${f.id}: first log`).toEqual(upTo(first.length));
        expect(first.length, `${f.id}: acknowledged signals of the first server missing`).toBeGreaterThanOrEqual(Math.max(...ackedIn(firstEpoch!).map(Number)));
        expect(f.byEpoch.get(secondEpoch!), `${f.id}: second log`).toEqual(upTo(target.count));
        expect([...f.byEpoch.keys()].sort()).toEqual([firstEpoch, secondEpoch].sort());
        expect(f.endings.filter((e) => e.code === "no status"), `${f.id}: streams ended without a status`).toEqual([]);
        expect(f.endings.filter((e) => e.reason === "EPOCH_CHANGED").length, `${f.id}: resumed into the new log without EPOCH_CHANGED`).toBeGreaterThanOrEqual(1);
        expect(f.wrongResumePoints, `${f.id}: SHUTTING_DOWN with a wrong resume point`).toEqual([]);
        expect(f.wrongEpochs, `${f.id}: signals of another epoch than their stream's`).toEqual([]);
      }
      // The shutdown ended the streams it found open with UNAVAILABLE SHUTTING_DOWN (a stream cut at that very
      // moment may have been reconnecting instead).
      const shutdownEndings = followers.flatMap((f) => f.endings.filter((e) => e.reason === "SHUTTING_DOWN"));
      expect(shutdownEndings.length).toBeGreaterThanOrEqual(followers.length / 2);
      for (const e of shutdownEndings) expect(e.code).toBe(Code.Unavailable);
    } finally {
      publishing = false;
      target ??= { epoch: "", count: 0 };
      proxy.close();
      for (const s of servers) await s.stop();
    }
  }, 90_000);
});
