import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { ConsortError } from "../core/errors.js";

/**
 * What both transports serve, and all they know of a service: its protobuf-es descriptor and its implementation
 * (connect's `ServiceImpl` shape: handlers by method local name, each taking the request message and a
 * `HandlerContext`). Services import this module, transports import this module; neither imports the other.
 */
export interface ServiceBinding {
  readonly service: DescService;
  /** Handlers by method local name; a missing one answers UNIMPLEMENTED (reason METHOD_NOT_IMPLEMENTED). */
  readonly impl: object;
  /**
   * Hand-written request decoders by method local name, for hot calls, used by the gRPC bridge instead of
   * `fromBinary`. Each must accept and reject exactly what `fromBinary` does, with an equal result (pinned by a
   * property-based differential test), so both transports serve the same requests.
   */
  readonly decoders?: Readonly<Record<string, (bytes: Uint8Array) => unknown>>;
}

/** A handler as the transports call it: `this` is the implementation object. */
export type MethodHandler = (this: object, request: unknown, context: unknown) => unknown;

/** The error every method without a handler answers: UNIMPLEMENTED, reason METHOD_NOT_IMPLEMENTED. */
function notImplemented(method: DescMethod): ConsortError {
  return new ConsortError("unimplemented", `${method.parent.typeName}.${method.name} is not implemented yet`, {
    reason: "METHOD_NOT_IMPLEMENTED",
    metadata: { method: `${method.parent.typeName}/${method.name}` },
  });
}

/** The binding's handler of `method`, or one that throws {@link notImplemented}. */
export function handlerOf(binding: ServiceBinding, method: DescMethod): MethodHandler {
  const fn = (binding.impl as Record<string, unknown>)[method.localName];
  if (typeof fn === "function") return fn as MethodHandler;
  const error = notImplemented(method);
  return () => {
    throw error;
  };
}

/** True when the binding implements at least one of its service's methods (health reports SERVING only then). */
export function isServing(binding: ServiceBinding): boolean {
  return binding.service.methods.some((m) => typeof (binding.impl as Record<string, unknown>)[m.localName] === "function");
}
