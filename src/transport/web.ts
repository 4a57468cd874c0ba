import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, cors as connectCors, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Registry } from "prom-client";
import type { ServiceBinding } from "./grpc.js";
import { toConnectError, toWireError } from "./errors.js";
import { OK, type CallObserver } from "./observe.js";

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
}

/** A running HTTP/1.1 server for browsers and operators. */
export interface WebServer {
  readonly port: number;
  /** Stops accepting and answers 503 on /healthz. */
  drain(): void;
  /** Waits for open requests up to `graceMs`, then closes every connection. */
  close(graceMs: number): Promise<void>;
}

/** Maps domain errors to Connect errors and logs/measures each call, like the gRPC bridge does. */
function observing(observer: CallObserver): Interceptor {
  return (next) => async (req) => {
    const name = `${req.service.typeName}/${req.method.name}`;
    const obs = observer.start(name, "web", req.stream ? undefined : req.message);
    let res;
    try {
      res = await next(req);
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
          obs.end({ code: OK });
        } catch (err) {
          const w = toWireError(err);
          obs.end(req.signal.aborted ? { code: Code.Canceled } : { code: w.code, error: w });
          throw toConnectError(err);
        }
      })(),
    };
  };
}

/**
 * Starts the HTTP/1.1 server: Connect and gRPC-Web for browsers (the same service implementations as native
 * gRPC), `GET /metrics` (Prometheus) and `GET /healthz`.
 */
export async function startWebServer(o: WebServerOptions): Promise<WebServer> {
  let draining = false;
  const handler = connectNodeAdapter({
    grpc: false,
    grpcWeb: true,
    connect: true,
    readMaxBytes: o.maxMessageBytes,
    writeMaxBytes: o.maxMessageBytes,
    interceptors: [observing(o.observer)],
    routes(router) {
      for (const b of o.services) {
        router.service(b.service, b.impl as never);
      }
    },
  });
  const origins = new Set(o.corsOrigins ?? []);
  const server = http.createServer((req, res) => {
    const origin = req.headers.origin;
    if (origin !== undefined && (origins.has("*") || origins.has(origin))) {
      res.setHeader("Access-Control-Allow-Origin", origin);
      res.setHeader("Vary", "Origin");
      res.setHeader("Access-Control-Expose-Headers", connectCors.exposedHeaders.join(", "));
      if (req.method === "OPTIONS") {
        res.writeHead(204, {
          "Access-Control-Allow-Methods": connectCors.allowedMethods.join(", "),
          "Access-Control-Allow-Headers": connectCors.allowedHeaders.join(", "),
          "Access-Control-Max-Age": "7200",
        });
        res.end();
        return;
      }
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
    handler(req, res);
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
    close(graceMs) {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}

