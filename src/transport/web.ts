import { existsSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Code, ConnectError, cors as connectCors, createConnectRouter, type Interceptor } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { Registry } from "prom-client";
import sirv from "sirv";
import type { DescMessage } from "@bufbuild/protobuf";
import { wireFormatOf } from "../binding/call-context.js";
import { handlerOf, type ServiceBinding } from "../binding/service-binding.js";
import { invalidFields } from "../core/errors.js";
import { clientGoneReason } from "./cancel-reason.js";
import { toConnectError, toWireError } from "./errors.js";
import { OK, type CallObserver } from "./observe.js";
import { createShutdownFanout, type ShutdownFanout } from "./shutdown-fanout.js";
import { binaryResponseToText, isGrpcWebText, textRequestToBinary } from "./web-grpc-web-text.js";
import { http2Required } from "./web-http2-required.js";
import { withErrorDetails } from "./web-status-details.js";
import { illFormedStrings } from "./well-formed.js";

/** Options of {@link startWebServer}. */
export interface WebServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly services: readonly ServiceBinding[];
  readonly observer: CallObserver;
  readonly maxMessageBytes: number;
  /** Served at `GET /metrics`. */
  readonly registry: Registry;
  /** Origins allowed to call from a browser (CORS); `*` allows any. @default [] (same origin only) */
  readonly corsOrigins?: readonly string[];
  /** Request headers allowed origins may send besides the protocols' own (preflights answer them). @default [] */
  readonly corsHeaders?: readonly string[];
  /** Aborted when the server shuts down: every call's context signal aborts with its reason. */
  readonly shutdownSignal: AbortSignal;
  /**
   * Directory of the built operator dashboard (`npm run build` writes dist/dashboard), served at `/` to GET and
   * HEAD. Unset or missing: `/` answers 404 saying so.
   * @default undefined
   */
  readonly dashboardDir?: string;
  /** Milliseconds of quiet before TCP keepalive probes a connection (a vanished peer is then dropped). @default 30000 */
  readonly keepaliveMs?: number;
}

/** A running HTTP/1.1 server for browsers and operators. */
export interface WebServer {
  readonly port: number;
  /** Stops accepting and answers 503 on /healthz. */
  drain(): void;
  /** Waits for open requests up to `graceMs`, then closes every connection. */
  close(graceMs: number): Promise<void>;
  /** Calls whose response is not over yet. */
  readonly openCalls: number;
}

/** How a call the interceptor saw ended without an error: OK, or how the client went away (cancel, deadline). */
function endCode(signal: AbortSignal): number {
  return signal.aborted ? ConnectError.from(signal.reason ?? new ConnectError("the client went away", Code.Canceled)).code : OK;
}

function notFound(res: http.ServerResponse): void {
  res.writeHead(404);
  res.end();
}

/**
 * The dashboard's files: index.html revalidated on every load, the hashed assets cached for good; the page may load
 * scripts, styles and data only from this origin (it is bundled whole: no CDN).
 */
function serveDashboard(dir: string): ReturnType<typeof sirv> {
  return sirv(dir, {
    etag: true,
    dotfiles: false,
    setHeaders(res, pathname) {
      res.setHeader("Cache-Control", pathname.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache");
      res.setHeader("X-Content-Type-Options", "nosniff");
      res.setHeader("Referrer-Policy", "no-referrer");
      res.setHeader("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    },
  });
}

/** Throws INVALID_ARGUMENT listing every string of a JSON request that no binary client could read back. */
function requireWellFormed(desc: DescMessage, msg: object): void {
  const found = illFormedStrings(desc, msg);
  if (found.length > 0) throw invalidFields(found);
}

/** The messages of a JSON request stream, each checked by {@link requireWellFormed}. */
async function* wellFormedEach<T extends object>(desc: DescMessage, messages: AsyncIterable<T>): AsyncIterable<T> {
  for await (const m of messages) {
    requireWellFormed(desc, m);
    yield m;
  }
}

/**
 * Maps domain errors to Connect errors (with their ErrorInfo) and logs and measures each call, like the gRPC
 * bridge does. Rejects a JSON request holding a string no binary client could read back (well-formed.ts). A
 * stream the client cancelled is recorded as `canceled`, not OK: the request's signal has aborted before the
 * stream ended (after a normal end it aborts only later).
 */
function observing(observer: CallObserver): Interceptor {
  return (next) => async (req) => {
    const name = `${req.service.typeName}/${req.method.name}`;
    const obs = observer.start(name, "web", req.stream ? undefined : req.message);
    const json = wireFormatOf({ requestHeader: req.header }) === "json";
    let res;
    try {
      if (json && !req.stream) requireWellFormed(req.method.input, req.message);
      res = await next(json && req.stream ? { ...req, message: wellFormedEach(req.method.input, req.message) } : req);
    } catch (err) {
      const w = toWireError(err);
      obs.end({ code: w.code, error: w });
      throw toConnectError(err);
    }
    if (!res.stream) {
      obs.end({ code: OK });
      return res;
    }
    const source = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* source;
          obs.end({ code: endCode(req.signal) });
        } catch (err) {
          const w = toWireError(err);
          obs.end(req.signal.aborted ? { code: endCode(req.signal) } : { code: w.code, error: w });
          throw toConnectError(err);
        }
      })(),
    };
  };
}

/** The request's deadline (ms since the epoch) from its Connect or gRPC-Web timeout header, if any. */
function deadlineOf(header: Headers): number | undefined {
  const connect = header.get("connect-timeout-ms");
  if (connect !== null) return /^\d{1,10}$/.test(connect) ? Date.now() + Number(connect) : undefined;
  const grpcTimeout = header.get("grpc-timeout");
  const m = grpcTimeout === null ? null : /^(\d{1,8})([HMSmun])$/.exec(grpcTimeout);
  if (m === null) return undefined;
  const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }[m[2] as "H"];
  return Date.now() + Number(m[1]) * unitMs;
}

/**
 * The request with a signal that aborts when the client goes away, with a reason that says whether it was a
 * cancel or the deadline (HTTP/1.1 tells neither), as the gRPC port does; and when the server shuts down (through
 * the fan-out, with `ServerShutdown`). `release` stops both once the call is over.
 */
function callSignal(req: UniversalServerRequest, shutdown: ShutdownFanout): { req: UniversalServerRequest; release: () => void } {
  const deadlineAt = deadlineOf(req.header);
  const ac = new AbortController();
  const gone = () => ac.abort(clientGoneReason(deadlineAt));
  req.signal.addEventListener("abort", gone, { once: true });
  const unregister = shutdown.add(ac);
  return {
    req: { ...req, signal: ac.signal },
    release: () => {
      req.signal.removeEventListener("abort", gone);
      unregister();
    },
  };
}

/**
 * Starts the HTTP/1.1 server: Connect and gRPC-Web (binary and text) for browsers, from the same service
 * implementations as native gRPC; `GET /metrics` (Prometheus), `GET /healthz` and the operator dashboard at `/`. Every error carries an
 * ErrorInfo, also those connect raises on its own (web-status-details.ts). Responses are not compressed
 * (browsers' Connect and gRPC-Web clients do not ask for it).
 */
export async function startWebServer(o: WebServerOptions): Promise<WebServer> {
  let draining = false;
  const router = createConnectRouter({
    grpc: false,
    grpcWeb: true,
    connect: true,
    readMaxBytes: o.maxMessageBytes,
    writeMaxBytes: o.maxMessageBytes,
    acceptCompression: [],
    // No `shutdownSignal` here: connect would add a listener to the one shared signal per call, O(open calls)
    // each (see shutdown-fanout.ts); each call's own signal reaches the shutdown through the fan-out instead.
    interceptors: [observing(o.observer)],
  });
  for (const b of o.services) {
    // Every method gets a handler; one without an implementation answers METHOD_NOT_IMPLEMENTED, as over gRPC.
    const impl = Object.fromEntries(b.service.methods.map((m) => [m.localName, handlerOf(b, m).bind(b.impl)]));
    router.service(b.service, impl as never);
  }
  const handlers = new Map<string, UniversalHandler>(router.handlers.map((h) => [h.requestPath, h]));
  const bidiPaths = new Set(o.services.flatMap((b) => b.service.methods.filter((m) => m.methodKind === "bidi_streaming").map((m) => `/${b.service.typeName}/${m.name}`)));
  const transportError = (path: string) => (w: ReturnType<typeof toWireError>) => o.observer.start(path.slice(1), "web", undefined).end({ code: w.code, error: w });

  const shutdown = createShutdownFanout(o.shutdownSignal);
  // Calls whose response is not yet over: on close, connections are cut as soon as there is none (and a request
  // still being received is cut at once: its client stalled, or it would not matter).
  const active = new Set<http.IncomingMessage>();
  const serveRpc = async (h: UniversalHandler, req: http.IncomingMessage, res: http.ServerResponse) => {
    const call = callSignal(universalRequestFromNodeRequest(req, res, undefined, undefined), shutdown);
    active.add(req);
    // The response's "close" ends the call however it went (connect's writer may never settle its promise once
    // the response is done): the call leaves the shutdown fan-out and the count here exactly once.
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      active.delete(req);
      call.release();
    };
    res.once("close", release);
    try {
      await serveCall(h, call.req, req, res);
    } finally {
      release();
    }
  };
  const serveCall = async (h: UniversalHandler, uReqIn: UniversalServerRequest, req: http.IncomingMessage, res: http.ServerResponse) => {
    if (bidiPaths.has(h.requestPath)) {
      const { response, error } = http2Required(h.requestPath.slice(1), req.headers["content-type"] ?? "");
      transportError(h.requestPath)(error);
      await universalResponseToNodeResponse(response, res);
      return;
    }
    let uReq = uReqIn;
    const text = isGrpcWebText(uReq);
    if (text) uReq = textRequestToBinary(uReq);
    let uRes = await withErrorDetails(await h(uReq), transportError(h.requestPath));
    if (text) uRes = binaryResponseToText(uRes);
    // A call refused before its request was read to the end (too large, undecodable) leaves the rest of the body
    // unread on a paused stream: the connection could never carry another request, and a client reusing it would
    // hang. It is closed after this response instead.
    if (!req.complete) {
      const header = new Headers(uRes.header);
      header.set("connection", "close");
      uRes = { ...uRes, header };
    }
    await universalResponseToNodeResponse(uRes, res);
  };

  const dashboard = o.dashboardDir !== undefined && existsSync(join(o.dashboardDir, "index.html")) ? serveDashboard(o.dashboardDir) : undefined;
  const origins = new Set(o.corsOrigins ?? []);
  const allowedHeaders = [...connectCors.allowedHeaders, ...(o.corsHeaders ?? [])].join(", ");
  const server = http.createServer({ keepAlive: true, keepAliveInitialDelay: o.keepaliveMs ?? 30_000 }, (req, res) => {
    const origin = req.headers.origin;
    if (origin !== undefined && (origins.has("*") || origins.has(origin))) {
      res.setHeader("Access-Control-Allow-Origin", origin);
      res.setHeader("Vary", "Origin");
      res.setHeader("Access-Control-Expose-Headers", connectCors.exposedHeaders.join(", "));
      if (req.method === "OPTIONS") {
        res.writeHead(204, {
          "Access-Control-Allow-Methods": connectCors.allowedMethods.join(", "),
          "Access-Control-Allow-Headers": allowedHeaders,
          "Access-Control-Max-Age": "7200",
        });
        res.end();
        return;
      }
    }
    const path = (req.url ?? "").split("?", 1)[0] ?? "";
    const h = handlers.get(path);
    if (h !== undefined) {
      serveRpc(h, req, res).catch(() => {
        // The response could not be written (the client went away): nothing is left to answer.
        res.destroy();
      });
      return;
    }
    if (req.method === "GET" && req.url === "/metrics") {
      o.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "Content-Type": o.registry.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    if (req.method === "GET" && req.url === "/healthz") {
      res.writeHead(draining ? 503 : 200, { "Content-Type": "text/plain" });
      res.end(draining ? "draining\n" : "ok\n");
      return;
    }
    if (dashboard !== undefined && (req.method === "GET" || req.method === "HEAD")) {
      dashboard(req, res, () => notFound(res));
      return;
    }
    if (req.method === "GET" && path === "/") {
      res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("The dashboard is not built: run `npm run build`, then start the server again.\n");
      return;
    }
    notFound(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    drain() {
      draining = true;
    },
    get openCalls() {
      return active.size;
    },
    close(graceMs) {
      return new Promise<void>((resolve) => {
        // Connections are cut once every call's response is written out (a client that stalled mid-request or
        // never reads again must not hold the process), or when the grace period is over.
        const cut = () => {
          clearTimeout(timer);
          clearInterval(poll);
          server.closeAllConnections();
        };
        const timer = setTimeout(cut, graceMs);
        const poll = setInterval(() => {
          if (active.size === 0) cut();
        }, 10);
        for (const req of active) if (!req.complete) req.socket.destroy();
        server.close(() => {
          clearTimeout(timer);
          clearInterval(poll);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
