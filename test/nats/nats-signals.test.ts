import { afterEach, describe, expect, it } from "vitest";
import { startNatsSignals, type NatsSignals } from "../../src/backend/nats/nats-signals.js";
import { defaultLimits } from "../../src/core/limits.js";
import { createContextEngine } from "../../src/core/context/context-engine.js";
import { createDependencyEngine } from "../../src/core/dependencies/dependency-engine.js";
import { createSignalEngine } from "../../src/core/signals/signal-engine.js";
import { createStore } from "../../src/core/store.js";
import { useNatsServer } from "./fixture.js";

/** startNatsSignals: one replica's backends on a real nats-server, as src/app.ts wires them (its `prepare` hooks). */
const nats = useNatsServer();
const started: NatsSignals[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

describe("startNatsSignals", () => {
  it("does not begin again a coordination deleted here when a call that must not create one comes right after", async () => {
    const signals = await startNatsSignals({ url: nats.url, historyLimit: 100, onError: () => {} });
    started.push(signals);
    const store = createStore();
    const engine = createSignalEngine({ store, limits: defaultLimits, backend: signals.backend });
    // The serve step loads dependencies and contexts too: their engines are connected to their backends, as in the app.
    createContextEngine({ store, limits: defaultLimits, backend: signals.contexts });
    createDependencyEngine({ store, limits: defaultLimits, signals: engine, backend: signals.dependencies });
    await signals.prepare("c");
    await engine.publish({ coordinationId: "c", type: "agent_completed" });
    // DeleteCoordination here: the store drops it at once, the purges and the meta's delete follow.
    store.delete("c");
    // GetCoordination right after: it serves the coordination only if it exists here or on another replica.
    await signals.prepareExisting("c", store.peek("c") !== undefined);
    expect(signals.backend.isServed("c")).toBe(false);
    expect(store.peek("c")).toBeUndefined();
  });
});
