import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createContextEngine } from "../../src/core/context/context-engine.js";
import type { AgentContextRecord, DistributeInput } from "../../src/core/context/types.js";
import { createStore } from "../../src/core/store.js";
import {
  contextElementSize,
  contextEncodingParts,
  contextMessage,
  contextOversize,
  jsonPerBinaryByte,
  jsonSlackBytes,
} from "../../src/service/context-messages.js";
import { contextsResponse } from "../../src/service/context-service.js";
import { encodedOf as encoded } from "../../src/binding/pre-encoded.js";
import {
  AgentContextSchema,
  DistributeContextResponseSchema,
  GetAgentContextResponseSchema,
  ListAgentContextsResponseSchema,
  WatchAgentContextResponseSchema,
} from "../../gen/ts/consort/v1/context_pb.js";
import { fuzzRuns } from "../fuzz-runs.js";

/**
 * The context response fast path: a context's binary encoding is framed from cached parts (its own fields, the
 * shared intelligence encoded once per copy), and its JSON size is measured from its parts or bounded from its
 * binary size. Each must agree exactly with protobuf-es (`toBinary`, `toJsonString`), for any context.
 */

// Strings that stress both encodings: control characters (6 bytes each as JSON), quotes, multi-byte characters.
const text = fc.string({ unit: fc.oneof(fc.constantFrom("\u0000", "\u0001", "\u001f", '"', "\\", "é", "😀", "\u2028"), fc.string({ minLength: 1, maxLength: 1 })), maxLength: 12 });
const id = fc.string({ unit: fc.oneof(fc.constantFrom("\u0001", "é"), fc.string({ minLength: 1, maxLength: 1 })), minLength: 1, maxLength: 8 });
const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as never);
const object = fc.dictionary(text, json, { maxKeys: 3 });
const lists = fc.dictionary(text, fc.array(text, { maxLength: 3 }), { maxKeys: 3 });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const assignment = fc.record(
  {
    agentId: id,
    agentRole: text,
    objective: text,
    tasks: fc.array(fc.string({ minLength: 1, maxLength: 5 }), { maxLength: 3 }),
    // Agents outside the distribution (no cycle possible), each once.
    dependencies: fc.uniqueArray(id.map((x) => `ext-${x}`), { maxLength: 3 }),
    inputData: object,
    outputRequirements: object,
    successCriteria: object,
    protocols: fc.record(
      {
        updateIntervalMs: maybe(fc.oneof(fc.constant(100), fc.integer({ min: 100, max: 2 ** 31 - 1 }))),
        heartbeatIntervalMs: maybe(fc.constantFrom(100, 127, 128, 2 ** 31 - 1)),
        statusChannel: maybe(fc.string({ minLength: 1, maxLength: 4 })),
        coordinationEndpoint: maybe(text),
      },
      { requiredKeys: [] },
    ),
    allocation: fc.record(
      {
        maxRetryAttempts: maybe(fc.constantFrom(0, 1, 2 ** 31 - 1)),
        qualityThreshold: maybe(fc.oneof(fc.constantFrom(0, 1, 0.5), fc.double({ min: 0, max: 1, noNaN: true }))),
        maxMemoryMb: maybe(fc.integer({ min: 1, max: 2 ** 31 - 1 })),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ["agentId"] },
);

const distribution = fc.record({
  assignments: fc.uniqueArray(assignment, { minLength: 1, maxLength: 4, selector: (a) => a.agentId }),
  parentWorkflowId: text,
  sharedIntelligence: fc.record(
    { type_registry: object, validation_rules: object, pattern_library: lists, dependency_graph: lists, naming_conventions: fc.dictionary(text, text, { maxKeys: 3 }) },
    { requiredKeys: [] },
  ),
  // An update of any part (data of the part's shape), applied twice: the agent fields cached across updates.
  update: fc.option(
    fc.record({
      change: fc.oneof(
        fc.record({ part: fc.constantFrom("type_registry", "validation_rules"), data: object }),
        fc.record({ part: fc.constantFrom("pattern_library", "dependency_graph"), data: lists }),
        fc.record({ part: fc.constant("naming_conventions"), data: fc.dictionary(text, text, { maxKeys: 3 }) }),
      ),
      version: fc.boolean(),
    }),
    { nil: undefined },
  ),
  // When it is stored: whole seconds (no nanos), the epoch itself, any millisecond.
  now: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 33 }).map((s) => s * 1000), fc.integer({ min: 0, max: 2 ** 43 })),
});

/** Stored contexts for a random distribution (and, sometimes, an update that gives some agents their own copy). */
function recordsOf(d: {
  assignments: unknown[];
  parentWorkflowId: string;
  sharedIntelligence: object;
  update: { change: { part: string; data: object }; version: boolean } | undefined;
  now: number;
}): AgentContextRecord[] {
  const e = createContextEngine({ store: createStore(), now: () => d.now });
  const { now: _now, update: _update, ...input } = d;
  const page = e.distribute({ coordinationId: "c", sessionId: "s", ...(input as unknown as Omit<DistributeInput, "coordinationId" | "sessionId">) });
  if (d.update === undefined) return [...page.contexts];
  const first = page.contexts[0] as AgentContextRecord;
  for (let i = 0; i < 2; i++) {
    const r = e.update({ coordinationId: "c", part: d.update.change.part, data: d.update.change.data as never, targetAgentIds: [first.assignment.agentId], incrementVersion: d.update.version });
    expect(r.results[first.assignment.agentId]).toBe(true);
  }
  return page.contexts.map((r) => e.get("c", r.assignment.agentId));
}

describe("context encodings", () => {
  it("frames exactly toBinary's bytes, measures exactly toJsonString's size, and keeps JSON within the bound", () => {
    fc.assert(
      fc.property(distribution, (d) => {
        for (const r of recordsOf(d)) {
          const message = contextMessage(r);
          const binary = toBinary(AgentContextSchema, message);
          expect(Buffer.concat(contextEncodingParts(r))).toEqual(Buffer.from(binary));
          const json = Buffer.byteLength(toJsonString(AgentContextSchema, message));
          expect(contextElementSize("json")(r)).toBe(json + 1);
          expect(json).toBeLessThanOrEqual(binary.length * jsonPerBinaryByte + jsonSlackBytes);
        }
      }),
      { numRuns: fuzzRuns(300) },
    );
  }, 300_000);

  it("frames exactly toBinary's bytes for every response that carries contexts", () => {
    fc.assert(
      fc.property(distribution, fc.bigInt({ min: 0n, max: 2n ** 53n }), fc.string({ maxLength: 30 }), (d, revision, token) => {
        const records = recordsOf(d);
        const messages = records.map(contextMessage);
        // The attached bytes and the message itself (its contexts made on demand) both encode as toBinary would.
        const check = (m: object, expected: Uint8Array, schema: Parameters<typeof toBinary>[0]) => {
          expect(Buffer.from(encoded(m) ?? [])).toEqual(Buffer.from(expected));
          expect(Buffer.from(toBinary(schema, m as never))).toEqual(Buffer.from(expected));
        };
        const rest = { revision, nextPageToken: token };
        for (const schema of [DistributeContextResponseSchema, ListAgentContextsResponseSchema]) {
          check(contextsResponse(schema, rest, "contexts", records, true), toBinary(schema, create(schema, { ...rest, contexts: messages })), schema);
          expect(contextsResponse(schema, rest, "contexts", records, false)).toEqual(create(schema, { ...rest, contexts: messages }));
        }
        const r0 = records[0] as AgentContextRecord;
        const get = GetAgentContextResponseSchema;
        check(contextsResponse(get, {}, "context", [r0], true), toBinary(get, create(get, { context: contextMessage(r0) })), get);
        const watch = WatchAgentContextResponseSchema;
        check(contextsResponse(watch, { revision }, "state", [r0], true), toBinary(watch, create(watch, { state: { case: "context", value: contextMessage(r0) }, revision })), watch);
      }),
      { numRuns: fuzzRuns(150) },
    );
  }, 300_000);

  it("flags a context over the limit by its larger encoding, and only then", () => {
    fc.assert(
      fc.property(distribution, fc.integer({ min: 64, max: 4000 }), (d, max) => {
        for (const r of recordsOf(d)) {
          const message = contextMessage(r);
          const larger = Math.max(toBinary(AgentContextSchema, message).length, Buffer.byteLength(toJsonString(AgentContextSchema, message)));
          expect(contextOversize(max)(r)).toBe(larger > max ? larger : undefined);
        }
      }),
      { numRuns: fuzzRuns(300) },
    );
  }, 300_000);
});

