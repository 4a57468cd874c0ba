import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContextService } from "../../gen/ts/consort/v1/context_pb.js";
import { DependencyService } from "../../gen/ts/consort/v1/dependency_pb.js";
import { RoutingService } from "../../gen/ts/consort/v1/routing_pb.js";
import { SignalService } from "../../gen/ts/consort/v1/signal_pb.js";
import { startTestServer, unary, type TestServer } from "./harness.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe("the published contract", () => {
  it.each([ContextService, DependencyService])("$typeName answers UNIMPLEMENTED on both transports", async (service) => {
    const unaryMethod = service.methods.find((m) => m.methodKind === "unary")!;
    const err = await unary(server.grpcClient(service), unaryMethod.localName, {}).then(() => undefined, (e: unknown) => e as grpc.ServiceError);
    expect(err?.code).toBe(grpc.status.UNIMPLEMENTED);
    const client = createClient(service, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" }));
    const call = (client as unknown as Record<string, (r: object) => Promise<unknown>>)[unaryMethod.localName]!;
    const webErr = await call({}).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(webErr?.code).toBe(Code.Unimplemented);
  });

  it("lists every service through server reflection and reports health", async () => {
    const protoLoader = await import("@grpc/proto-loader");
    const { createRequire } = await import("node:module");
    const require = createRequire(import.meta.url);
    const reflectionProto = require.resolve("@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto");
    const def = protoLoader.loadSync(reflectionProto, { keepCase: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } } };
    const client = new pkg.grpc.reflection.v1.ServerReflection(server.grpcAddress, grpc.credentials.createInsecure());
    const call = client["ServerReflectionInfo"]!() as grpc.ClientDuplexStream<object, { list_services_response?: { service: { name: string }[] } }>;
    const reply = new Promise<{ list_services_response?: { service: { name: string }[] } }>((resolve, reject) => {
      call.once("data", resolve);
      call.once("error", reject);
    });
    call.write({ list_services: "" });
    const names = (await reply).list_services_response?.service.map((s) => s.name) ?? [];
    call.end();
    client.close();
    for (const s of [SignalService, RoutingService, ContextService, DependencyService]) expect(names).toContain(s.typeName);

    const healthDef = protoLoader.loadSync(require.resolve("grpc-health-check/proto/health/v1/health.proto"), { keepCase: true, enums: String });
    const hp = grpc.loadPackageDefinition(healthDef) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
    const health = new hp.grpc.health.v1.Health(server.grpcAddress, grpc.credentials.createInsecure());
    const status = await new Promise<{ status: string }>((resolve, reject) =>
      (health["Check"] as Function).call(health, { service: SignalService.typeName }, (e: Error | null, r: { status: string }) => (e ? reject(e) : resolve(r))),
    );
    health.close();
    expect(status.status).toBe("SERVING");
  });
});
