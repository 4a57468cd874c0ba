/** gRPC-Web and Connect streaming bodies as raw bytes: 5-byte envelopes (a flags byte, a big-endian length). */

/** One envelope around `bytes`. */
export function frame(bytes: Uint8Array, flags = 0): Buffer {
  const out = Buffer.alloc(5 + bytes.length);
  out[0] = flags;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

/** The complete envelopes of a body read so far (a partial last one is left for later). */
export function frames(bytes: Buffer): { flags: number; data: Buffer }[] {
  const out: { flags: number; data: Buffer }[] = [];
  for (let pos = 0; pos + 5 <= bytes.length; ) {
    const len = bytes.readUInt32BE(pos + 1);
    if (pos + 5 + len > bytes.length) break;
    out.push({ flags: bytes[pos] as number, data: bytes.subarray(pos + 5, pos + 5 + len) });
    pos += 5 + len;
  }
  return out;
}
