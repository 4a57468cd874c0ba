import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { abortKind, abortedByShutdown, ServerShutdown } from "../../src/binding/call-context.js";

const aborted = (reason: unknown) => AbortSignal.abort(reason);

describe("why a call's signal aborted", () => {
  it("tells the server's shutdown from a deadline and a cancel (every ConnectError is not a ServerShutdown)", () => {
    expect(new ConnectError("x", Code.DeadlineExceeded) instanceof ServerShutdown).toBe(false);
    expect(new ServerShutdown() instanceof ConnectError).toBe(true);
    expect(abortKind(aborted(new ServerShutdown()))).toBe("shutdown");
    expect(abortKind(aborted(new ConnectError("late", Code.DeadlineExceeded)))).toBe("deadline");
    expect(abortKind(aborted(new ConnectError("gone", Code.Canceled)))).toBe("cancelled");
    expect(abortedByShutdown(aborted(new ConnectError("gone", Code.Canceled)))).toBe(false);
    expect(abortedByShutdown(aborted(new ServerShutdown()))).toBe(true);
  });
});
