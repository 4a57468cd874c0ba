import { type JetStreamManager, type StreamConfig, nanos, StorageType } from "nats";
import { SignalStreamMismatchError } from "./errors.js";
import { apiErrorCode } from "./signal-head.js";
import type { JetStreamSignalLogOptions } from "./signal-log.js";
import { defaultSignalSubjectPrefix, isSubjectPrefix } from "./subject.js";

/** The signal stream: the log's options with their defaults, and the stream they describe, created or checked. */

/** JetStream API errors: no stream of that name; a stream of that name exists (with another configuration). */
const streamNotFoundCode = 10059;
const streamNameInUseCode = 10058;

/** Validated options with their defaults. */
export interface Normalized {
  readonly streamName: string;
  readonly subjectPrefix: string;
  readonly storage: StorageType;
  readonly historyLimit: number;
  readonly duplicateWindowMs: number;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
}

/** Applies the defaults and validates; throws a `RangeError` naming the first bad option. */
export function normalize(o: JetStreamSignalLogOptions): Normalized {
  const n: Normalized = {
    streamName: o.streamName ?? "CONSORT_SIGNALS",
    subjectPrefix: o.subjectPrefix ?? defaultSignalSubjectPrefix,
    storage: o.storage === "memory" ? StorageType.Memory : StorageType.File,
    historyLimit: o.historyLimit ?? 10_000,
    duplicateWindowMs: o.duplicateWindowMs ?? 120_000,
    maxAttempts: o.maxAttempts ?? 100,
    timeoutMs: o.timeoutMs ?? 5_000,
  };
  const positive = (name: string, v: number) => {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  };
  if (!/^[A-Za-z0-9_-]+$/.test(n.streamName)) throw new RangeError(`streamName must be of [A-Za-z0-9_-], got ${JSON.stringify(n.streamName)}`);
  if (!isSubjectPrefix(n.subjectPrefix)) throw new RangeError(`subjectPrefix must be a literal subject, got ${JSON.stringify(n.subjectPrefix)}`);
  positive("historyLimit", n.historyLimit);
  positive("duplicateWindowMs", n.duplicateWindowMs);
  positive("maxAttempts", n.maxAttempts);
  positive("timeoutMs", n.timeoutMs);
  return n;
}

/**
 * Creates the stream, or checks that the one there has the same subjects, storage, history limit and duplicate
 * window: every replica must agree, so a mismatch throws {@link SignalStreamMismatchError} rather than
 * reconfigure what other replicas rely on.
 */
export async function ensureStream(jsm: JetStreamManager, n: Normalized): Promise<void> {
  const wanted: Partial<StreamConfig> & { name: string } = {
    name: n.streamName,
    subjects: [`${n.subjectPrefix}.>`],
    storage: n.storage,
    max_msgs_per_subject: n.historyLimit,
    duplicate_window: nanos(n.duplicateWindowMs),
  };
  let config: StreamConfig;
  try {
    config = (await jsm.streams.info(n.streamName)).config;
  } catch (err) {
    if (apiErrorCode(err) !== streamNotFoundCode) throw err;
    try {
      config = (await jsm.streams.add(wanted)).config;
    } catch (addErr) {
      // Another replica created it meanwhile: check theirs.
      if (apiErrorCode(addErr) !== streamNameInUseCode) throw addErr;
      config = (await jsm.streams.info(n.streamName)).config;
    }
  }
  const differences = [
    config.subjects.length === 1 && config.subjects[0] === wanted.subjects?.[0] ? undefined : `subjects ${JSON.stringify(config.subjects)}, not ${JSON.stringify(wanted.subjects)}`,
    config.storage === n.storage ? undefined : `storage ${config.storage}, not ${n.storage}`,
    config.max_msgs_per_subject === n.historyLimit ? undefined : `max_msgs_per_subject ${config.max_msgs_per_subject}, not ${n.historyLimit}`,
    config.duplicate_window === wanted.duplicate_window ? undefined : `duplicate_window ${config.duplicate_window} ns, not ${wanted.duplicate_window} ns`,
  ].filter((d): d is string => d !== undefined);
  if (differences.length > 0) throw new SignalStreamMismatchError(n.streamName, differences);
}

