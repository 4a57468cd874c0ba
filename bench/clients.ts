import * as grpc from "@grpc/grpc-js";
import type { DescService } from "@bufbuild/protobuf";
import { grpcServiceDefinition } from "../src/transport/grpc.js";

const passthrough = (b: Buffer) => b;

/**
 * A unary caller that sends already encoded request bytes on `path` and hands back the raw response bytes: no
 * protobuf work on the client, so two servers driven through it are compared on their own costs.
 */
export interface RawUnaryClient {
  call(payload: Buffer, callback: (err: grpc.ServiceError | null, response?: Buffer) => void): void;
  close(): void;
}

/** A {@link RawUnaryClient} on its own channel to `address` (host:port); `options` are grpc-js channel options. */
export function rawUnaryClient(address: string, path: string, options: grpc.ChannelOptions = {}): RawUnaryClient {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, ...options });
  return {
    call(payload, callback) {
      client.makeUnaryRequest(path, passthrough, passthrough, payload, callback);
    },
    close() {
      client.close();
    },
  };
}

/** A grpc-js client of a Consort service, methods by local name (callback API), on its own connection. */
export type ServiceClient = grpc.Client & Record<string, Function>;

/** A {@link ServiceClient} of `service` at `address` (host:port); `options` are grpc-js channel options. */
export function serviceClient(service: DescService, address: string, options: grpc.ChannelOptions = {}): ServiceClient {
  const Ctor = grpc.makeGenericClientConstructor(grpcServiceDefinition(service), service.typeName);
  return new Ctor(address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, ...options }) as ServiceClient;
}
