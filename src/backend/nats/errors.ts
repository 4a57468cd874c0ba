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
