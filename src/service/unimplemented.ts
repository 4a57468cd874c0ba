import type { ServiceBinding } from "../binding/service-binding.js";
import { ContextService } from "../../gen/ts/consort/v1/context_pb.js";
import { DependencyService } from "../../gen/ts/consort/v1/dependency_pb.js";

/**
 * Services whose contract is published but whose engines land in later issues: no method has a handler, so every
 * RPC answers UNIMPLEMENTED (reason METHOD_NOT_IMPLEMENTED) on both transports, and health reports them
 * NOT_SERVING. Their descriptors are still served, so reflection lists and describes them.
 */
export const unimplementedBindings: readonly ServiceBinding[] = [
  { service: ContextService, impl: {} },
  { service: DependencyService, impl: {} },
];
