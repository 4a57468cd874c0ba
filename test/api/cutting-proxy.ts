import * as net from "node:net";

/** A TCP proxy on 127.0.0.1 whose live connections can be cut at any moment, and whose target can change. */
export interface CuttingProxy {
  readonly port: number;
  /** Cuts (destroys) one live connection at random; false when there was none. */
  cutOne(): boolean;
  /** Sockets open now (each connection counts its two sides). */
  readonly openSockets: number;
  /** Cuts every live connection (a network drop); returns how many sockets were cut. */
  cutAll(): number;
  /** Sends new connections to `port` from now on (a restarted server behind the same address). */
  retarget(port: number): void;
  close(): void;
}

/** Starts a {@link CuttingProxy} to 127.0.0.1:`target`. */
export async function cuttingProxy(target: number): Promise<CuttingProxy> {
  const live = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    client.pipe(upstream).pipe(client);
    for (const s of [client, upstream]) {
      s.on("error", () => {});
      live.add(s);
      s.once("close", () => live.delete(s));
    }
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    cutOne() {
      const all = [...live];
      const victim = all[Math.floor(Math.random() * all.length)];
      victim?.destroy();
      return victim !== undefined;
    },
    get openSockets() {
      return live.size;
    },
    cutAll() {
      const all = [...live];
      for (const s of all) s.destroy();
      return all.length;
    },
    retarget(port) {
      target = port;
    },
    close() {
      for (const s of live) s.destroy();
      server.close();
    },
  };
}
