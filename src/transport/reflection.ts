import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { ReflectionService } from "@grpc/reflection";
import { descriptorSetBase64 } from "../../gen/ts/descriptor-set.js";

/** The health service's name, as reflection lists it. */
export const healthServiceName = "grpc.health.v1.Health";

/** The reflection services' names (v1 and v1alpha). */
export const reflectionServiceNames = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"] as const;

/**
 * Server reflection (v1 and v1alpha) over the descriptors `buf build` made of every served file, source info
 * included: `grpcurl describe`, `buf curl` and Postman show the contract's comments, and grpcurl decodes
 * `google.rpc` error details and calls `grpc.health.v1.Health`. Lists `services` only.
 */
export function createReflection(services: readonly string[]): ReflectionService {
  const set = fromBinary(FileDescriptorSetSchema, Buffer.from(descriptorSetBase64, "base64"));
  const fileDescriptorProtos = set.file.map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f)));
  // @grpc/reflection reads file descriptors from a proto-loader package definition: one entry carrying them all.
  return new ReflectionService({ consort: { fileDescriptorProtos } } as never, { services: [...services] });
}
