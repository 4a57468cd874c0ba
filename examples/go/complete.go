package main

import (
	"errors"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// The quick start's Complete Example as three processes: model_gen -> validator_gen, set up and cleaned up by a
// coordinator. Any start order works: agents watch for their context, waits are checked against current state.
var completeExample = Scenario{
	Name: "complete", Title: "Complete Example: model_gen -> validator_gen",
	Agents: []string{"validator_gen", "model_gen", "coordinator"},
	Roles:  map[string]func(*Agent) error{"coordinator": coordinator, "model_gen": modelGen, "validator_gen": validatorGen},
}

// What comes after validation: retry on errors, else continue with the tests once the quality is high enough.
var rules = []*consortv1.ConditionalRule{
	{RuleId: "error_handling", Name: "Retry on Error", ConditionKey: "error_count",
		Operator: consortv1.ConditionOperator_CONDITION_OPERATOR_GREATER_THAN, ConditionValue: structpb.NewNumberValue(0),
		Decision: consortv1.RoutingDecision_ROUTING_DECISION_RETRY, Priority: proto.Int32(90)},
	{RuleId: "quality_met", Name: "Quality met", ConditionKey: "quality_score",
		Operator:       consortv1.ConditionOperator_CONDITION_OPERATOR_GREATER_THAN_OR_EQUAL,
		ConditionValue: structpb.NewNumberValue(0.9),
		Decision:       consortv1.RoutingDecision_ROUTING_DECISION_CONTINUE, NextTask: "generate_tests"},
}

func coordinator(a *Agent) error {
	ctx, cancel := Call()
	defer cancel()
	policyID := a.Coord // policies are server-wide: one per run, like the coordination
	router := &consortv1.Router{Kind: &consortv1.Router_Conditional{Conditional: &consortv1.ConditionalRouter{Rules: rules}}}
	if _, err := a.Routing.PutRoutingPolicy(ctx, &consortv1.PutRoutingPolicyRequest{
		Policy: &consortv1.RoutingPolicy{PolicyId: policyID, Routers: []*consortv1.Router{router}}}); err != nil {
		return err
	}
	a.Say("Distributing context to model_gen and validator_gen")
	if _, err := a.Contexts.DistributeContext(ctx, &consortv1.DistributeContextRequest{
		CoordinationId: a.Coord, SessionId: "session-456", Assignments: []*consortv1.AgentAssignment{
			{AgentId: "model_gen", Objective: "Generate models", Tasks: []string{"parse_contract", "generate_models"},
				InputData: mustStruct(map[string]any{"contract_path": "./contract.yaml"})},
			{AgentId: "validator_gen", Objective: "Generate validators", Tasks: []string{"generate_validators"},
				Dependencies: []string{"model_gen"}, // waits for model_gen
				InputData:    mustStruct(map[string]any{"routing_policy": policyID})},
		}}); err != nil {
		return err
	}
	a.Say("Waiting for model_gen and validator_gen to complete")
	if err := a.Resolve(Completion("model_gen", "model_gen"), Completion("validator_gen", "validator_gen")); err != nil {
		return err
	}
	a.Say("Workflow complete")
	ctx, cancel = Call()
	defer cancel()
	cleared, err := a.Contexts.ClearContexts(ctx, &consortv1.ClearContextsRequest{CoordinationId: a.Coord})
	if err == nil && !cleared.GetCleared() {
		err = errors.New("ClearContexts found no contexts")
	}
	if err == nil {
		_, err = a.Dependencies.ClearDependencies(ctx, &consortv1.ClearDependenciesRequest{CoordinationId: a.Coord})
	}
	if err == nil {
		_, err = a.Signals.ClearSignals(ctx, &consortv1.ClearSignalsRequest{CoordinationId: a.Coord})
	}
	if err == nil {
		_, err = a.Routing.DeleteRoutingPolicy(ctx, &consortv1.DeleteRoutingPolicyRequest{PolicyId: policyID})
	}
	if err != nil {
		return err
	}
	a.Say("Cleanup: contexts, dependencies, signals and routing policy cleared")
	return nil
}

func modelGen(a *Agent) error {
	a.Say("Waiting for context...")
	c, err := a.WaitForContext()
	if err != nil {
		return err
	}
	a.Say("%s", Describe(c))
	a.Say("Starting model_gen...")
	if err := a.Publish(consortv1.SignalType_SIGNAL_TYPE_AGENT_INITIALIZED,
		map[string]any{"agent_id": "model_gen", "ready": true}); err != nil {
		return err
	}
	for _, task := range c.GetAgentAssignment().GetTasks() { // the work
		a.Say("%s: done", task)
	}
	if err := a.Publish(consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED,
		map[string]any{"agent_id": "model_gen", "quality_score": 0.95, "success": true}); err != nil {
		return err
	}
	a.Say("model_gen completed")
	return nil
}

func validatorGen(a *Agent) error {
	a.Say("Waiting for context...")
	c, err := a.WaitForContext()
	if err != nil {
		return err
	}
	a.Say("%s", Describe(c))
	a.Say("Starting validator_gen (waiting for dependencies)...")
	// A completion wait per agent the assignment depends on, named like the original's "model_gen_complete".
	var deps []*consortv1.Dependency
	for _, agent := range c.GetAgentAssignment().GetDependencies() {
		deps = append(deps, Completion(agent, agent+"_complete"))
	}
	if err := a.Resolve(deps...); err != nil {
		return err
	}
	a.Say("Dependencies resolved, starting validator_gen")
	if err := a.Publish(consortv1.SignalType_SIGNAL_TYPE_AGENT_INITIALIZED,
		map[string]any{"agent_id": "validator_gen", "ready": true}); err != nil {
		return err
	}
	for _, task := range c.GetAgentAssignment().GetTasks() {
		a.Say("%s: done", task)
	}
	ctx, cancel := Call()
	defer cancel()
	routed, err := a.Routing.Route(ctx, &consortv1.RouteRequest{
		PolicySource: &consortv1.RouteRequest_PolicyId{
			PolicyId: c.GetAgentAssignment().GetInputData().GetFields()["routing_policy"].GetStringValue()},
		CurrentTask: "generate_validators",
		State: mustStruct(map[string]any{"completed_tasks": []any{"parse_contract", "generate_models", "generate_validators"},
			"error_count": 0, "quality_score": 0.92})})
	if err != nil {
		return err
	}
	r := routed.GetResult()
	decision := strings.ToLower(strings.TrimPrefix(r.GetDecision().String(), "ROUTING_DECISION_"))
	a.Say("Next step: %s with %s (%s)", decision, r.GetNextTask(), r.GetReasoning())
	if err := a.Publish(consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED,
		map[string]any{"agent_id": "validator_gen", "quality_score": 0.92, "success": true}); err != nil {
		return err
	}
	a.Say("validator_gen completed")
	return nil
}
