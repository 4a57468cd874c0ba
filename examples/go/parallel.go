package main

import (
	"fmt"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// Common pattern 2, parallel execution, as four processes: contract_1, contract_2 and contract_3 each get their
// context and work at the same time; the coordinator distributes the contexts and waits for all three.
var parallelExecution = Scenario{
	Name: "parallel", Title: "Pattern 2, parallel execution: contract_1..3 joined by the coordinator",
	Agents: []string{"coordinator", "contract_1", "contract_2", "contract_3"},
	Roles: map[string]func(*Agent) error{"coordinator": parallelCoordinator,
		"contract_1": contract, "contract_2": contract, "contract_3": contract},
}

var contracts = []string{"contract_1", "contract_2", "contract_3"}

func parallelCoordinator(a *Agent) error {
	ctx, cancel := Call()
	defer cancel()
	a.Say("Distributing context to contract_1, contract_2 and contract_3")
	var assignments []*consortv1.AgentAssignment
	var deps []*consortv1.Dependency
	for i, c := range contracts {
		assignments = append(assignments, &consortv1.AgentAssignment{AgentId: c,
			Objective: fmt.Sprintf("Process contract %d", i+1), Tasks: []string{"process_contract"},
			InputData: mustStruct(map[string]any{"contract_path": "./" + c + ".yaml"})})
		deps = append(deps, Completion(c, c))
	}
	if _, err := a.Contexts.DistributeContext(ctx, &consortv1.DistributeContextRequest{CoordinationId: a.Coord,
		SessionId: "session-parallel", Assignments: assignments}); err != nil {
		return err
	}
	a.Say("Waiting for contract_1, contract_2 and contract_3")
	if err := a.Resolve(deps...); err != nil { // all three awaited together
		return err
	}
	a.Say("All 3 contracts processed")
	ctx, cancel = Call()
	defer cancel()
	_, err := a.Contexts.ClearContexts(ctx, &consortv1.ClearContextsRequest{CoordinationId: a.Coord})
	if err == nil {
		_, err = a.Dependencies.ClearDependencies(ctx, &consortv1.ClearDependenciesRequest{CoordinationId: a.Coord})
	}
	if err == nil {
		_, err = a.Signals.ClearSignals(ctx, &consortv1.ClearSignalsRequest{CoordinationId: a.Coord})
	}
	if err != nil {
		return err
	}
	a.Say("Cleanup: contexts, dependencies and signals cleared")
	return nil
}

func contract(a *Agent) error {
	a.Say("Waiting for context...")
	c, err := a.WaitForContext()
	if err != nil {
		return err
	}
	a.Say("%s", Describe(c))
	a.Say("Starting %s...", a.ID)
	if err := a.Publish(consortv1.SignalType_SIGNAL_TYPE_AGENT_INITIALIZED,
		map[string]any{"agent_id": a.ID, "ready": true}); err != nil {
		return err
	}
	path := c.GetAgentAssignment().GetInputData().GetFields()["contract_path"].GetStringValue()
	for _, task := range c.GetAgentAssignment().GetTasks() {
		a.Say("%s %s: done", task, path)
	}
	if err := a.Publish(consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED,
		map[string]any{"agent_id": a.ID, "quality_score": 0.9, "success": true}); err != nil {
		return err
	}
	a.Say("%s completed", a.ID)
	return nil
}
