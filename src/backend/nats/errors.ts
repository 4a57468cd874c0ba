/** Errors the JetStream backend throws at start; at run time it returns typed results instead. */

/** The signal stream exists with a configuration other than this replica's: replicas must agree on it. */
export class SignalStreamMismatchError extends Error {
  override readonly name = "SignalStreamMismatchError";
  /** The stream's name. */
  readonly stream: string;
  /** Each setting that differs, e.g. `max_msgs_per_subject 100, not 10000`. */
  readonly differences: readonly string[];

  constructor(stream: string, differences: readonly string[]) {
    super(`stream ${stream} exists with another configuration: ${differences.join("; ")}`);
    this.stream = stream;
    this.differences = differences;
  }
}

/** A KV bucket exists with settings other than this replica's: replicas must agree on them. */
export class KvBucketMismatchError extends Error {
  override readonly name = "KvBucketMismatchError";
  /** The bucket's name. */
  readonly bucket: string;
  /** Each setting that differs, e.g. `history 5, not 1`. */
  readonly differences: readonly string[];

  constructor(bucket: string, differences: readonly string[]) {
    super(`KV bucket ${bucket} exists with other settings: ${differences.join("; ")}`);
    this.bucket = bucket;
    this.differences = differences;
  }
}
