import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContextService } from "../../gen/ts/consort/v1/context_pb.js";
import { CoordinationService } from "../../gen/ts/consort/v1/coordination_pb.js";
import { DependencyService } from "../../gen/ts/consort/v1/dependency_pb.js";
import { RoutingService } from "../../gen/ts/consort/v1/routing_pb.js";
import { SignalService } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { frame } from "./envelopes.js";
import { grpcErrorDetails, startTestServer, unary, type TestServer } from "./harness.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** A unary call with raw bytes in and out, to any path. */
function rawUnary(path: string, body: Buffer): Promise<grpc.ServiceError | Buffer> {
  const client = new grpc.Client(server.grpcAddress, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, res) => {
      client.close();
      resolve(err ?? (res as Buffer));
    });
  });
}

/** A client of a grpc-js package definition loaded from a .proto shipped in a dependency. */
async function protoClient<T>(file: string, path: string[]): Promise<T> {
  const protoLoader = await import("@grpc/proto-loader");
  const { createRequire } = await import("node:module");
  const def = protoLoader.loadSync(createRequire(import.meta.url).resolve(file), { keepCase: true, enums: String });
  let pkg = grpc.loadPackageDefinition(def) as unknown as Record<string, unknown>;
  for (const p of path) pkg = pkg[p] as Record<string, unknown>;
  return new (pkg as unknown as grpc.ServiceClientConstructor)(server.grpcAddress, grpc.credentials.createInsecure()) as T;
}

type ReflectionReply = { list_services_response?: { service: { name: string }[] }; file_descriptor_response?: { file_descriptor_proto: Buffer[] }; error_response?: { error_message: string } };

/** One server-reflection (v1) request and its reply. */
async function reflect(request: object): Promise<ReflectionReply> {
  const client = await protoClient<grpc.Client & Record<string, () => grpc.ClientDuplexStream<object, ReflectionReply>>>(
    "@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto",
    ["grpc", "reflection", "v1", "ServerReflection"],
  );
  const call = client["ServerReflectionInfo"]!();
  const reply = new Promise<ReflectionReply>((resolve, reject) => {
    call.once("data", resolve);
    call.once("error", reject);
  });
  call.write(request);
  const r = await reply;
  call.end();
  client.close();
  return r;
}

describe("health", () => {
  it("every service is reported SERVING by grpc.health.v1; an unknown one NOT_FOUND", async () => {
    const health = await protoClient<grpc.Client & Record<string, Function>>("grpc-health-check/proto/health/v1/health.proto", ["grpc", "health", "v1", "Health"]);
    const check = (service: string) =>
      new Promise<{ status: string }>((resolve, reject) => health["Check"]!.call(health, { service }, (e: Error | null, r: { status: string }) => (e ? reject(e) : resolve(r))));
    expect((await check(SignalService.typeName)).status).toBe("SERVING");
    expect((await check(RoutingService.typeName)).status).toBe("SERVING");
    expect((await check(ContextService.typeName)).status).toBe("SERVING");
    expect((await check(DependencyService.typeName)).status).toBe("SERVING");
    expect((await check(CoordinationService.typeName)).status).toBe("SERVING");
    expect((await check("")).status).toBe("SERVING");
    const unknown = await check("no.such.Service").then(() => undefined, (e: unknown) => e as grpc.ServiceError);
    expect(unknown?.code).toBe(grpc.status.NOT_FOUND);
    expect(grpcErrorDetails(unknown as grpc.ServiceError).info?.reason).toBe("SERVICE_UNKNOWN");
    health.close();
  });
});

describe("errors grpc-js and connect raise on their own carry an ErrorInfo", () => {
  it("an unknown method over gRPC: UNIMPLEMENTED, reason METHOD_NOT_FOUND", async () => {
    const err = (await rawUnary("/consort.v1.SignalService/NoSuchMethod", Buffer.alloc(0))) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(grpcErrorDetails(err).info?.reason).toBe("METHOD_NOT_FOUND");
  });

  it("undecodable bytes over gRPC, Connect and gRPC-Web: INVALID_ARGUMENT, reason MALFORMED_MESSAGE", async () => {
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]); // a length far past the end
    for (const path of ["/consort.v1.SignalService/Publish", "/consort.v1.RoutingService/Route"]) {
      const err = (await rawUnary(path, garbage)) as grpc.ServiceError;
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(grpcErrorDetails(err).info?.reason).toBe("MALFORMED_MESSAGE");
    }
    const connect = await fetch(`${server.baseUrl}/consort.v1.SignalService/Publish`, { method: "POST", headers: { "content-type": "application/proto" }, body: garbage });
    expect(connect.status).toBe(400);
    const body = (await connect.json()) as { code: string; details?: { type: string; value: string }[] };
    expect(body.code).toBe("invalid_argument");
    const info = body.details?.find((d) => d.type === "google.rpc.ErrorInfo");
    expect(fromBinary(ErrorInfoSchema, Buffer.from(info?.value ?? "", "base64")).reason).toBe("MALFORMED_MESSAGE");

    const web = await fetch(`${server.baseUrl}/consort.v1.SignalService/Publish`, { method: "POST", headers: { "content-type": "application/grpc-web+proto" }, body: frame(garbage) });
    const trailer = Buffer.from(await web.arrayBuffer()).subarray(5).toString("latin1");
    expect(trailer).toMatch(/grpc-status: 3\r\n/);
    const details = /grpc-status-details-bin: ([A-Za-z0-9+/=]+)/.exec(trailer)?.[1] ?? "";
    expect(Buffer.from(details, "base64").toString("latin1")).toContain("MALFORMED_MESSAGE");
  });

  it("an undecodable stream request over Connect ends the stream with an ErrorInfo", async () => {
    const res = await fetch(`${server.baseUrl}/consort.v1.SignalService/Subscribe`, {
      method: "POST",
      headers: { "content-type": "application/connect+proto" },
      body: frame(Buffer.from([0x0a, 0x05])),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    const end = JSON.parse(bytes.subarray(5).toString()) as { error?: { code: string; details?: { type: string; value: string }[] } };
    expect(end.error?.code).toBe("invalid_argument");
    const info = end.error?.details?.find((d) => d.type === "google.rpc.ErrorInfo");
    expect(fromBinary(ErrorInfoSchema, Buffer.from(info?.value ?? "", "base64")).reason).toBe("MALFORMED_MESSAGE");
  });
});

describe("server reflection, for grpcurl, buf curl and Postman", () => {
  it("lists every service it serves, health included", async () => {
    const names = (await reflect({ list_services: "" })).list_services_response?.service.map((s) => s.name) ?? [];
    for (const s of [SignalService, RoutingService, ContextService, DependencyService, CoordinationService]) expect(names).toContain(s.typeName);
    expect(names).toContain("grpc.health.v1.Health");
  });

  it("serves descriptors with source info: every proto comment reaches the client", async () => {
    const reply = await reflect({ file_containing_symbol: "consort.v1.SignalService" });
    const files = (reply.file_descriptor_response?.file_descriptor_proto ?? []).map((b) => fromBinary(FileDescriptorProtoSchema, b));
    const signal = files.find((f) => f.name === "consort/v1/signal.proto");
    const comments = signal?.sourceCodeInfo?.location.map((l) => l.leadingComments) ?? [];
    expect(comments.some((c) => c.includes("SignalService carries the signals of every coordination."))).toBe(true);
    expect(comments.some((c) => c.includes("Publish appends one signal to its coordination's log"))).toBe(true);
    // Its imports come along (a client resolves google.protobuf.Struct from them).
    expect(files.map((f) => f.name)).toContain("google/protobuf/struct.proto");
  });

  it.each(["grpc.health.v1.Health", "google.rpc.ErrorInfo", "google.rpc.BadRequest", "google.rpc.Status"])("describes %s, so grpcurl can call health and decode error details", async (symbol) => {
    const reply = await reflect({ file_containing_symbol: symbol });
    expect(reply.error_response).toBeUndefined();
    expect(reply.file_descriptor_response?.file_descriptor_proto.length).toBeGreaterThan(0);
  });
});
