/** A small deterministic generator (mulberry32) from `seed`: numbers in [0, 1), the same ones for the same seed. */
export function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Reproducible network hops for the fake shared backends: delays of 0 to `maxDelayMs` ms drawn from `seed`. */
export interface SeededDelays {
  /** Resolves after the next delay. */
  hop(): Promise<void>;
  /** Hops not yet resolved. */
  readonly inFlight: number;
  /** Resolves (on a later turn) once no hop is in flight. */
  idle(): Promise<void>;
}

/** Creates {@link SeededDelays}. */
export function createSeededDelays(seed: number, maxDelayMs: number): SeededDelays {
  const random = seededRandom(seed);
  let inFlight = 0;
  let waiting: (() => void)[] = [];
  return {
    hop: () =>
      new Promise<void>((resolve) => {
        inFlight++;
        setTimeout(() => {
          resolve();
          if (--inFlight === 0) {
            const woken = waiting;
            waiting = [];
            for (const w of woken) setImmediate(w);
          }
        }, Math.floor(random() * (maxDelayMs + 1)));
      }),
    get inFlight() {
      return inFlight;
    },
    idle: () => (inFlight === 0 ? new Promise((r) => setImmediate(r)) : new Promise((r) => waiting.push(r))),
  };
}
