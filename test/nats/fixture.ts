import { connect, type NatsConnection } from "nats";
import { afterAll, afterEach, beforeAll } from "vitest";
import { startTestServer, type TestServer } from "../api/harness.js";
import { startNatsServer, type NatsServer } from "./nats-server.js";

/** What {@link useNatsServer} gives a test file. */
export interface NatsFixture {
  /** A new connection to the file's server, closed after the test that opened it. */
  connection(): Promise<NatsConnection>;
  /** The server's URL (once the file's `beforeAll` has run). */
  readonly url: string;
}

/**
 * One throwaway nats-server for the calling test file (started before its tests, stopped after them), and
 * connections that close after each test. Hooks the file registers after this call run before these at the end of
 * a test (vitest runs after-hooks in reverse), so what a test built on a connection can close first.
 */
export function useNatsServer(): NatsFixture {
  let server: NatsServer | undefined;
  const connections: NatsConnection[] = [];
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterEach(async () => {
    await Promise.all(connections.splice(0).map((nc) => nc.close()));
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    async connection() {
      if (server === undefined) throw new Error("the NATS server is not started (call connection() from a test or hook)");
      const nc = await connect({ servers: server.url });
      connections.push(nc);
      return nc;
    },
    get url() {
      if (server === undefined) throw new Error("the NATS server is not started");
      return server.url;
    },
  };
}

/** Polls `condition` every 10 ms until it holds, failing after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** What {@link useReplicas} gives a test file. */
export interface ReplicaCluster {
  /** The file's nats-server (once its `beforeAll` has run): its URL, and `crash`/`restart` for outage tests. */
  readonly nats: NatsServer;
  /** The replicas started before the file's tests, in order. */
  readonly replicas: readonly TestServer[];
  /** Another replica on the same server, with the file's options (then `extra`); closed with the others. */
  start(extra?: readonly string[]): Promise<TestServer>;
}

/**
 * A throwaway nats-server and `count` Consort replicas on it (`startTestServer`, in-process, ports 0, with
 * `--backend` and then `args`), started before the calling file's tests; every replica, those of `start` too, is
 * closed after them, then the server stopped. Hooks the file registers after this call run after these start.
 */
export function useReplicas(count: number, args: readonly string[] = []): ReplicaCluster {
  let server: NatsServer | undefined;
  const replicas: TestServer[] = [];
  const late: TestServer[] = [];
  const optionsOf = (extra: readonly string[]) => {
    if (server === undefined) throw new Error("the NATS server is not started (call from a test or hook)");
    return ["--backend", server.url, ...args, ...extra];
  };
  beforeAll(async () => {
    server = await startNatsServer();
    replicas.push(...(await Promise.all(Array.from({ length: count }, () => startTestServer(optionsOf([]))))));
  });
  afterAll(async () => {
    await Promise.all([...replicas, ...late].map((s) => s.close()));
    await server?.stop();
  });
  return {
    get nats() {
      if (server === undefined) throw new Error("the NATS server is not started");
      return server;
    },
    replicas,
    async start(extra = []) {
      const s = await startTestServer(optionsOf(extra));
      late.push(s);
      return s;
    },
  };
}
