import { ContextService } from "../../gen/ts/consort/v1/context_pb.js";
import { DependencyService } from "../../gen/ts/consort/v1/dependency_pb.js";
import type { ServiceBinding } from "../transport/grpc.js";

/**
 * Services whose contract is published but whose engines land in later issues: every RPC answers
 * UNIMPLEMENTED on both transports (an empty implementation). Their descriptors are still served, so reflection
 * lists and describes them.
 */
export const unimplementedBindings: readonly ServiceBinding[] = [
  { service: ContextService, impl: {} },
  { service: DependencyService, impl: {} },
];
