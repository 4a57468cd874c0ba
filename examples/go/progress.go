package main

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// A high-rate publisher as two processes: worker streams progressSteps progress signals (inter_agent_message,
// data.step counting from 1) over its Publisher, then announces agent_completed with one unary Publish; monitor
// follows the worker's signals and checks that every step arrives, in order, before the completion.
var progressReport = Scenario{
	Name: "progress", Title: "High-rate publishing: worker streams its progress over PublishStream to monitor",
	Agents: []string{"monitor", "worker"},
	Roles:  map[string]func(*Agent) error{"worker": progressWorker, "monitor": progressMonitor},
}

const progressSteps = 500

func progressWorker(a *Agent) error {
	a.Say("Streaming %d progress signals over PublishStream (at most %d unacknowledged)...", progressSteps, publishWindow)
	p, err := a.OpenPublisher()
	if err != nil {
		return err
	}
	for step := 1; step <= progressSteps; step++ {
		if err := p.Publish(consortv1.SignalType_SIGNAL_TYPE_INTER_AGENT_MESSAGE,
			map[string]any{"step": step, "total": progressSteps}); err != nil {
			_, _ = p.Close()
			return err
		}
	}
	last, err := p.Close()
	if err != nil {
		return err
	}
	a.Say("%d progress signals acknowledged, the last at sequence %d", progressSteps, last.GetSequence())
	if err := a.Publish(consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED, // a one-off signal: unary Publish
		map[string]any{"agent_id": a.ID, "steps": progressSteps, "success": true}); err != nil {
		return err
	}
	a.Say("worker completed")
	return nil
}

// progressMonitor subscribes from after_sequence 0, so the steps published before it registered are replayed first.
func progressMonitor(a *Agent) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel() // ends the subscription
	stream, err := a.Signals.Subscribe(ctx, &consortv1.SubscribeRequest{CoordinationId: a.Coord, AgentId: a.ID,
		Types: []consortv1.SignalType{consortv1.SignalType_SIGNAL_TYPE_INTER_AGENT_MESSAGE,
			consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED},
		SenderAgentIds: []string{"worker"}, AfterSequence: proto.Uint64(0)})
	if err != nil {
		return err
	}
	steps := 0
	for done := false; !done; {
		msg, err := stream.Recv()
		if err != nil {
			return err
		}
		if msg.GetSubscribed() != nil {
			a.Say("Subscribed, following worker's progress")
		}
		for _, s := range msg.GetSignals() {
			data := s.GetData().GetFields()
			if s.GetType() == consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED {
				if total := int(data["steps"].GetNumberValue()); total != steps {
					return fmt.Errorf("worker completed after %d steps, %d received", total, steps)
				}
				done = true
				break
			}
			if step := int(data["step"].GetNumberValue()); step != steps+1 {
				return fmt.Errorf("progress step %d after step %d (sequence %d)", step, steps, s.GetSequence())
			}
			steps++
		}
	}
	a.Say("Received %d progress signals in order, then worker's completion", steps)
	ctx, cancel = Call()
	defer cancel()
	if _, err := a.Signals.ClearSignals(ctx, &consortv1.ClearSignalsRequest{CoordinationId: a.Coord}); err != nil {
		return err
	}
	a.Say("Cleanup: signals cleared")
	return nil
}
