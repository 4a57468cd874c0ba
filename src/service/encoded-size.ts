import { toBinary, toJsonString, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { WireFormat } from "../binding/call-context.js";
import { varintSize } from "../binding/pre-encoded.js";

/**
 * What responses cost as sent, so that batches and pages are bounded by the bytes they will take on the wire in
 * the call's format — protobuf binary, or JSON for Connect JSON clients — and cut short, never failed.
 */

/** Bytes a message's binary encoding of `bytes` adds as an element of a repeated field numbered 1–15: tag, length, bytes. */
export const binaryElementSize = (bytes: number): number => 1 + varintSize(bytes) + bytes;

/** Bytes a message's JSON of `bytes` adds as an element of a JSON array: its text and a comma. */
export const jsonElementSize = (bytes: number): number => bytes + 1;

/** UTF-8 bytes of `message` as JSON (as connect writes it: `toJson`, then `JSON.stringify`). */
export function jsonBytes<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): number {
  return Buffer.byteLength(toJsonString(schema, message));
}

/** Bytes `message` adds as an element of a repeated message field (number 1–15) of a response in `format`. */
export function elementSize<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>, format: WireFormat): number {
  return format === "json" ? jsonElementSize(jsonBytes(schema, message)) : binaryElementSize(toBinary(schema, message).byteLength);
}

/**
 * Bytes kept free in every page and batch for what is not an element: the response's own fields (a page token,
 * a flag), its JSON braces and field names. Tokens are short (a cursor and a 22-character fingerprint), so 1 KiB
 * is ample.
 */
export const responseReserveBytes = 1024;

/**
 * A page's messages, each built once from its core item: measured for the engine's byte budget (in the response's
 * format), then sent.
 */
export function measuredMessages<T, Desc extends DescMessage>(schema: Desc, make: (item: T) => MessageShape<Desc>, format: WireFormat, maxBytes: number) {
  const built = new Map<T, MessageShape<Desc>>();
  const message = (item: T): MessageShape<Desc> => {
    let m = built.get(item);
    if (m === undefined) built.set(item, (m = make(item)));
    return m;
  };
  return { message, budget: { maxBytes, sizeOf: (item: T) => elementSize(schema, message(item), format) } };
}
