package main

import consortv1 "consort.dev/gen/go/consort/v1"

// Common pattern 1, a signal-driven workflow, as three processes: model-gen -> validator-gen -> test-gen. Each
// agent subscribes to the completion of the one before it, works, and announces its own completion.
var signalChain = Scenario{
	Name: "chain", Title: "Pattern 1, signal-driven workflow: model-gen -> validator-gen -> test-gen",
	Agents: []string{"test-gen", "validator-gen", "model-gen"},
	Roles:  map[string]func(*Agent) error{"model-gen": chainAgent, "validator-gen": chainAgent, "test-gen": chainAgent},
}

var upstream = map[string]string{"validator-gen": "model-gen", "test-gen": "validator-gen"}
var quality = map[string]float64{"model-gen": 0.95, "validator-gen": 0.92, "test-gen": 0.9}

func chainAgent(a *Agent) error {
	if up, ok := upstream[a.ID]; ok {
		signal, err := a.WaitForCompletionOf(up)
		if err != nil {
			return err
		}
		q := signal.GetData().GetFields()["quality_score"].GetNumberValue()
		a.Say("%s completed with quality %.2f, starting %s", up, q, a.ID)
	} else {
		a.Say("Starting %s...", a.ID)
	}
	if err := a.Publish(consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED,
		map[string]any{"agent_id": a.ID, "quality_score": quality[a.ID], "success": true}); err != nil {
		return err
	}
	a.Say("%s completed", a.ID)
	if a.ID == "test-gen" { // the end of the chain cleans up
		ctx, cancel := Call()
		defer cancel()
		if _, err := a.Signals.ClearSignals(ctx, &consortv1.ClearSignalsRequest{CoordinationId: a.Coord}); err != nil {
			return err
		}
		a.Say("Chain finished: signals cleared")
	}
	return nil
}
