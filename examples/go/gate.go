package main

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// Common pattern 3, a quality-gate dependency, as two processes: test-gen waits until the gate "coverage_gate"
// reaches 0.8; coverage reports a score of 0.85. Either may start first: the wait is checked against the gate's
// current score when it registers, then woken by the score.
var qualityGate = Scenario{
	Name: "gate", Title: "Pattern 3, quality gate: test-gen waits for coverage_gate >= 0.8",
	Agents: []string{"test-gen", "coverage"},
	Roles:  map[string]func(*Agent) error{"test-gen": testGen, "coverage": coverage},
}

func testGen(a *Agent) error {
	a.Say("Waiting for quality gate coverage_gate (threshold 0.80)...")
	if err := a.Resolve(&consortv1.Dependency{DependencyId: "coverage_gate", Timeout: durationpb.New(waitTimeout),
		Target: &consortv1.Dependency_QualityGate{QualityGate: &consortv1.QualityGateTarget{GateId: "coverage_gate",
			Threshold: proto.Float64(0.8)}}}); err != nil {
		return err
	}
	a.Say("Quality gate passed, starting test-gen")
	if err := a.Publish(consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED,
		map[string]any{"agent_id": "test-gen", "quality_score": 0.9, "success": true}); err != nil {
		return err
	}
	a.Say("test-gen completed")
	ctx, cancel := Call()
	defer cancel()
	_, err := a.Dependencies.ClearDependencies(ctx, &consortv1.ClearDependenciesRequest{CoordinationId: a.Coord})
	if err == nil {
		_, err = a.Signals.ClearSignals(ctx, &consortv1.ClearSignalsRequest{CoordinationId: a.Coord})
	}
	if err != nil {
		return err
	}
	a.Say("Cleanup: dependencies and signals cleared")
	return nil
}

func coverage(a *Agent) error {
	a.Say("Measuring coverage...")
	ctx, cancel := Call()
	defer cancel()
	if _, err := a.Dependencies.SetQualityGateScore(ctx, &consortv1.SetQualityGateScoreRequest{CoordinationId: a.Coord,
		GateId: "coverage_gate", Score: 0.85}); err != nil {
		return err
	}
	a.Say("coverage_gate score 0.85 recorded")
	return nil
}
