package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// Every call has a deadline, so an example never hangs.
const (
	callTimeout = 10 * time.Second // unary calls
	waitTimeout = 30 * time.Second // a dependency's own timeout, and how long a stream may stay open
	// ResolveDependencies' deadline is longer than its dependencies' timeouts, so that a dependency that times out
	// is reported in the results (DEPENDENCY_STATUS_TIMEOUT) rather than as DEADLINE_EXCEEDED.
	resolveDeadline = waitTimeout + 5*time.Second
)

// Agent is one agent process: its id (the role it was started as), its coordination and the four service clients.
type Agent struct {
	ID, Coord    string
	conn         *grpc.ClientConn
	Signals      consortv1.SignalServiceClient
	Contexts     consortv1.ContextServiceClient
	Dependencies consortv1.DependencyServiceClient
	Routing      consortv1.RoutingServiceClient
}

func newAgent(id, addr, coord string) (*Agent, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &Agent{ID: id, Coord: coord, conn: conn, Signals: consortv1.NewSignalServiceClient(conn),
		Contexts: consortv1.NewContextServiceClient(conn), Dependencies: consortv1.NewDependencyServiceClient(conn),
		Routing: consortv1.NewRoutingServiceClient(conn)}, nil
}

// Say prints one line of what the agent does.
func (a *Agent) Say(format string, args ...any) { fmt.Printf(format+"\n", args...) }

// Call is the context of one unary call.
func Call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}

func mustStruct(values map[string]any) *structpb.Struct {
	s, err := structpb.NewStruct(values)
	if err != nil {
		panic(err)
	}
	return s
}

// Publish sends one signal from this agent with the given data.
func (a *Agent) Publish(t consortv1.SignalType, data map[string]any) error {
	ctx, cancel := Call()
	defer cancel()
	_, err := a.Signals.Publish(ctx, &consortv1.PublishRequest{CoordinationId: a.Coord, Type: t, SenderAgentId: a.ID,
		Data: mustStruct(data)})
	return err
}

// WaitForContext uses WatchAgentContext instead of polling: the first message is the agent's current state — its
// context, or `absent` when it has none yet — and a context distributed later arrives on the same stream.
func (a *Agent) WaitForContext() (*consortv1.AgentContext, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel() // ends the watch
	stream, err := a.Contexts.WatchAgentContext(ctx, &consortv1.WatchAgentContextRequest{CoordinationId: a.Coord,
		AgentId: a.ID})
	if err != nil {
		return nil, err
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		if c := msg.GetContext(); c != nil {
			return c, nil
		}
		a.Say("No context yet, watching for it...")
	}
}

// WaitForCompletionOf subscribes to `agent_completed` signals from sender. after_sequence=0 replays the retained
// history first, so a completion published before this subscription registered is not missed; the first message,
// `subscribed`, confirms the registration.
func (a *Agent) WaitForCompletionOf(sender string) (*consortv1.Signal, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel() // ends the subscription
	stream, err := a.Signals.Subscribe(ctx, &consortv1.SubscribeRequest{CoordinationId: a.Coord, AgentId: a.ID,
		Types:          []consortv1.SignalType{consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED},
		SenderAgentIds: []string{sender}, AfterSequence: proto.Uint64(0)})
	if err != nil {
		return nil, err
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		if msg.GetSubscribed() != nil {
			a.Say("Subscribed, waiting for %s", sender)
		}
		if signals := msg.GetSignals(); len(signals) > 0 {
			return signals[0], nil
		}
	}
}

// Completion waits for an `agent_completed` signal whose sender or data.agent_id is agentID (require_success:
// default).
func Completion(agentID, dependencyID string) *consortv1.Dependency {
	return &consortv1.Dependency{DependencyId: dependencyID, Timeout: durationpb.New(waitTimeout),
		Target: &consortv1.Dependency_AgentCompletion{AgentCompletion: &consortv1.AgentCompletionTarget{AgentId: agentID}}}
}

// Resolve calls ResolveDependencies, which waits for all the dependencies together; it fails unless every one
// resolved.
func (a *Agent) Resolve(deps ...*consortv1.Dependency) error {
	ctx, cancel := context.WithTimeout(context.Background(), resolveDeadline)
	defer cancel()
	resp, err := a.Dependencies.ResolveDependencies(ctx, &consortv1.ResolveDependenciesRequest{CoordinationId: a.Coord,
		AgentId: a.ID, Dependencies: deps})
	if err != nil {
		return err
	}
	if !resp.GetSuccess() {
		var why []string
		for _, r := range resp.GetResults() {
			why = append(why, fmt.Sprintf("%s %s %s", r.GetDependencyId(), r.GetStatus(), r.GetMessage()))
		}
		return fmt.Errorf("dependencies not resolved: %s", strings.Join(why, "; "))
	}
	return nil
}

// Describe summarizes a context in one line.
func Describe(c *consortv1.AgentContext) string {
	as := c.GetAgentAssignment()
	deps := strings.Join(as.GetDependencies(), ", ")
	if deps == "" {
		deps = "nothing"
	}
	return fmt.Sprintf("Context v%d: %s; tasks %s; depends on %s", c.GetContextVersion(), as.GetObjective(),
		strings.Join(as.GetTasks(), ", "), deps)
}
