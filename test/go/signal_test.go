package consorttest

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	consortv1 "consort.dev/gen/go/consort/v1"
)

const testTimeout = 20 * time.Second

// subscription reads one Subscribe stream in the background.
// pumped is a server stream read by its own goroutine into a buffered channel, so tests wait with a timeout.
type pumped[T any] struct {
	msgs  chan T
	err   error         // the stream's final error (io.EOF on a clean end); valid once ended is closed
	ended chan struct{} // closed when Recv returned an error
}

// pump starts reading the stream whose next message recv returns.
func pump[T any](recv func() (T, error)) *pumped[T] {
	p := &pumped[T]{msgs: make(chan T, 1024), ended: make(chan struct{})}
	go func() {
		defer close(p.ended)
		for {
			m, err := recv()
			if err != nil {
				p.err = err
				return
			}
			p.msgs <- m
		}
	}()
	return p
}

type subscription struct {
	*pumped[*consortv1.SubscribeResponse]
	t      *testing.T
	cancel context.CancelFunc
}

func subscribe(t *testing.T, ctx context.Context, c consortv1.SignalServiceClient, req *consortv1.SubscribeRequest) *subscription {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.Subscribe(ctx, req)
	if err != nil {
		cancel()
		t.Fatalf("Subscribe: %v", err)
	}
	s := &subscription{pumped: pump(stream.Recv), t: t, cancel: cancel}
	t.Cleanup(cancel)
	return s
}

// next returns the next message, failing the test if the stream ended or nothing arrived within d.
func (s *subscription) next(d time.Duration) *consortv1.SubscribeResponse {
	s.t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(d):
		s.t.Fatalf("no Subscribe message within %v", d)
	case <-s.ended:
		select { // drain a message that raced with the end
		case m := <-s.msgs:
			return m
		default:
		}
		s.t.Fatalf("Subscribe stream ended: %v", s.err)
	}
	return nil
}

// expectSubscribed reads the first message and checks it is `subscribed`.
func (s *subscription) expectSubscribed() *consortv1.SubscribedEvent {
	s.t.Helper()
	m := s.next(testTimeout)
	if m.GetSubscribed() == nil || len(m.GetSignals()) != 0 || m.GetHeartbeat() != nil {
		s.t.Fatalf("first Subscribe message is not `subscribed` alone: %v", m)
	}
	if m.GetSubscribed().GetSubscriptionId() == "" {
		s.t.Errorf("subscribed.subscription_id is empty")
	}
	return m.GetSubscribed()
}

// signals reads messages until n signals arrived; a `subscribed` after the first message is an error, heartbeats
// are skipped.
func (s *subscription) signals(n int) []*consortv1.Signal {
	s.t.Helper()
	var out []*consortv1.Signal
	for len(out) < n {
		m := s.next(testTimeout)
		switch {
		case m.GetSubscribed() != nil:
			s.t.Fatalf("second `subscribed` message: %v", m)
		case m.GetHeartbeat() != nil:
		case len(m.GetSignals()) == 0:
			s.t.Fatalf("empty Subscribe message: %v", m)
		}
		out = append(out, m.GetSignals()...)
	}
	if len(out) > n {
		s.t.Fatalf("expected %d signals, got %d: %v", n, len(out), sequences(out))
	}
	return out
}

// quiet checks that no signal arrives within d.
func (s *subscription) quiet(d time.Duration) {
	s.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-s.msgs:
			if len(m.GetSignals()) > 0 {
				s.t.Fatalf("unexpected signals %v", sequences(m.GetSignals()))
			}
		case <-deadline:
			return
		case <-s.ended:
			s.t.Fatalf("Subscribe stream ended: %v", s.err)
		}
	}
}

// final waits for the stream to end and returns its error.
func (s *subscription) final(d time.Duration) error {
	s.t.Helper()
	select {
	case <-s.ended:
		return s.err
	case <-time.After(d):
		s.t.Fatalf("Subscribe stream did not end within %v", d)
	}
	return nil
}

func sequences(sigs []*consortv1.Signal) []uint64 {
	out := make([]uint64, len(sigs))
	for i, s := range sigs {
		out[i] = s.GetSequence()
	}
	return out
}

func checkSequences(t *testing.T, sigs []*consortv1.Signal, from, to uint64) {
	t.Helper()
	got := sequences(sigs)
	if uint64(len(got)) != to-from+1 {
		t.Fatalf("expected sequences %d..%d, got %v", from, to, got)
	}
	for i, seq := range got {
		if seq != from+uint64(i) {
			t.Fatalf("expected sequences %d..%d, got %v (position %d)", from, to, got, i)
		}
	}
}

func publish(t *testing.T, ctx context.Context, c consortv1.SignalServiceClient, req *consortv1.PublishRequest) *consortv1.Signal {
	t.Helper()
	resp, err := c.Publish(ctx, req)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return resp.GetSignal()
}

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// publishN publishes n broadcast agent_completed signals with data {"i": <index>} from agent "publisher".
func publishN(t *testing.T, ctx context.Context, c consortv1.SignalServiceClient, coord string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		publish(t, ctx, c, &consortv1.PublishRequest{
			CoordinationId: coord,
			Type:           consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED,
			SenderAgentId:  "publisher",
			Data:           mustStruct(t, map[string]any{"i": i}),
		})
	}
}

func errorInfo(t *testing.T, err error) *errdetails.ErrorInfo {
	t.Helper()
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	t.Fatalf("no google.rpc.ErrorInfo in the details of %v (details %v)", err, st.Details())
	return nil
}

// (a) Replay from 0 while 50 more signals are published concurrently: exactly 1..100, in order, once.
func TestReplayThenLiveNoGapNoDuplicate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, coord := shared.client, coordinationID(t)
	publishN(t, ctx, c, coord, 50)

	sub := subscribe(t, ctx, c, &consortv1.SubscribeRequest{CoordinationId: coord, AgentId: "watcher", AfterSequence: proto.Uint64(0)})
	ev := sub.expectSubscribed()
	if ev.GetHeadSequence() != 50 || ev.GetOldestSequence() != 1 {
		t.Errorf("subscribed: head %d oldest %d, want 50 and 1", ev.GetHeadSequence(), ev.GetOldestSequence())
	}

	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for w := 0; w < 5; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				_, err := c.Publish(ctx, &consortv1.PublishRequest{
					CoordinationId: coord, Type: consortv1.SignalType_SIGNAL_TYPE_INTER_AGENT_MESSAGE, SenderAgentId: "publisher",
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	sigs := sub.signals(100)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Publish: %v", err)
	}
	checkSequences(t, sigs, 1, 100)
	for i, s := range sigs[:50] {
		if got := s.GetData().GetFields()["i"].GetNumberValue(); got != float64(i) || s.GetCoordinationId() != coord {
			t.Fatalf("signal %d: data.i %v coordination %q", s.GetSequence(), got, s.GetCoordinationId())
		}
	}
	sub.quiet(300 * time.Millisecond)
}

// (b) A live subscription gets only what is published after `subscribed`, addressed to it, of its types.
func TestLiveSubscribeFilters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, coord := shared.client, coordinationID(t)
	publishN(t, ctx, c, coord, 3) // before the subscription: not delivered

	sub := subscribe(t, ctx, c, &consortv1.SubscribeRequest{
		CoordinationId: coord,
		AgentId:        "alice",
		Types: []consortv1.SignalType{
			consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED,
			consortv1.SignalType_SIGNAL_TYPE_INTER_AGENT_MESSAGE,
		},
	})
	if ev := sub.expectSubscribed(); ev.GetHeadSequence() != 3 {
		t.Errorf("subscribed.head_sequence = %d, want 3", ev.GetHeadSequence())
	}

	msg := consortv1.SignalType_SIGNAL_TYPE_INTER_AGENT_MESSAGE
	pub := func(typ consortv1.SignalType, sender string, to ...string) uint64 {
		return publish(t, ctx, c, &consortv1.PublishRequest{
			CoordinationId: coord, Type: typ, SenderAgentId: sender, RecipientAgentIds: to,
			Data: mustStruct(t, map[string]any{"agent_id": sender}),
		}).GetSequence()
	}
	var want []uint64
	want = append(want, pub(consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED, "bob")) // 4: broadcast, matching type
	pub(msg, "carol", "bob")                                                          // 5: to another agent
	want = append(want, pub(msg, "bob", "alice"))                                     // 6: to alice
	pub(consortv1.SignalType_SIGNAL_TYPE_STAGE_COMPLETED, "bob")                      // 7: type filtered
	pub(consortv1.SignalType_SIGNAL_TYPE_AGENT_INITIALIZED, "bob", "alice")           // 8: type filtered
	want = append(want, pub(msg, "alice", "bob", "alice", "dave"))                    // 9: alice among recipients
	pub(msg, "alice", "bob", "dave")                                                  // 10: not to alice
	want = append(want, pub(msg, "alice"))                                            // 11: its own broadcast

	got := sequences(sub.signals(len(want)))
	if len(got) != len(want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delivered %v, want %v", got, want)
		}
	}
	if want[0] != 4 || want[len(want)-1] != 11 {
		t.Errorf("publish sequences %v, want 4 … 11", want)
	}
	sub.quiet(200 * time.Millisecond)

	// Sender filter: only bob's signals.
	bobs := subscribe(t, ctx, c, &consortv1.SubscribeRequest{
		CoordinationId: coord, AgentId: "alice", SenderAgentIds: []string{"bob"}, AfterSequence: proto.Uint64(3),
	})
	bobs.expectSubscribed()
	checkSenders := bobs.signals(4) // 4, 6, 7, 8 (sender filter only; 5, 9-11 are not bob's)
	if g := sequences(checkSenders); g[0] != 4 || g[1] != 6 || g[2] != 7 || g[3] != 8 {
		t.Fatalf("sender-filtered replay %v, want [4 6 7 8]", g)
	}
	bobs.quiet(200 * time.Millisecond)
}

// (c) Resuming after N replays N+1… and then continues live.
func TestResumeAfterSequence(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, coord := shared.client, coordinationID(t)
	publishN(t, ctx, c, coord, 10)

	sub := subscribe(t, ctx, c, &consortv1.SubscribeRequest{CoordinationId: coord, AgentId: "resumer", AfterSequence: proto.Uint64(4)})
	sub.expectSubscribed()
	checkSequences(t, sub.signals(6), 5, 10)
	publishN(t, ctx, c, coord, 2)
	checkSequences(t, sub.signals(2), 11, 12)
	sub.quiet(200 * time.Millisecond)

	// Resuming at the head delivers only what comes next.
	head := subscribe(t, ctx, c, &consortv1.SubscribeRequest{CoordinationId: coord, AgentId: "resumer", AfterSequence: proto.Uint64(12)})
	head.expectSubscribed()
	publishN(t, ctx, c, coord, 1)
	checkSequences(t, head.signals(1), 13, 13)
}

// (d) An empty coordination_id is INVALID_ARGUMENT with a BadRequest naming the field.
func TestEmptyCoordinationIDInvalidArgument(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	check := func(t *testing.T, err error) {
		t.Helper()
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("got %v, want InvalidArgument", err)
		}
		st, _ := status.FromError(err)
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					if v.GetField() == "coordination_id" {
						if v.GetDescription() == "" {
							t.Errorf("field violation without description: %v", v)
						}
						return
					}
				}
				t.Fatalf("BadRequest does not name coordination_id: %v", br)
			}
		}
		t.Fatalf("no google.rpc.BadRequest in the details of %v (details %v)", err, st.Details())
	}
	t.Run("Subscribe", func(t *testing.T) {
		sub := subscribe(t, ctx, shared.client, &consortv1.SubscribeRequest{AgentId: "a"})
		check(t, sub.final(testTimeout))
		if len(sub.msgs) != 0 {
			t.Errorf("messages before the error: %v", <-sub.msgs)
		}
	})
	t.Run("Publish", func(t *testing.T) {
		_, err := shared.client.Publish(ctx, &consortv1.PublishRequest{Type: consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED})
		check(t, err)
	})
}

// (e) After ClearSignals, resuming from an old sequence is OUT_OF_RANGE / HISTORY_TRIMMED.
func TestResumeAfterClearIsOutOfRange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, coord := shared.client, coordinationID(t)
	publishN(t, ctx, c, coord, 5)
	cleared, err := c.ClearSignals(ctx, &consortv1.ClearSignalsRequest{CoordinationId: coord})
	if err != nil {
		t.Fatalf("ClearSignals: %v", err)
	}
	if cleared.GetClearedSignals() != 5 || cleared.GetHeadSequence() != 5 {
		t.Errorf("ClearSignals: %v, want cleared 5 head 5", cleared)
	}

	sub := subscribe(t, ctx, c, &consortv1.SubscribeRequest{CoordinationId: coord, AgentId: "late", AfterSequence: proto.Uint64(1)})
	err = sub.final(testTimeout)
	if status.Code(err) != codes.OutOfRange {
		t.Fatalf("got %v, want OutOfRange", err)
	}
	info := errorInfo(t, err)
	if info.GetReason() != "HISTORY_TRIMMED" {
		t.Errorf("ErrorInfo reason %q, want HISTORY_TRIMMED", info.GetReason())
	}
	oldest, ok := info.GetMetadata()["oldest_sequence"]
	if !ok {
		t.Errorf("ErrorInfo metadata lacks oldest_sequence: %v", info.GetMetadata())
	} else if _, err := strconv.ParseUint(oldest, 10, 64); err != nil {
		t.Errorf("oldest_sequence %q is not a number", oldest)
	}
	t.Logf("HISTORY_TRIMMED metadata: %v", info.GetMetadata())

	// Resuming at the head is still valid, and numbering continues from it.
	head := subscribe(t, ctx, c, &consortv1.SubscribeRequest{CoordinationId: coord, AgentId: "late", AfterSequence: proto.Uint64(5)})
	if ev := head.expectSubscribed(); ev.GetHeadSequence() != 5 || ev.GetOldestSequence() != 0 {
		t.Errorf("subscribed after clear: head %d oldest %d, want 5 and 0", ev.GetHeadSequence(), ev.GetOldestSequence())
	}
	if seq := publish(t, ctx, c, &consortv1.PublishRequest{CoordinationId: coord, Type: consortv1.SignalType_SIGNAL_TYPE_STAGE_COMPLETED}).GetSequence(); seq != 6 {
		t.Errorf("first sequence after clear = %d, want 6", seq)
	}
	checkSequences(t, head.signals(1), 6, 6)
}

// (f) On SIGTERM the server ends open streams UNAVAILABLE with the subscriber's resume point.
func TestShutdownEndsStreamsUnavailable(t *testing.T) {
	srv, err := startServer()
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = srv.Stop()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	publishN(t, ctx, srv.client, coord, 3)
	sub := subscribe(t, ctx, srv.client, &consortv1.SubscribeRequest{CoordinationId: coord, AgentId: "w", AfterSequence: proto.Uint64(0)})
	sub.expectSubscribed()
	checkSequences(t, sub.signals(3), 1, 3)

	if err := srv.Terminate(); err != nil {
		t.Errorf("%v; output:\n%s", err, srv.Output())
	}
	stopped = true
	defer srv.conn.Close()
	err = sub.final(testTimeout)
	if errors.Is(err, io.EOF) || status.Code(err) != codes.Unavailable {
		t.Fatalf("stream ended with %v, want Unavailable; server output:\n%s", err, srv.Output())
	}
	info := errorInfo(t, err)
	if got := info.GetMetadata()["last_delivered_sequence"]; got != "3" {
		t.Errorf("ErrorInfo metadata last_delivered_sequence = %q, want \"3\" (metadata %v, reason %q)", got, info.GetMetadata(), info.GetReason())
	}
	t.Logf("shutdown status: %v; ErrorInfo reason %q metadata %v", err, info.GetReason(), info.GetMetadata())
}
