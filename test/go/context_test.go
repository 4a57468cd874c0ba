package consorttest

// End-to-end tests of Consort's ContextService: SPEC.md §6 cases 17–19, and WatchAgentContext (`absent` for an
// agent without a context, the context arriving on the same stream, resuming by revision).

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// quietPeriod is how long a stream must stay silent when no message is expected.
const quietPeriod = 300 * time.Millisecond

func contextClient() consortv1.ContextServiceClient {
	return consortv1.NewContextServiceClient(shared.conn)
}

// allocation and protocols flatten a context's effective values for comparison; the defaults are SPEC.md §3's.
type allocation struct {
	maxExecutionTimeMs, maxRetryAttempts, maxMemoryMb int32
	qualityThreshold                                  float64
	timeoutMs, concurrencyLimit                       int32
}

var defaultAllocation = allocation{300_000, 3, 512, 0.8, 30_000, 10}

func allocationOf(t *testing.T, c *consortv1.AgentContext) allocation {
	t.Helper()
	r := c.GetResourceAllocation()
	if r == nil || r.MaxExecutionTimeMs == nil || r.MaxRetryAttempts == nil || r.MaxMemoryMb == nil ||
		r.QualityThreshold == nil || r.TimeoutMs == nil || r.ConcurrencyLimit == nil {
		t.Fatalf("%s: resource_allocation has unset fields: %v", c.GetCoordinationMetadata().GetAgentId(), r)
	}
	return allocation{r.GetMaxExecutionTimeMs(), r.GetMaxRetryAttempts(), r.GetMaxMemoryMb(), r.GetQualityThreshold(),
		r.GetTimeoutMs(), r.GetConcurrencyLimit()}
}

type protocols struct {
	updateIntervalMs, heartbeatIntervalMs      int32
	statusChannel, resultChannel, errorChannel string
}

var defaultProtocols = protocols{5_000, 10_000, "state", "state", "state"}

func protocolsOf(t *testing.T, c *consortv1.AgentContext) protocols {
	t.Helper()
	p := c.GetCoordinationProtocols()
	if p == nil || p.UpdateIntervalMs == nil || p.HeartbeatIntervalMs == nil || p.StatusChannel == nil ||
		p.ResultChannel == nil || p.ErrorChannel == nil {
		t.Fatalf("%s: coordination_protocols has unset fields: %v", c.GetCoordinationMetadata().GetAgentId(), p)
	}
	return protocols{p.GetUpdateIntervalMs(), p.GetHeartbeatIntervalMs(), p.GetStatusChannel(), p.GetResultChannel(),
		p.GetErrorChannel()}
}

func distribute(t *testing.T, ctx context.Context, coord string, shared *consortv1.SharedIntelligence, as ...*consortv1.AgentAssignment) *consortv1.DistributeContextResponse {
	t.Helper()
	resp, err := contextClient().DistributeContext(ctx, &consortv1.DistributeContextRequest{
		CoordinationId: coord, SessionId: "session-1", SharedIntelligence: shared, Assignments: as,
	})
	if err != nil {
		t.Fatalf("DistributeContext: %v", err)
	}
	if len(resp.GetContexts()) != len(as) || resp.GetNextPageToken() != "" || resp.GetRevision() == 0 {
		t.Fatalf("DistributeContext: %d contexts (want %d), token %q, revision %d", len(resp.GetContexts()), len(as),
			resp.GetNextPageToken(), resp.GetRevision())
	}
	for i, c := range resp.GetContexts() {
		if c.GetCoordinationMetadata().GetAgentId() != as[i].GetAgentId() || c.GetContextVersion() != 1 {
			t.Fatalf("DistributeContext context %d: agent %q version %d, want %q version 1", i,
				c.GetCoordinationMetadata().GetAgentId(), c.GetContextVersion(), as[i].GetAgentId())
		}
	}
	return resp
}

func getContext(t *testing.T, ctx context.Context, coord, agent string) *consortv1.AgentContext {
	t.Helper()
	resp, err := contextClient().GetAgentContext(ctx, &consortv1.GetAgentContextRequest{CoordinationId: coord, AgentId: agent})
	if err != nil {
		t.Fatalf("GetAgentContext(%s): %v", agent, err)
	}
	return resp.GetContext()
}

func expectContextNotFound(t *testing.T, ctx context.Context, coord, agent string) {
	t.Helper()
	_, err := contextClient().GetAgentContext(ctx, &consortv1.GetAgentContextRequest{CoordinationId: coord, AgentId: agent})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("GetAgentContext(%s): got %v, want NotFound", agent, err)
	}
	if reason := errorInfo(t, err).GetReason(); reason != "CONTEXT_NOT_FOUND" {
		t.Errorf("GetAgentContext(%s): reason %q, want CONTEXT_NOT_FOUND", agent, reason)
	}
}

// updateSI shallow-merges data into part for the targets (all agents when none) and checks the call succeeded.
func updateSI(t *testing.T, ctx context.Context, coord string, part consortv1.SharedIntelligencePart, data map[string]any, increment *bool, targets ...string) *consortv1.UpdateSharedIntelligenceResponse {
	t.Helper()
	resp, err := contextClient().UpdateSharedIntelligence(ctx, &consortv1.UpdateSharedIntelligenceRequest{
		CoordinationId: coord, UpdateType: part, UpdateData: mustStruct(t, data), TargetAgentIds: targets, IncrementVersion: increment,
	})
	if err != nil {
		t.Fatalf("UpdateSharedIntelligence: %v", err)
	}
	return resp
}

// badRequestFields returns the fields of the google.rpc.BadRequest of an INVALID_ARGUMENT error.
func badRequestFields(t *testing.T, err error) []string {
	t.Helper()
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("got %v, want InvalidArgument", err)
	}
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			var fields []string
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
			return fields
		}
	}
	t.Fatalf("no google.rpc.BadRequest in the details of %v", err)
	return nil
}

// watcher reads one WatchAgentContext stream in the background.
type watcher struct {
	*pumped[*consortv1.WatchAgentContextResponse]
	t *testing.T
}

func watchContext(t *testing.T, ctx context.Context, coord, agent string, after *uint64) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	stream, err := contextClient().WatchAgentContext(ctx, &consortv1.WatchAgentContextRequest{CoordinationId: coord, AgentId: agent, AfterRevision: after})
	if err != nil {
		cancel()
		t.Fatalf("WatchAgentContext: %v", err)
	}
	w := &watcher{pumped: pump(stream.Recv), t: t}
	t.Cleanup(cancel)
	return w
}

func (w *watcher) next() *consortv1.WatchAgentContextResponse {
	w.t.Helper()
	select {
	case m := <-w.msgs:
		return m
	case <-time.After(5 * time.Second):
		w.t.Fatalf("no WatchAgentContext message within 5s")
	case <-w.ended:
		select {
		case m := <-w.msgs:
			return m
		default:
		}
		w.t.Fatalf("WatchAgentContext stream ended: %v", w.err)
	}
	return nil
}

// context reads the next message, which must carry a context.
func (w *watcher) context() (*consortv1.AgentContext, uint64) {
	w.t.Helper()
	m := w.next()
	if m.GetContext() == nil {
		w.t.Fatalf("expected a context, got %v", m)
	}
	return m.GetContext(), m.GetRevision()
}

// absent reads the next message, which must be `absent`.
func (w *watcher) absent() uint64 {
	w.t.Helper()
	m := w.next()
	if m.GetAbsent() == nil {
		w.t.Fatalf("expected `absent`, got %v", m)
	}
	return m.GetRevision()
}

// quiet checks that nothing arrives within quietPeriod and the stream stays open.
func (w *watcher) quiet() {
	w.t.Helper()
	select {
	case m := <-w.msgs:
		w.t.Fatalf("unexpected WatchAgentContext message: %v", m)
	case <-w.ended:
		w.t.Fatalf("WatchAgentContext stream ended: %v", w.err)
	case <-time.After(quietPeriod):
	}
}

func (w *watcher) final() error {
	w.t.Helper()
	select {
	case <-w.ended:
		return w.err
	case m := <-w.msgs:
		w.t.Fatalf("expected the stream to end, got %v", m)
	case <-time.After(5 * time.Second):
		w.t.Fatalf("WatchAgentContext did not end within 5s")
	}
	return nil
}

// Case 17: custom allocations for two of three agents, the defaults for the third.
func TestCase17CustomAllocationForTwoOfThree(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	resp := distribute(t, ctx, coord, nil,
		&consortv1.AgentAssignment{
			AgentId: "model-generator", AgentRole: "generator", Objective: "models", Tasks: []string{"models", "schemas"},
			Dependencies: []string{"schema-designer"},
			ResourceAllocation: &consortv1.ResourceAllocation{
				MaxExecutionTimeMs: proto.Int32(60_000), MaxRetryAttempts: proto.Int32(0), MaxMemoryMb: proto.Int32(2048),
				QualityThreshold: proto.Float64(0.95), TimeoutMs: proto.Int32(500), ConcurrencyLimit: proto.Int32(2),
			},
			CoordinationProtocols: &consortv1.CoordinationProtocols{UpdateIntervalMs: proto.Int32(1_000), ErrorChannel: proto.String("errors")},
		},
		&consortv1.AgentAssignment{
			AgentId:            "api-generator",
			ResourceAllocation: &consortv1.ResourceAllocation{MaxMemoryMb: proto.Int32(1024), QualityThreshold: proto.Float64(0.5)},
		},
		&consortv1.AgentAssignment{AgentId: "test-generator"},
	)
	model, api, tests := resp.GetContexts()[0], resp.GetContexts()[1], resp.GetContexts()[2]

	if got, want := allocationOf(t, model), (allocation{60_000, 0, 2048, 0.95, 500, 2}); got != want {
		t.Errorf("model-generator allocation %+v, want %+v", got, want)
	}
	wantP := defaultProtocols
	wantP.updateIntervalMs, wantP.errorChannel = 1_000, "errors"
	if got := protocolsOf(t, model); got != wantP {
		t.Errorf("model-generator protocols %+v, want %+v", got, wantP)
	}
	wantA := defaultAllocation
	wantA.maxMemoryMb, wantA.qualityThreshold = 1024, 0.5
	if got := allocationOf(t, api); got != wantA {
		t.Errorf("api-generator allocation %+v, want %+v", got, wantA)
	}
	for _, c := range []*consortv1.AgentContext{api, tests} {
		if got := protocolsOf(t, c); got != defaultProtocols {
			t.Errorf("%s protocols %+v, want the defaults %+v", c.GetCoordinationMetadata().GetAgentId(), got, defaultProtocols)
		}
		if c.GetCoordinationProtocols().CoordinationEndpoint != nil {
			t.Errorf("%s: coordination_endpoint set without being given", c.GetCoordinationMetadata().GetAgentId())
		}
	}
	if got := allocationOf(t, tests); got != defaultAllocation {
		t.Errorf("test-generator allocation %+v, want the defaults %+v", got, defaultAllocation)
	}

	meta := model.GetCoordinationMetadata()
	if meta.GetSessionId() != "session-1" || meta.GetCoordinationId() != coord || meta.GetAgentRole() != "generator" || meta.GetCreatedAt() == nil {
		t.Errorf("model-generator metadata %v", meta)
	}
	if role := tests.GetCoordinationMetadata().GetAgentRole(); role != "test-generator" {
		t.Errorf("test-generator role %q, want the agent id", role)
	}
	if a := model.GetAgentAssignment(); a.GetResourceAllocation() != nil || a.GetCoordinationProtocols() != nil ||
		len(a.GetTasks()) != 2 || a.GetDependencies()[0] != "schema-designer" || a.GetAgentRole() != "generator" {
		t.Errorf("model-generator assignment %v", a)
	}
	for _, c := range resp.GetContexts() {
		if got := getContext(t, ctx, coord, c.GetCoordinationMetadata().GetAgentId()); !proto.Equal(got, c) {
			t.Errorf("GetAgentContext differs from the distributed context:\n%v\n%v", got, c)
		}
	}
}

// Case 18: a targeted update changes and reports only the targets.
func TestCase18TargetedUpdateChangesOnlyTargets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	si := &consortv1.SharedIntelligence{NamingConventions: map[string]string{"class": "PascalCase"}}
	distribute(t, ctx, coord, si, &consortv1.AgentAssignment{AgentId: "agent-a"}, &consortv1.AgentAssignment{AgentId: "agent-b"}, &consortv1.AgentAssignment{AgentId: "agent-c"})

	resp := updateSI(t, ctx, coord, consortv1.SharedIntelligencePart_SHARED_INTELLIGENCE_PART_NAMING_CONVENTIONS,
		map[string]any{"function": "snake_case"}, nil, "agent-a", "agent-c", "ghost")
	if want := map[string]bool{"agent-a": true, "agent-c": true, "ghost": false}; !maps.Equal(resp.GetResults(), want) {
		t.Fatalf("results %v, want %v", resp.GetResults(), want)
	}
	for _, agent := range []string{"agent-a", "agent-c"} {
		c := getContext(t, ctx, coord, agent)
		want := map[string]string{"class": "PascalCase", "function": "snake_case"}
		if !maps.Equal(c.GetSharedIntelligence().GetNamingConventions(), want) || c.GetContextVersion() != 2 || c.GetRevision() != resp.GetRevision() {
			t.Errorf("%s: conventions %v version %d revision %d, want %v version 2 revision %d", agent,
				c.GetSharedIntelligence().GetNamingConventions(), c.GetContextVersion(), c.GetRevision(), want, resp.GetRevision())
		}
	}
	b := getContext(t, ctx, coord, "agent-b")
	if !maps.Equal(b.GetSharedIntelligence().GetNamingConventions(), si.GetNamingConventions()) || b.GetContextVersion() != 1 {
		t.Errorf("agent-b changed: conventions %v version %d", b.GetSharedIntelligence().GetNamingConventions(), b.GetContextVersion())
	}

	// A value breaking the part's shape: false for every target, nothing changes.
	bad := updateSI(t, ctx, coord, consortv1.SharedIntelligencePart_SHARED_INTELLIGENCE_PART_PATTERN_LIBRARY,
		map[string]any{"api": "not a list"}, nil, "agent-a", "agent-b")
	if want := map[string]bool{"agent-a": false, "agent-b": false}; !maps.Equal(bad.GetResults(), want) || bad.GetRevision() != resp.GetRevision() {
		t.Errorf("shape-breaking update: results %v revision %d, want %v revision %d", bad.GetResults(), bad.GetRevision(), want, resp.GetRevision())
	}
	if v := getContext(t, ctx, coord, "agent-a").GetContextVersion(); v != 2 {
		t.Errorf("agent-a version %d after a rejected update, want 2", v)
	}
	// An unknown coordination: an empty result.
	if r := updateSI(t, ctx, coord+"-unknown", consortv1.SharedIntelligencePart_SHARED_INTELLIGENCE_PART_NAMING_CONVENTIONS,
		map[string]any{"x": "y"}, nil, "agent-a").GetResults(); len(r) != 0 {
		t.Errorf("unknown coordination: results %v, want none", r)
	}
}

// Case 19: 20 updates → version 21; increment_version=false keeps it.
func TestCase19TwentyUpdatesReachVersion21(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	distribute(t, ctx, coord, nil, &consortv1.AgentAssignment{AgentId: "agent-a"})
	part := consortv1.SharedIntelligencePart_SHARED_INTELLIGENCE_PART_TYPE_REGISTRY
	var last uint64
	for i := 0; i < 20; i++ {
		resp := updateSI(t, ctx, coord, part, map[string]any{"round": i}, nil)
		if !resp.GetResults()["agent-a"] || resp.GetRevision() <= last {
			t.Fatalf("update %d: results %v revision %d (previous %d)", i, resp.GetResults(), resp.GetRevision(), last)
		}
		last = resp.GetRevision()
	}
	c := getContext(t, ctx, coord, "agent-a")
	if c.GetContextVersion() != 21 || c.GetSharedIntelligence().GetTypeRegistry().GetFields()["round"].GetNumberValue() != 19 {
		t.Fatalf("after 20 updates: version %d, type_registry %v; want 21 and round 19", c.GetContextVersion(), c.GetSharedIntelligence().GetTypeRegistry())
	}
	resp := updateSI(t, ctx, coord, part, map[string]any{"round": "final"}, proto.Bool(false))
	c = getContext(t, ctx, coord, "agent-a")
	if !resp.GetResults()["agent-a"] || c.GetContextVersion() != 21 || c.GetSharedIntelligence().GetTypeRegistry().GetFields()["round"].GetStringValue() != "final" {
		t.Fatalf("increment_version=false: results %v, version %d, type_registry %v; want true, 21, round final",
			resp.GetResults(), c.GetContextVersion(), c.GetSharedIntelligence().GetTypeRegistry())
	}
	if c.GetRevision() != resp.GetRevision() || resp.GetRevision() <= last {
		t.Errorf("increment_version=false: revision %d (context %d), want > %d", resp.GetRevision(), c.GetRevision(), last)
	}
}

// Distribution errors: the original message for a missing session, a named cycle, nothing stored.
func TestDistributeRejectsInvalidInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	_, err := contextClient().DistributeContext(ctx, &consortv1.DistributeContextRequest{
		CoordinationId: coord, Assignments: []*consortv1.AgentAssignment{{AgentId: "agent-a"}},
	})
	// The original library's message, behind the field it names (every FIELD_INVALID message names its field).
	if fields := badRequestFields(t, err); len(fields) != 1 || fields[0] != "session_id" ||
		status.Convert(err).Message() != "session_id: coordination_state must contain 'coordination_id' and 'session_id'" {
		t.Errorf("missing session_id: %v (fields %v)", err, fields)
	}
	_, err = contextClient().DistributeContext(ctx, &consortv1.DistributeContextRequest{CoordinationId: coord, SessionId: "s"})
	if fields := badRequestFields(t, err); len(fields) == 0 || !strings.HasPrefix(fields[0], "assignments") {
		t.Errorf("no assignments: fields %v", fields)
	}
	_, err = contextClient().DistributeContext(ctx, &consortv1.DistributeContextRequest{CoordinationId: coord, SessionId: "s",
		Assignments: []*consortv1.AgentAssignment{{AgentId: "agent-a", Dependencies: []string{"agent-b"}}, {AgentId: "agent-b", Dependencies: []string{"agent-a"}}}})
	badRequestFields(t, err)
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "dependency cycle: agent-a -> agent-b -> agent-a") {
		t.Errorf("cycle message %q does not name the cycle", msg)
	}
	expectContextNotFound(t, ctx, coord, "agent-a")
}

// WatchAgentContext for an agent without a context: `absent` first, then the context on the same stream.
func TestWatchAbsentThenContextArrives(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	w := watchContext(t, ctx, coord, "agent-b", nil)
	w.absent()
	w.quiet()

	dist := distribute(t, ctx, coord, nil, &consortv1.AgentAssignment{AgentId: "agent-a"}, &consortv1.AgentAssignment{AgentId: "agent-b"})
	c, rev := w.context()
	if !proto.Equal(c, dist.GetContexts()[1]) || rev != dist.GetRevision() {
		t.Fatalf("first context: revision %d (want %d), context %v", rev, dist.GetRevision(), c)
	}

	// agent-a's change sends nothing here: the next message is agent-b's own change.
	naming := consortv1.SharedIntelligencePart_SHARED_INTELLIGENCE_PART_NAMING_CONVENTIONS
	updateSI(t, ctx, coord, naming, map[string]any{"for": "a"}, nil, "agent-a")
	upd := updateSI(t, ctx, coord, naming, map[string]any{"for": "b"}, proto.Bool(false), "agent-b")
	c, rev = w.context()
	if c.GetContextVersion() != 1 || c.GetSharedIntelligence().GetNamingConventions()["for"] != "b" || rev != upd.GetRevision() {
		t.Fatalf("after agent-b's update: version %d, conventions %v, revision %d (want 1, for=b, %d)",
			c.GetContextVersion(), c.GetSharedIntelligence().GetNamingConventions(), rev, upd.GetRevision())
	}

	if _, err := contextClient().ClearContexts(ctx, &consortv1.ClearContextsRequest{CoordinationId: coord}); err != nil {
		t.Fatalf("ClearContexts: %v", err)
	}
	if r := w.absent(); r <= upd.GetRevision() {
		t.Errorf("`absent` after clear at revision %d, want > %d", r, upd.GetRevision())
	}
	distribute(t, ctx, coord, nil, &consortv1.AgentAssignment{AgentId: "agent-b"})
	if c, _ := w.context(); c.GetContextVersion() != 1 {
		t.Errorf("re-distributed context version %d, want 1", c.GetContextVersion())
	}
	w.quiet()
}

// A watch resumed with after_revision receives exactly this agent's changes after it.
func TestWatchResumeAfterRevision(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	start := distribute(t, ctx, coord, nil, &consortv1.AgentAssignment{AgentId: "agent-a"}, &consortv1.AgentAssignment{AgentId: "agent-b"}).GetRevision()
	naming := consortv1.SharedIntelligencePart_SHARED_INTELLIGENCE_PART_NAMING_CONVENTIONS

	type change struct {
		absent   bool
		version  uint64
		revision uint64
	}
	var want []change
	want = append(want, change{false, 2, updateSI(t, ctx, coord, naming, map[string]any{"s": "1"}, nil, "agent-a").GetRevision()})
	updateSI(t, ctx, coord, naming, map[string]any{"s": "b"}, nil, "agent-b")
	want = append(want, change{false, 2, updateSI(t, ctx, coord, naming, map[string]any{"s": "2"}, proto.Bool(false), "agent-a").GetRevision()})
	want = append(want, change{true, 0, distribute(t, ctx, coord, nil, &consortv1.AgentAssignment{AgentId: "agent-b"}).GetRevision()})
	want = append(want, change{false, 1, distribute(t, ctx, coord, nil, &consortv1.AgentAssignment{AgentId: "agent-a"}).GetRevision()})

	check := func(w *watcher, want []change) {
		t.Helper()
		for i, ch := range want {
			m := w.next()
			got := change{m.GetAbsent() != nil, m.GetContext().GetContextVersion(), m.GetRevision()}
			if got != ch || (m.GetContext() == nil) != ch.absent {
				t.Fatalf("resumed message %d: %+v, want %+v", i, got, ch)
			}
		}
		w.quiet()
	}
	check(watchContext(t, ctx, coord, "agent-a", proto.Uint64(start)), want)
	check(watchContext(t, ctx, coord, "agent-a", proto.Uint64(want[1].revision)), want[2:])

	head := want[len(want)-1].revision
	w := watchContext(t, ctx, coord, "agent-a", proto.Uint64(head))
	w.quiet()
	upd := updateSI(t, ctx, coord, naming, map[string]any{"s": "3"}, nil)
	if c, rev := w.context(); c.GetContextVersion() != 2 || rev != upd.GetRevision() {
		t.Errorf("after resuming at the head: version %d revision %d, want 2 and %d", c.GetContextVersion(), rev, upd.GetRevision())
	}

	// Beyond the newest revision: OUT_OF_RANGE, REVISION_AHEAD.
	err := watchContext(t, ctx, coord, "agent-a", proto.Uint64(upd.GetRevision()+100)).final()
	if status.Code(err) != codes.OutOfRange {
		t.Fatalf("resume beyond the head: %v, want OutOfRange", err)
	}
	info := errorInfo(t, err)
	if info.GetReason() != "REVISION_AHEAD" || info.GetMetadata()["head_revision"] != strconv.FormatUint(upd.GetRevision(), 10) {
		t.Errorf("resume beyond the head: reason %q metadata %v", info.GetReason(), info.GetMetadata())
	}
}
