import { encodeEnvelope, transformSplitEnvelope, type EnvelopedMessage } from "@connectrpc/connect/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rewriteStatusEnvelope } from "../../src/transport/web-status-details.js";
import { fuzzRuns } from "../fuzz-runs.js";

/**
 * The stream-body rewriter passes message envelopes through as they came and rewrites only the status envelope.
 * Pinned against connect's own envelope splitter: for any envelopes, any chunking, the same bytes as splitting
 * every envelope, rewriting the status one and encoding them all again.
 */

const STATUS = 0x80;
const rewrite = (e: EnvelopedMessage): EnvelopedMessage => ({ flags: e.flags, data: new Uint8Array([...e.data, 0x21]) });

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Uint8Array[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

async function* chunks(bytes: Uint8Array, cuts: number[]): AsyncIterable<Uint8Array> {
  let from = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
    yield bytes.subarray(from, cut);
    from = cut;
  }
  yield bytes.subarray(from);
}

/** What the rewriter must produce: every envelope split by connect, the status one rewritten, all encoded again. */
async function reference(bytes: Uint8Array): Promise<Buffer> {
  const out: Uint8Array[] = [];
  for await (const e of transformSplitEnvelope(0x7fffffff)(chunks(bytes, []))) {
    const r = (e.flags & STATUS) === STATUS ? rewrite(e) : e;
    out.push(encodeEnvelope(r.flags, r.data));
  }
  return Buffer.concat(out);
}

describe("rewriteStatusEnvelope", () => {
  it("property: for any envelopes in any chunks, exactly what splitting, rewriting the status and encoding give", async () => {
    const envelope = fc.record({ flags: fc.constantFrom(0, 1), data: fc.uint8Array({ maxLength: 300 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(envelope, { maxLength: 6 }), fc.uint8Array({ maxLength: 80 }), fc.array(fc.nat(), { maxLength: 10 }), async (messages, status, cuts) => {
        const body = Buffer.concat([...messages.map((m) => encodeEnvelope(m.flags, m.data)), encodeEnvelope(STATUS, status)]);
        const got = await collect(rewriteStatusEnvelope(chunks(body, cuts), (f) => (f & STATUS) === STATUS, rewrite));
        expect(got).toEqual(await reference(body));
      }),
      { numRuns: fuzzRuns(300) },
    );
  });

  it("passes message envelopes through as the very chunks they came in, uncopied", async () => {
    const message = encodeEnvelope(0, new Uint8Array([1, 2, 3]));
    const status = encodeEnvelope(STATUS, new Uint8Array([9]));
    const seen: Uint8Array[] = [];
    const source = async function* () {
      yield message;
      yield status;
    };
    for await (const c of rewriteStatusEnvelope(source(), (f) => f === STATUS, rewrite)) seen.push(c);
    expect(seen[0]).toBe(message);
    expect(Buffer.from(seen[1] as Uint8Array)).toEqual(Buffer.from(encodeEnvelope(STATUS, new Uint8Array([9, 0x21]))));
  });
});
