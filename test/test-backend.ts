import { startNatsServer, type NatsServer } from "./nats/nats-server.js";

/**
 * The test suite's one backend switch: `CONSORT_TEST_BACKEND=nats` runs every test that starts a Consort server
 * (test/api's harness, the built server the examples, chaos and CLI tests spawn, the browser test) with
 * `--backend nats://…` against a throwaway nats-server of its own (Debian's `nats-server -js`, NATS_SERVER names
 * another executable), stopped when that Consort server is; unset or `memory` keeps the in-memory default.
 * Python (test/python/conftest.py) and Go (test/go/server_test.go) read the same variable.
 *
 * One nats-server per Consort server, not per file: a fresh in-memory server starts with no coordinations, and so
 * does one on a fresh JetStream store; a store shared across servers would hand one test the signals of another
 * that reused its coordination id. Starting one takes some 30 ms.
 */
export type TestBackendKind = "memory" | "nats";

/** The switch's value: `memory` when unset or empty; anything else than `memory` or `nats` is an error, not memory. */
export function testBackendKind(env: NodeJS.ProcessEnv = process.env): TestBackendKind {
  const v = env["CONSORT_TEST_BACKEND"] ?? "";
  if (v === "" || v === "memory") return "memory";
  if (v === "nats") return "nats";
  throw new Error(`CONSORT_TEST_BACKEND must be memory or nats, got ${JSON.stringify(v)}`);
}

/** Whether the switch puts servers on NATS (for the few tests that state a documented difference). */
export const onNats = testBackendKind() === "nats";

/** The backend of one Consort server a test starts: the extra options to start it with, and how to stop it. */
export interface TestBackend {
  /** `[]` in memory; `["--backend", "nats://127.0.0.1:<port>"]` on NATS. */
  readonly args: readonly string[];
  /** Stops the nats-server (after the Consort server on it has closed); nothing in memory. Idempotent. */
  stop(): Promise<void>;
}

const running = new Set<NatsServer>();

/** Starts the backend for one Consort server, per the switch. */
export async function startTestBackend(): Promise<TestBackend> {
  if (!onNats) return { args: [], stop: async () => {} };
  const server = await startNatsServer();
  running.add(server);
  return {
    args: ["--backend", server.url],
    async stop() {
      if (!running.delete(server)) return;
      await server.stop();
    },
  };
}

/**
 * Stops every nats-server a test file started and did not stop (a test that failed before closing its Consort
 * server): test/test-backend-setup.ts calls it after each file, so none outlives the file.
 */
export async function stopLeftoverTestBackends(): Promise<void> {
  const left = [...running];
  running.clear();
  await Promise.all(left.map((s) => s.stop()));
}
