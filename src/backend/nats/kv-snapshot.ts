import type { KV, KvEntry } from "nats";

/**
 * Every live entry of a JetStream KV bucket under `key` (a key filter, `>` for all), as of when the call began,
 * newest value per key: read with a watch that stops once caught up. `kv.keys()` is not used: on nats-server
 * 2.9.10 with nats.js 2.29 it was seen to list one key of several while the bucket was being written to.
 */
export async function kvSnapshot(kv: KV, key = ">"): Promise<KvEntry[]> {
  const entries = new Map<string, KvEntry>();
  let caughtUp!: () => void;
  const initialized = new Promise<void>((resolve) => (caughtUp = resolve));
  const watch = await kv.watch({ key, initializedFn: () => caughtUp() });
  const reading = (async () => {
    for await (const e of watch) {
      if (e.operation === "PUT") entries.set(e.key, e);
      else entries.delete(e.key);
    }
  })();
  await Promise.race([initialized, reading]);
  watch.stop();
  await reading;
  return [...entries.values()];
}
