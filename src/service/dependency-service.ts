import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { abortKind, wireFormatOf } from "../binding/call-context.js";
import type { DependencyEngine, DependencyWriteReturn } from "../core/dependencies/dependency-engine.js";
import { dependencyStatuses, dependencyTypes, type DependencyInput, type DependencyRecordView, type DependencyTarget } from "../core/dependencies/types.js";
import { ConsortError, Violations } from "../core/errors.js";
import {
  ClearDependenciesResponseSchema,
  DependencyRecordSchema,
  DependencyStatus,
  DependencyStatusSchema,
  DependencyType,
  GetDependencyStatusResponseSchema,
  ListDependenciesResponseSchema,
  ResolveDependenciesResponseSchema,
  SetQualityGateScoreResponseSchema,
  SetResourceAvailabilityResponseSchema,
  type Dependency,
  type DependencyRecord,
  type DependencyService,
} from "../../gen/ts/consort/v1/dependency_pb.js";
import { checkedEnum, durationMs, enumValue, toDuration, toTimestamp } from "./convert.js";
import { measuredMessages, responseReserveBytes } from "./encoded-size.js";

/** A request's dependency (at `field`) as the core's input; a negative timeout is recorded in `v`. */
function dependencyInput(v: Violations, d: Dependency, field: string): DependencyInput {
  const timeoutMs = durationMs(v, `${field}.timeout`, d.timeout);
  const t = d.target;
  const target =
    t.case === "agentCompletion"
      ? { type: "agent_completion" as const, agentId: t.value.agentId, ...(t.value.requireSuccess !== undefined && { requireSuccess: t.value.requireSuccess }) }
      : t.case === "resource"
        ? { type: "resource_availability" as const, resourceId: t.value.resourceId }
        : t.case === "qualityGate"
          ? { type: "quality_gate" as const, gateId: t.value.gateId, ...(t.value.threshold !== undefined && { threshold: t.value.threshold }) }
          : undefined;
  return { dependencyId: d.dependencyId, ...(timeoutMs !== undefined && { timeoutMs }), target };
}

/** A stored target as its proto oneof, every default filled in. */
function targetMessage(t: DependencyTarget): Dependency["target"] {
  switch (t.type) {
    case "agent_completion":
      return { case: "agentCompletion", value: { $typeName: "consort.v1.AgentCompletionTarget", agentId: t.agentId, requireSuccess: t.requireSuccess } };
    case "resource_availability":
      return { case: "resource", value: { $typeName: "consort.v1.ResourceTarget", resourceId: t.resourceId } };
    case "quality_gate":
      return { case: "qualityGate", value: { $typeName: "consort.v1.QualityGateTarget", gateId: t.gateId, threshold: t.threshold } };
  }
}

const statusValue = (s: string) => enumValue(dependencyStatuses, s) as DependencyStatus;

/** A dependency record as its proto message. */
export function recordMessage(r: DependencyRecordView): DependencyRecord {
  return create(DependencyRecordSchema, {
    coordinationId: r.coordinationId,
    agentId: r.agentId,
    dependency: { dependencyId: r.dependencyId, timeout: toDuration(r.timeoutMs), target: targetMessage(r.target) },
    type: enumValue(dependencyTypes, r.target.type) as DependencyType,
    status: statusValue(r.status),
    message: r.message,
    startedAt: toTimestamp(r.startedAt),
    ...(r.finishedAt !== undefined && { finishedAt: toTimestamp(r.finishedAt) }),
    duration: toDuration(r.durationMs),
  });
}

/** How a call whose caller left ends: the transport's own status for a deadline or a cancel, UNAVAILABLE on shutdown. */
function endedBy(signal: AbortSignal): Error {
  if (abortKind(signal) === "shutdown") {
    return new ConsortError("unavailable", "server is shutting down; the open dependency waits of this call ended", { reason: "SHUTTING_DOWN" });
  }
  return signal.reason instanceof ConnectError ? signal.reason : new ConnectError("the client cancelled the call", Code.Canceled);
}

/** Options of {@link createDependencyService}. */
export interface DependencyServiceOptions {
  /** In memory its writes return numbers; with a shared backend, promises (awaited only then). */
  readonly engine: DependencyEngine<DependencyWriteReturn>;
  /** Largest response message in bytes: pages are cut to fit it, as encoded. */
  readonly maxMessageBytes: number;
  /**
   * A shared backend's "serve before use" (see `SignalServiceOptions.prepare`): awaited before each call touches a
   * coordination, so its completions, gates and records from other replicas are applied here first; `mayCreate`
   * false for reads and clears. Unset in memory. @default none
   */
  readonly prepare?: (coordinationId: string, mayCreate: boolean) => Promise<void> | undefined;
}

/** DependencyService: proto messages ⇄ the dependency engine. Served by both transports. */
export function createDependencyService(options: DependencyServiceOptions): ServiceImpl<typeof DependencyService> {
  const { engine, prepare } = options;
  const pageBytes = options.maxMessageBytes - responseReserveBytes;
  return {
    async resolveDependencies(req, ctx) {
      const v = new Violations();
      const dependencies = req.dependencies.map((d, i) => dependencyInput(v, d, `dependencies[${i}]`));
      const input = { coordinationId: req.coordinationId, agentId: req.agentId, dependencies };
      if (prepare !== undefined) {
        // Refused before its coordination is served: a refused call brings nothing into being, here or shared.
        engine.checkResolve(input, v.list);
        const ready = prepare(req.coordinationId, true);
        if (ready !== undefined) await ready;
      }
      const call = engine.resolve(input, v.list);
      const { signal } = ctx;
      const onAbort = () => call.abandon(abortKind(signal));
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
      try {
        const r = await call.result;
        if (signal.aborted) throw endedBy(signal);
        return create(ResolveDependenciesResponseSchema, {
          success: r.success,
          results: r.results.map((o) => ({
            dependencyId: o.dependencyId,
            status: statusValue(o.status),
            duration: toDuration(o.durationMs),
            message: o.message,
          })),
        });
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    },

    async setQualityGateScore(req) {
      if (prepare !== undefined) {
        engine.checkGateScore(req.coordinationId, req.gateId, req.score);
        const ready = prepare(req.coordinationId, true);
        if (ready !== undefined) await ready;
      }
      const released = engine.setGateScore(req.coordinationId, req.gateId, req.score);
      return create(SetQualityGateScoreResponseSchema, { releasedWaits: released instanceof Promise ? await released : released });
    },

    async setResourceAvailability(req) {
      if (prepare !== undefined) {
        engine.checkResourceAvailability(req.coordinationId, req.resourceId);
        const ready = prepare(req.coordinationId, true);
        if (ready !== undefined) await ready;
      }
      const released = engine.setResourceAvailability(req.coordinationId, req.resourceId, req.available);
      return create(SetResourceAvailabilityResponseSchema, { releasedWaits: released instanceof Promise ? await released : released });
    },

    async getDependencyStatus(req) {
      const ready = prepare?.(req.coordinationId, false);
      if (ready !== undefined) await ready;
      return create(GetDependencyStatusResponseSchema, { record: recordMessage(engine.status(req.coordinationId, req.agentId, req.dependencyId)) });
    },

    async listDependencies(req, ctx) {
      const v = new Violations();
      const statuses = req.statuses.map((s, i) => checkedEnum(v, `statuses[${i}]`, DependencyStatusSchema, dependencyStatuses, s, true));
      v.throwIfAny();
      const ready = prepare?.(req.coordinationId, false);
      if (ready !== undefined) await ready;
      const m = measuredMessages(DependencyRecordSchema, recordMessage, wireFormatOf(ctx), pageBytes);
      const page = engine.list({
        coordinationId: req.coordinationId,
        agentId: req.agentId,
        statuses: statuses.filter((s) => s !== ""),
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        budget: m.budget,
      });
      return create(ListDependenciesResponseSchema, { records: page.records.map(m.message), nextPageToken: page.nextPageToken });
    },

    async clearDependencies(req) {
      const ready = prepare?.(req.coordinationId, false);
      if (ready !== undefined) await ready;
      const cleared = engine.clear(req.coordinationId);
      return create(ClearDependenciesResponseSchema, { clearedRecords: BigInt(cleared instanceof Promise ? await cleared : cleared) });
    },
  };
}
