import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DependencyRecordSchema, DependencyStatus, type DependencyRecord } from "../../gen/ts/consort/v1/dependency_pb.js";
import { buildWaitGraph, targetLabel } from "../../dashboard/src/wait-graph.js";

function onAgent(agentId: string, dependencyId: string, target: string, status: DependencyStatus, message = ""): DependencyRecord {
  return create(DependencyRecordSchema, {
    coordinationId: "c",
    agentId,
    status,
    message,
    dependency: { dependencyId, target: { case: "agentCompletion", value: { agentId: target } } },
  });
}

describe("the dashboard's wait graph", () => {
  it("makes agents, resources and gates nodes and each dependency an edge with its status", () => {
    const g = buildWaitGraph([
      onAgent("coder", "plan", "planner", DependencyStatus.RESOLVED),
      create(DependencyRecordSchema, { agentId: "coder", status: DependencyStatus.IN_PROGRESS, dependency: { dependencyId: "gpu", target: { case: "resource", value: { resourceId: "gpu-1" } } } }),
      create(DependencyRecordSchema, { agentId: "tester", status: DependencyStatus.TIMEOUT, dependency: { dependencyId: "cov", target: { case: "qualityGate", value: { gateId: "coverage", threshold: 0.8 } } } }),
    ]);
    expect(g.nodes.map((n) => n.key)).toEqual(["agent:coder", "agent:planner", "resource:gpu-1", "agent:tester", "gate:coverage"]);
    expect(g.edges.map((e) => [e.from, e.to, e.status])).toEqual([
      ["agent:coder", "agent:planner", "resolved"],
      ["agent:coder", "resource:gpu-1", "in_progress"],
      ["agent:tester", "gate:coverage", "timeout"],
    ]);
    expect(g.cycles).toEqual([]);
  });

  it("finds the cycle a refused wait would have closed, and marks its nodes and edges", () => {
    const g = buildWaitGraph([
      onAgent("planner", "code", "coder", DependencyStatus.FAILED, "Dependency 'code' would close a wait cycle: planner -> coder -> planner"),
      onAgent("coder", "plan", "planner", DependencyStatus.IN_PROGRESS),
      onAgent("reviewer", "code", "coder", DependencyStatus.IN_PROGRESS),
    ]);
    expect(g.cycles).toEqual([["coder", "planner", "coder"]]);
    expect(g.nodes.filter((n) => n.onCycle).map((n) => n.label).sort()).toEqual(["coder", "planner"]);
    expect(g.edges.filter((e) => e.onCycle).map((e) => e.from).sort()).toEqual(["agent:coder", "agent:planner"]);
  });

  it("sees no cycle once a wait on it resolved, nor in a failure of another kind", () => {
    const g = buildWaitGraph([
      onAgent("planner", "code", "coder", DependencyStatus.FAILED, "Dependency 'code' would close a wait cycle: planner -> coder -> planner"),
      onAgent("coder", "plan", "planner", DependencyStatus.RESOLVED),
    ]);
    expect(g.cycles).toEqual([]);
    const h = buildWaitGraph([onAgent("a", "x", "b", DependencyStatus.FAILED, "agent b completed unsuccessfully"), onAgent("b", "y", "a", DependencyStatus.IN_PROGRESS)]);
    expect(h.cycles).toEqual([]);
  });

  it("finds a longer cycle and names it in order", () => {
    const g = buildWaitGraph([
      onAgent("a", "1", "b", DependencyStatus.IN_PROGRESS),
      onAgent("b", "2", "c", DependencyStatus.IN_PROGRESS),
      onAgent("c", "3", "a", DependencyStatus.FAILED, "Dependency '3' would close a wait cycle: c -> a -> b -> c"),
    ]);
    expect(g.cycles).toEqual([["a", "b", "c", "a"]]);
  });

  it("counts only the newest record of an agent's dependency id (records come newest first)", () => {
    const g = buildWaitGraph([onAgent("a", "1", "b", DependencyStatus.RESOLVED), onAgent("a", "1", "b", DependencyStatus.TIMEOUT)]);
    expect(g.edges.map((e) => e.status)).toEqual(["resolved"]);
  });

  it("says what a dependency waits for", () => {
    expect(targetLabel(onAgent("a", "1", "coder", DependencyStatus.PENDING))).toBe("agent coder");
    expect(targetLabel(create(DependencyRecordSchema, { dependency: { target: { case: "qualityGate", value: { gateId: "coverage", threshold: 0.8 } } } }))).toBe("gate coverage ≥ 0.8");
    expect(targetLabel(create(DependencyRecordSchema, { dependency: { target: { case: "resource", value: { resourceId: "gpu-1" } } } }))).toBe("resource gpu-1");
  });
});
