/**
 * A response may carry its own wire encoding under this symbol. The gRPC bridge sends those bytes instead of
 * serializing the message again; other transports ignore the symbol and serialize the message. Subscribe uses it
 * so that a signal fanned out to many subscribers is encoded once, Route so that its response is encoded straight
 * from the routing record.
 */
export const preEncoded: unique symbol = Symbol("consort.preEncoded");

/** A message with its wire encoding attached. */
export type PreEncoded<T extends object> = T & { [preEncoded]?: Uint8Array };

/** The wire encoding attached to `message`, if any. */
export function encodedOf(message: unknown): Uint8Array | undefined {
  return typeof message === "object" && message !== null ? (message as PreEncoded<object>)[preEncoded] : undefined;
}

/** Attaches `bytes` (the exact binary encoding of `message`) to `message` and returns it. */
export function attachEncoding<T extends object>(message: T, bytes: Uint8Array): PreEncoded<T> {
  Object.defineProperty(message, preEncoded, { value: bytes, enumerable: false });
  return message as PreEncoded<T>;
}

/**
 * Encodes repeated message field `fieldNumber` from already encoded element bytes (length-delimited). An element
 * may be given as the parts its encoding is the concatenation of (e.g. a context's own fields and its shared
 * intelligence, encoded once for every agent that shares it).
 */
export function encodeRepeatedMessages(fieldNumber: number, elements: readonly (Uint8Array | readonly Uint8Array[])[]): Uint8Array {
  const tag = (fieldNumber << 3) | 2;
  const lengthOf = (e: Uint8Array | readonly Uint8Array[]) => {
    if (e instanceof Uint8Array) return e.length;
    let n = 0;
    for (const part of e) n += part.length;
    return n;
  };
  let size = 0;
  for (const e of elements) {
    const n = lengthOf(e);
    size += varintSize(tag) + varintSize(n) + n;
  }
  const out = new Uint8Array(size);
  let pos = 0;
  for (const e of elements) {
    pos = writeVarint(out, pos, tag);
    pos = writeVarint(out, pos, lengthOf(e));
    if (e instanceof Uint8Array) {
      out.set(e, pos);
      pos += e.length;
      continue;
    }
    for (const part of e) {
      out.set(part, pos);
      pos += part.length;
    }
  }
  return out;
}

/** Bytes of `v` (a non-negative integer up to 2^53) as a varint. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes `v` (a non-negative integer up to 2^53) as a varint at `pos`; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}
