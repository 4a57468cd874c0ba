import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { defaultLimits } from "../src/core/limits.js";

describe("configuration", () => {
  it("has the documented defaults", () => {
    const c = loadConfig([], {});
    expect(c).toMatchObject({ host: "127.0.0.1", grpcPort: 50051, httpPort: 8080, logLevel: "info", shutdownGraceMs: 10_000, corsOrigins: [], corsHeaders: ["Authorization"], coordinationWatchIntervalMs: 250 });
    expect(c.limits).toEqual(defaultLimits);
  });

  it("reads the environment, and flags win over it", () => {
    const env = { CONSORT_GRPC_PORT: "6000", CONSORT_MAX_HISTORY: "50", CONSORT_CORS_ORIGINS: "http://a, http://b" };
    const c = loadConfig(["--grpc-port=7000", "--subscriber-buffer", "10"], env);
    expect(c.grpcPort).toBe(7000);
    expect(c.limits.maxHistory).toBe(50);
    expect(c.limits.subscriberBuffer).toBe(10);
    expect(c.corsOrigins).toEqual(["http://a", "http://b"]);
  });

  it("rejects bad values naming the option and the rule", () => {
    expect(() => loadConfig(["--grpc-port", "70000"], {})).toThrow(new ConfigError('--grpc-port: must be an integer from 0 to 65535, got "70000"'));
    expect(() => loadConfig(["--max-history", "0"], {})).toThrow(/--max-history: must be an integer from 1/);
    expect(() => loadConfig(["--log-level", "loud"], {})).toThrow(/--log-level: must be one of/);
    expect(() => loadConfig([], { CONSORT_HTTP_PORT: "x" })).toThrow(/^CONSORT_HTTP_PORT \(--http-port: must be an integer/);
    expect(() => loadConfig(["--nope", "1"], {})).toThrow(ConfigError);
    expect(() => loadConfig(["--coordination-watch-interval-ms", "5"], {})).toThrow(/--coordination-watch-interval-ms: must be an integer from 10 to 60000/);
    expect(() => loadConfig(["--cors-headers", "Authorization, X Tenant"], {})).toThrow(new ConfigError('--cors-headers: "X Tenant" is not a header name'));
  });

  it("turns the HTTP port off, and takes extra CORS headers", () => {
    expect(loadConfig(["--http-port", "off"], {}).httpPort).toBeUndefined();
    expect(loadConfig([], { CONSORT_CORS_HEADERS: "Authorization, X-Tenant-Id" }).corsHeaders).toEqual(["Authorization", "X-Tenant-Id"]);
  });
});

describe("--backend", () => {
  it("keeps signals in memory by default, and takes nats://host:port from the flag or the environment", () => {
    expect(loadConfig([], {}).backend).toEqual({ kind: "memory" });
    expect(loadConfig(["--backend", "nats://127.0.0.1:4222"], {}).backend).toEqual({ kind: "nats", url: "nats://127.0.0.1:4222" });
    expect(loadConfig([], { CONSORT_BACKEND: "nats://nats.internal:4222" }).backend).toEqual({ kind: "nats", url: "nats://nats.internal:4222" });
    expect(loadConfig(["--backend=memory"], { CONSORT_BACKEND: "nats://a:1" }).backend).toEqual({ kind: "memory" });
  });

  it("refuses anything else, naming the option", () => {
    for (const bad of ["", "redis://a:1", "nats://a", "nats://a:0", "nats://a:70000", "nats://u:p@a:4222", "nats://a:4222/x", "127.0.0.1:4222"]) {
      expect(() => loadConfig(["--backend", bad], {})).toThrow(/^--backend: must be memory or nats:\/\/host:port/);
    }
    expect(() => loadConfig([], { CONSORT_BACKEND: "nats:/a:1" })).toThrow(/^CONSORT_BACKEND \(--backend: must be memory or nats/);
  });
});

describe("limits that cannot work together", () => {
  it("refuses at start-up a payload limit whose largest signal could not be sent in one message", () => {
    expect(() => loadConfig(["--max-payload-bytes", "4000000"], {})).toThrow(/^--max-message-bytes: 4194304 cannot hold the largest signal .* raise --max-message-bytes to at least \d+/);
    expect(() => loadConfig(["--max-payload-bytes", "1048576", "--max-message-bytes", "4194304"], {})).toThrow(ConfigError);
    expect(loadConfig(["--max-payload-bytes", "1048576", "--max-message-bytes", "8388608"], {}).limits.maxPayloadBytes).toBe(1048576);
    expect(() => loadConfig(["--max-recipients", "100000"], {})).toThrow(/--max-recipients 100000/);
  });
});
