import { BinaryWriter } from "@bufbuild/protobuf/wire";

/**
 * Bytes of output above which the shared writer's buffer is dropped after use instead of kept, so that one large
 * message does not leave its buffer allocated for good.
 */
const keepBufferBytes = 64 * 1024;

let shared = new BinaryWriter();
let busy = false;

/**
 * Runs `write(writer, value)` and returns what it wrote, as `writer.finish()` gives it (a copy of its own). The
 * hand-written encoders of the hot paths (a signal per publish, a PublishStream batch, a context, a routing result)
 * share one writer whose buffer has grown to fit: a fresh `BinaryWriter` starts at 128 bytes and doubles,
 * allocating and copying three or four times for a ~400-byte signal. A call made from inside `write` gets a fresh
 * writer; a `write` that throws leaves no half-written bytes behind (the shared writer is replaced).
 */
export function encodeReused<T>(write: (w: BinaryWriter, value: T) => void, value: T): Uint8Array {
  if (busy) {
    const w = new BinaryWriter();
    write(w, value);
    return w.finish();
  }
  const w = shared;
  busy = true;
  try {
    write(w, value);
  } catch (e) {
    shared = new BinaryWriter();
    throw e;
  } finally {
    busy = false;
  }
  const bytes = w.finish();
  if (bytes.length > keepBufferBytes) shared = new BinaryWriter();
  return bytes;
}
