import * as net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { SignalService, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { grpcServiceDefinition } from "../../src/transport/grpc.js";
import { startTestServer } from "./harness.js";

/**
 * A subscriber whose peer vanished without closing its connection (a laptop that slept, a network cut) is dropped
 * by the server's keepalive pings, its slot freed, instead of holding it for as long as TCP takes to notice.
 * Simulated with a TCP proxy that stops forwarding without closing either side.
 */

/** A proxy to `target` whose connections can be frozen: nothing forwarded either way, nothing closed. */
async function freezableProxy(target: number) {
  const pairs: [net.Socket, net.Socket][] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("error", () => {});
    upstream.on("error", () => {});
    pairs.push([client, upstream]);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze() {
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
    close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      server.close();
    },
  };
}

describe("keepalive", () => {
  it("drops a subscriber whose peer stopped answering within the keepalive interval and timeout, and keeps a live one", async () => {
    const server = await startTestServer(["--keepalive-ms", "200", "--keepalive-timeout-ms", "200"]);
    const proxy = await freezableProxy(server.app.grpcPort);
    try {
      const Ctor = grpc.makeGenericClientConstructor(grpcServiceDefinition(SignalService), "SignalService");
      const live = new Ctor(`127.0.0.1:${server.app.grpcPort}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
      const vanishing = new Ctor(`127.0.0.1:${proxy.port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
      const open = (c: grpc.Client & Record<string, Function>, agentId: string) => {
        const s = (c["subscribe"] as (r: object) => grpc.ClientReadableStream<SubscribeResponse>).call(c, { coordinationId: "ka", agentId });
        s.on("error", () => {});
        return new Promise<grpc.ClientReadableStream<SubscribeResponse>>((r) => s.once("data", () => r(s)));
      };
      const kept = await open(live, "live");
      await open(vanishing, "gone");
      expect(server.app.signals.subscriptionCount).toBe(2);
      proxy.freeze();
      for (let i = 0; i < 300 && server.app.signals.subscriptionCount > 1; i++) await new Promise((r) => setTimeout(r, 20));
      expect(server.app.signals.subscriptionCount).toBe(1); // the frozen peer's stream is gone, the live one stays
      await new Promise((r) => setTimeout(r, 600)); // several more ping rounds: the answering peer is kept
      expect(server.app.signals.subscriptionCount).toBe(1);
      kept.cancel();
      live.close();
      vanishing.close();
    } finally {
      proxy.close();
      await server.close();
    }
  });
});
