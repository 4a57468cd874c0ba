package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
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
	// publishWindow is how many requests a Publisher has sent whose outcome has not come back yet, at most.
	publishWindow = 32
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

// Publish sends one signal from this agent with the given data, as one unary call: for the agent's few one-off
// signals. An agent that publishes often uses a Publisher.
func (a *Agent) Publish(t consortv1.SignalType, data map[string]any) error {
	ctx, cancel := Call()
	defer cancel()
	_, err := a.Signals.Publish(ctx, &consortv1.PublishRequest{CoordinationId: a.Coord, Type: t, SenderAgentId: a.ID,
		Data: mustStruct(data)})
	return err
}

// Publisher publishes one agent's signals over a single PublishStream call, for an agent that publishes often: a
// unary Publish costs a whole HTTP/2 stream per signal. At most publishWindow requests are unacknowledged at a
// time. The server answers every request with one outcome, in request order, so the n-th outcome is the n-th
// request's. One goroutine publishes (Publish, then Close); the Publisher's own goroutine reads the outcomes.
type Publisher struct {
	agent  *Agent
	stream grpc.BidiStreamingClient[consortv1.PublishStreamRequest, consortv1.PublishStreamResponse]
	cancel context.CancelFunc
	window chan struct{} // a token per request sent whose outcome has not come back
	done   chan struct{} // closed when the outcomes have ended
	sent   int           // requests sent; only the publishing goroutine uses it

	mu    sync.Mutex // guards what the reading goroutine records
	acked int        // outcomes received
	last  *consortv1.PublishAck
	err   error // the first failure: a *RefusedError or the stream's error
}

// RefusedError is a request that PublishStream refused in-band, as Publish would have refused it: Status has its
// code, message and details (an ErrorInfo, and a BadRequest for invalid fields). The stream itself went on.
type RefusedError struct {
	Request int // the request's position on the stream, from 1
	Status  *status.Status
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("request %d refused: %s: %s", e.Request, e.Status.Code(), e.Status.Message())
}

// OpenPublisher opens a PublishStream for this agent's signals; it stays open at most waitTimeout. The caller
// closes it with Close, also after a failed Publish.
func (a *Agent) OpenPublisher() (*Publisher, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	stream, err := a.Signals.PublishStream(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	p := &Publisher{agent: a, stream: stream, cancel: cancel, window: make(chan struct{}, publishWindow),
		done: make(chan struct{})}
	go p.read()
	return p, nil
}

// Publish sends one signal from the agent with the given data, after waiting while publishWindow requests are
// unacknowledged; it does not wait for the signal's own outcome. It returns the first failure seen so far — a
// *RefusedError naming an earlier request, or the stream's error — and sends nothing once there is one; the
// requests sent after a refused one (fewer than the window) may have been applied.
func (p *Publisher) Publish(t consortv1.SignalType, data map[string]any) error {
	if err := p.failure(); err != nil {
		return err
	}
	select {
	case p.window <- struct{}{}:
	case <-p.done:
		return p.endedEarly()
	}
	p.sent++
	err := p.stream.Send(&consortv1.PublishStreamRequest{Publish: &consortv1.PublishRequest{CoordinationId: p.agent.Coord,
		Type: t, SenderAgentId: p.agent.ID, Data: mustStruct(data)}})
	if errors.Is(err, io.EOF) { // the stream ended: its status is what Recv returned
		<-p.done
		return p.endedEarly()
	}
	return err
}

// Close half-closes the stream and waits for the outcomes still to come. It returns the last acknowledgement (nil
// when there was none) and the first failure: a *RefusedError, the stream's error, or a stream that ended without
// an outcome for every request.
func (p *Publisher) Close() (*consortv1.PublishAck, error) {
	defer p.cancel()
	closeErr := p.stream.CloseSend()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil && closeErr != nil {
		p.err = closeErr
	}
	if p.err == nil && p.acked != p.sent {
		p.err = fmt.Errorf("PublishStream ended after %d outcomes for %d requests", p.acked, p.sent)
	}
	return p.last, p.err
}

// read gives each outcome to the oldest request still waiting for one, and frees its window slot.
func (p *Publisher) read() {
	defer close(p.done)
	for {
		res, err := p.stream.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) { // io.EOF: the server ended the stream OK, after the last outcome
				p.fail(err)
			}
			return
		}
		for _, o := range res.GetOutcomes() {
			select {
			case <-p.window:
			default:
				p.fail(errors.New("PublishStream sent more outcomes than requests"))
				return
			}
			p.mu.Lock()
			p.acked++
			if st := o.GetError(); st != nil {
				if p.err == nil {
					p.err = &RefusedError{Request: p.acked, Status: status.FromProto(st)}
				}
			} else {
				p.last = o.GetAck()
			}
			p.mu.Unlock()
		}
	}
}

func (p *Publisher) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

func (p *Publisher) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// endedEarly is the error of a stream that ended before Close: the failure the reader recorded, if any.
func (p *Publisher) endedEarly() error {
	if err := p.failure(); err != nil {
		return err
	}
	return errors.New("PublishStream ended before it was closed")
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
