import * as http2 from "node:http2";
import type { Code } from "@connectrpc/connect";
import type * as grpc from "@grpc/grpc-js";
import { errorInfo, statusDetailsBin, transportCondition, type WireError } from "./errors.js";

/**
 * grpc-js answers some calls itself, before or beside any Consort handler: a method that does not exist, a request
 * over the message limit, an unsupported compression, a missing or second request message, a deadline, and the
 * health and reflection services it hosts. Their statuses carry no details. This hook gives each of them a
 * `google.rpc.Status` with an ErrorInfo (reason from {@link transportCondition}) in `grpc-status-details-bin`, so
 * that every error on the gRPC port carries one.
 *
 * grpc-js has no public hook for this: the hook wraps `respond` and `sendTrailers` of each HTTP/2 stream of the
 * server's listeners, found in grpc-js's `http2Servers` field (grpc-js 1.14, pinned in package.json; a test of an
 * unknown method's ErrorInfo fails if the field moves). Statuses Consort's bridge sends already carry details and
 * pass unchanged.
 */

/** Reports a status grpc-js sent on its own (not a deadline or a cancel, which the call's handler reports). */
export type TransportErrorListener = (path: string, error: WireError) => void;

type Headers = http2.OutgoingHttpHeaders;

/** The headers with a `grpc-status-details-bin` added when they end a call with an error status that has none. */
function withDetails(stream: HookedStream, headers: Headers): Headers {
  const status = headers["grpc-status"];
  if (status === undefined || Number(status) === 0 || headers["grpc-status-details-bin"] !== undefined) return headers;
  const code = Number(status) as Code;
  let message = String(headers["grpc-message"] ?? "");
  try {
    message = decodeURIComponent(message);
  } catch {
    // Not percent-encoded: kept as is.
  }
  const c = transportCondition(code, message);
  const error: WireError = { code: c.code, message, details: [errorInfo(c.reason, c.metadata)], unexpected: false, cause: undefined };
  // A deadline or a cancel ends a call whose handler reports it.
  if (c.reason !== "DEADLINE_PASSED" && c.reason !== "CALL_CANCELED") stream[listener]?.(stream[path] ?? "", error);
  return { ...headers, "grpc-status": c.code, "grpc-status-details-bin": statusDetailsBin(error).toString("base64") };
}

const listener = Symbol("consort.transportErrorListener");
const path = Symbol("consort.path");
type HookedStream = http2.ServerHttp2Stream & { [listener]?: TransportErrorListener; [path]?: string };

let originalRespond: http2.ServerHttp2Stream["respond"] | undefined;
let originalSendTrailers: http2.ServerHttp2Stream["sendTrailers"] | undefined;

// Shared functions (no closure per stream): the call's path and listener are on the stream.
function respond(this: HookedStream, headers?: Headers, options?: http2.ServerStreamResponseOptions): void {
  (originalRespond as NonNullable<typeof originalRespond>).call(this, headers === undefined ? headers : withDetails(this, headers), options);
}
function sendTrailers(this: HookedStream, headers: Headers): void {
  (originalSendTrailers as NonNullable<typeof originalSendTrailers>).call(this, withDetails(this, headers));
}

/**
 * Installs the hook on every listener of a bound grpc-js server; `onError` hears about each status grpc-js sent on
 * its own, except deadlines and cancels (the calls' handlers report those). Throws if grpc-js no longer exposes
 * its listeners.
 */
export function addStatusDetails(server: grpc.Server, onError: TransportErrorListener): void {
  for (const h2 of http2ServersOf(server)) {
    h2.prependListener("stream", (stream: HookedStream, headers: http2.IncomingHttpHeaders) => {
      if (originalRespond === undefined) {
        const proto = Object.getPrototypeOf(stream) as http2.ServerHttp2Stream;
        originalRespond = proto.respond;
        originalSendTrailers = proto.sendTrailers;
      }
      stream[path] = headers[":path"] ?? "";
      stream[listener] = onError;
      stream.respond = respond;
      stream.sendTrailers = sendTrailers;
    });
  }
}

/** The HTTP/2 listeners of a bound grpc-js server (its private `http2Servers`); throws if grpc-js no longer has them. */
export function http2ServersOf(server: grpc.Server): http2.Http2Server[] {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) throw new Error("grpc-js no longer exposes its HTTP/2 servers (http2Servers): the transport hooks need updating");
  return [...(servers.keys() as IterableIterator<http2.Http2Server>)];
}

/** The open Consort streams of a server, as {@link trackOpenStreams} sees them. */
export interface OpenStreams {
  /** Streams not closed yet. */
  readonly open: number;
  /**
   * Resets (RST_STREAM NO_ERROR) every stream whose response is complete — its trailers sent with END_STREAM —
   * while the client has not ended its side: a bidirectional call whose client never half-closes would otherwise
   * stay open after its status. HTTP/2 allows it (RFC 9113 §8.1: the server "MAY request that the client abort
   * transmission of a request without error"), and grpc-go does the same. Streams with data still to send are left
   * alone: the reset would overtake it. Returns how many were reset.
   */
  endAnswered(): number;
}

/**
 * Tracks the HTTP/2 streams of a bound grpc-js server not yet closed whose path `counts`: a stream closes once its
 * trailers have been sent, which a client that reads slowly can hold back behind flow control after its call ended,
 * and once the client has ended its side.
 */
export function trackOpenStreams(server: grpc.Server, counts: (path: string) => boolean): OpenStreams {
  const open = new Set<http2.ServerHttp2Stream>();
  for (const h2 of http2ServersOf(server)) {
    h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      if (!counts(headers[":path"] ?? "")) return;
      open.add(stream);
      stream.once("close", () => open.delete(stream));
    });
  }
  return {
    get open() {
      return open.size;
    },
    endAnswered() {
      let reset = 0;
      for (const stream of open) {
        // nghttp2 marks a stream half-closed (local) once its END_STREAM frame has gone out, not when it is queued.
        if (!stream.closed && stream.state.state === http2.constants.NGHTTP2_STREAM_STATE_HALF_CLOSED_LOCAL) {
          stream.close(http2.constants.NGHTTP2_NO_ERROR);
          reset++;
        }
      }
      return reset;
    },
  };
}
