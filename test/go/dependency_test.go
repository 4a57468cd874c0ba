package consorttest

// End-to-end tests of Consort's DependencyService: SPEC.md §6 cases 20–23, failed completions, retries that join an
// open wait or return the recorded result, and the dependency_resolved signal. Dependency timeouts are 1 s at most
// where a test waits them out, and every call has a deadline.

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// atOnce bounds a call that must not wait.
const atOnce = 500 * time.Millisecond

const (
	resolvedStatus   = consortv1.DependencyStatus_DEPENDENCY_STATUS_RESOLVED
	failedStatus     = consortv1.DependencyStatus_DEPENDENCY_STATUS_FAILED
	timeoutStatus    = consortv1.DependencyStatus_DEPENDENCY_STATUS_TIMEOUT
	inProgressStatus = consortv1.DependencyStatus_DEPENDENCY_STATUS_IN_PROGRESS
)

func dependencyClient() consortv1.DependencyServiceClient {
	return consortv1.NewDependencyServiceClient(shared.conn)
}

func completionDep(id, agent string, timeout time.Duration) *consortv1.Dependency {
	return &consortv1.Dependency{DependencyId: id, Timeout: durationpb.New(timeout),
		Target: &consortv1.Dependency_AgentCompletion{AgentCompletion: &consortv1.AgentCompletionTarget{AgentId: agent}}}
}

func gateDep(id, gate string, threshold *float64, timeout time.Duration) *consortv1.Dependency {
	return &consortv1.Dependency{DependencyId: id, Timeout: durationpb.New(timeout),
		Target: &consortv1.Dependency_QualityGate{QualityGate: &consortv1.QualityGateTarget{GateId: gate, Threshold: threshold}}}
}

func resourceDep(id, res string, timeout time.Duration) *consortv1.Dependency {
	return &consortv1.Dependency{DependencyId: id, Timeout: durationpb.New(timeout),
		Target: &consortv1.Dependency_Resource{Resource: &consortv1.ResourceTarget{ResourceId: res}}}
}

// resolution is the outcome of one ResolveDependencies call.
type resolution struct {
	resp    *consortv1.ResolveDependenciesResponse
	err     error
	elapsed time.Duration
}

// resolveAsync calls ResolveDependencies in the background (with its own 5 s deadline).
func resolveAsync(ctx context.Context, coord, agent string, deps ...*consortv1.Dependency) <-chan resolution {
	out := make(chan resolution, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		start := time.Now()
		resp, err := dependencyClient().ResolveDependencies(ctx, &consortv1.ResolveDependenciesRequest{CoordinationId: coord, AgentId: agent, Dependencies: deps})
		out <- resolution{resp, err, time.Since(start)}
	}()
	return out
}

// await waits for a background call and checks one result per dependency, in request order, success iff all resolved.
func await(t *testing.T, ch <-chan resolution, deps ...*consortv1.Dependency) resolution {
	t.Helper()
	var r resolution
	select {
	case r = <-ch:
	case <-time.After(6 * time.Second):
		t.Fatalf("ResolveDependencies did not return within 6s")
	}
	if r.err != nil {
		t.Fatalf("ResolveDependencies: %v", r.err)
	}
	results := r.resp.GetResults()
	if len(results) != len(deps) {
		t.Fatalf("%d results for %d dependencies: %v", len(results), len(deps), results)
	}
	all := true
	for i, res := range results {
		if res.GetDependencyId() != deps[i].GetDependencyId() {
			t.Fatalf("result %d is %q, want %q", i, res.GetDependencyId(), deps[i].GetDependencyId())
		}
		if (res.GetMessage() == "") != (res.GetStatus() == resolvedStatus) {
			t.Errorf("result %q: status %v with message %q", res.GetDependencyId(), res.GetStatus(), res.GetMessage())
		}
		all = all && res.GetStatus() == resolvedStatus
	}
	if r.resp.GetSuccess() != all {
		t.Errorf("success %v with results %v", r.resp.GetSuccess(), results)
	}
	return r
}

func resolveNow(t *testing.T, ctx context.Context, coord, agent string, deps ...*consortv1.Dependency) resolution {
	t.Helper()
	return await(t, resolveAsync(ctx, coord, agent, deps...), deps...)
}

func statusesOf(r resolution) []consortv1.DependencyStatus {
	var out []consortv1.DependencyStatus
	for _, res := range r.resp.GetResults() {
		out = append(out, res.GetStatus())
	}
	return out
}

func expectStatuses(t *testing.T, r resolution, want ...consortv1.DependencyStatus) {
	t.Helper()
	got := statusesOf(r)
	if len(got) != len(want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v (results %v)", got, want, r.resp.GetResults())
		}
	}
}

func notDone(t *testing.T, ch <-chan resolution) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("ResolveDependencies returned early: %v %v", r.resp, r.err)
	default:
	}
}

func publishCompletion(t *testing.T, ctx context.Context, coord, sender string, data map[string]any) {
	t.Helper()
	publish(t, ctx, shared.client, &consortv1.PublishRequest{CoordinationId: coord, Type: consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED,
		SenderAgentId: sender, Data: mustStruct(t, data)})
}

func dependencyRecord(t *testing.T, ctx context.Context, coord, agent, dep string) *consortv1.DependencyRecord {
	t.Helper()
	resp, err := dependencyClient().GetDependencyStatus(ctx, &consortv1.GetDependencyStatusRequest{CoordinationId: coord, AgentId: agent, DependencyId: dep})
	if err != nil {
		t.Fatalf("GetDependencyStatus(%s): %v", dep, err)
	}
	return resp.GetRecord()
}

func dependencyResolvedSignals(t *testing.T, ctx context.Context, coord string) []*consortv1.Signal {
	t.Helper()
	resp, err := shared.client.ListSignals(ctx, &consortv1.ListSignalsRequest{CoordinationId: coord,
		Types: []consortv1.SignalType{consortv1.SignalType_SIGNAL_TYPE_DEPENDENCY_RESOLVED}})
	if err != nil {
		t.Fatalf("ListSignals: %v", err)
	}
	return resp.GetSignals()
}

func setScore(t *testing.T, ctx context.Context, coord, gate string, score float64) uint32 {
	t.Helper()
	resp, err := dependencyClient().SetQualityGateScore(ctx, &consortv1.SetQualityGateScoreRequest{CoordinationId: coord, GateId: gate, Score: score})
	if err != nil {
		t.Fatalf("SetQualityGateScore: %v", err)
	}
	return resp.GetReleasedWaits()
}

func setAvailable(t *testing.T, ctx context.Context, coord, res string, available bool) uint32 {
	t.Helper()
	resp, err := dependencyClient().SetResourceAvailability(ctx, &consortv1.SetResourceAvailabilityRequest{CoordinationId: coord, ResourceId: res, Available: available})
	if err != nil {
		t.Fatalf("SetResourceAvailability: %v", err)
	}
	return resp.GetReleasedWaits()
}

// Case 20: a completion wait of 1 s with no completion times out; a completion 0.5 s into the wait resolves it.
func TestCase20CompletionTimeoutAndLateCompletion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	publishCompletion(t, ctx, coord, "someone-else", nil) // another agent's completion does not count

	dep := completionDep("wait-producer", "producer", time.Second)
	r := resolveNow(t, ctx, coord, "consumer", dep)
	expectStatuses(t, r, timeoutStatus)
	if msg := r.resp.GetResults()[0].GetMessage(); msg != "Dependency 'wait-producer' timed out after 1s" {
		t.Errorf("timeout message %q", msg)
	}
	if r.resp.GetSuccess() || r.elapsed < 900*time.Millisecond {
		t.Errorf("success %v after %v, want false after about 1s", r.resp.GetSuccess(), r.elapsed)
	}
	if rec := dependencyRecord(t, ctx, coord, "consumer", "wait-producer"); rec.GetStatus() != timeoutStatus ||
		rec.GetType() != consortv1.DependencyType_DEPENDENCY_TYPE_AGENT_COMPLETION || rec.GetFinishedAt() == nil {
		t.Errorf("record %v", rec)
	}
	if sigs := dependencyResolvedSignals(t, ctx, coord); len(sigs) != 0 {
		t.Errorf("dependency_resolved published for a failed call: %v", sigs)
	}

	// Sender is the agent, 0.5 s into the wait.
	dep = completionDep("wait-producer-2", "producer", time.Second)
	ch := resolveAsync(ctx, coord, "consumer", dep)
	time.Sleep(500 * time.Millisecond)
	notDone(t, ch)
	if rec := dependencyRecord(t, ctx, coord, "consumer", "wait-producer-2"); rec.GetStatus() != inProgressStatus || rec.GetFinishedAt() != nil {
		t.Errorf("record while waiting: %v", rec)
	}
	publishCompletion(t, ctx, coord, "producer", map[string]any{"success": true})
	r = await(t, ch, dep)
	expectStatuses(t, r, resolvedStatus)
	if r.elapsed >= time.Second {
		t.Errorf("resolved after %v: the completion should wake the wait, not the timeout", r.elapsed)
	}

	// data.agent_id is the agent (another sender reports for it), 0.5 s into the wait.
	dep = completionDep("wait-reviewer", "reviewer", time.Second)
	ch = resolveAsync(ctx, coord, "consumer", dep)
	time.Sleep(500 * time.Millisecond)
	publishCompletion(t, ctx, coord, "orchestrator", map[string]any{"agent_id": "reviewer"})
	expectStatuses(t, await(t, ch, dep), resolvedStatus)
}

// With require_success (the default), a failed completion fails the wait at once.
func TestFailedCompletionFailsAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	dep := completionDep("wait-flaky", "flaky", time.Second)
	ch := resolveAsync(ctx, coord, "consumer", dep)
	time.Sleep(200 * time.Millisecond)
	publishCompletion(t, ctx, coord, "flaky", map[string]any{"success": false})
	r := await(t, ch, dep)
	expectStatuses(t, r, failedStatus)
	if r.resp.GetSuccess() || r.elapsed >= 800*time.Millisecond {
		t.Errorf("success %v after %v, want false at once", r.resp.GetSuccess(), r.elapsed)
	}

	lenient := completionDep("any-flaky", "flaky", time.Second)
	lenient.GetAgentCompletion().RequireSuccess = proto.Bool(false)
	r = resolveNow(t, ctx, coord, "consumer", lenient)
	expectStatuses(t, r, resolvedStatus)
	if r.elapsed >= atOnce {
		t.Errorf("require_success=false resolved after %v, want at once", r.elapsed)
	}
}

// Case 21: gate 0.7 < 0.8 → timeout; 0.9 → resolved; a score raised during the wait → resolved.
func TestCase21QualityGate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	setScore(t, ctx, coord, "review", 0.7)
	r := resolveNow(t, ctx, coord, "publisher", gateDep("g1", "review", nil, time.Second))
	expectStatuses(t, r, timeoutStatus)
	if msg := r.resp.GetResults()[0].GetMessage(); msg != "Dependency 'g1' timed out after 1s" {
		t.Errorf("timeout message %q", msg)
	}
	if th := dependencyRecord(t, ctx, coord, "publisher", "g1").GetDependency().GetQualityGate().Threshold; th == nil || *th != 0.8 {
		t.Errorf("recorded threshold %v, want the default 0.8", th)
	}

	setScore(t, ctx, coord, "review", 0.9)
	r = resolveNow(t, ctx, coord, "publisher", gateDep("g2", "review", nil, time.Second))
	expectStatuses(t, r, resolvedStatus)
	if r.elapsed >= atOnce {
		t.Errorf("gate already passed, resolved after %v", r.elapsed)
	}

	setScore(t, ctx, coord, "lint", 0.5)
	dep := gateDep("g3", "lint", proto.Float64(0.8), 2*time.Second)
	ch := resolveAsync(ctx, coord, "publisher", dep)
	time.Sleep(300 * time.Millisecond)
	if n := setScore(t, ctx, coord, "lint", 0.79); n != 0 {
		t.Errorf("0.79 released %d waits, want 0", n)
	}
	notDone(t, ch)
	if n := setScore(t, ctx, coord, "lint", 0.8); n != 1 { // equal to the threshold passes
		t.Errorf("0.8 released %d waits, want 1", n)
	}
	r = await(t, ch, dep)
	expectStatuses(t, r, resolvedStatus)
	if r.elapsed >= time.Second {
		t.Errorf("resolved after %v", r.elapsed)
	}
}

// Case 22: a resource marked available during the wait resolves it.
func TestCase22ResourceMarkedAvailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	dep := resourceDep("gpu", "gpu-1", 2*time.Second)
	ch := resolveAsync(ctx, coord, "trainer", dep)
	time.Sleep(300 * time.Millisecond)
	if n := setAvailable(t, ctx, coord, "gpu-1", false); n != 0 {
		t.Errorf("marked unavailable: released %d, want 0", n)
	}
	notDone(t, ch)
	if n := setAvailable(t, ctx, coord, "gpu-1", true); n != 1 {
		t.Errorf("marked available: released %d, want 1", n)
	}
	r := await(t, ch, dep)
	expectStatuses(t, r, resolvedStatus)
	if r.elapsed >= time.Second {
		t.Errorf("resolved after %v", r.elapsed)
	}
	if rec := dependencyRecord(t, ctx, coord, "trainer", "gpu"); rec.GetType() != consortv1.DependencyType_DEPENDENCY_TYPE_RESOURCE_AVAILABILITY || rec.GetStatus() != resolvedStatus {
		t.Errorf("record %v", rec)
	}
	// Available in another coordination does not count here.
	r = resolveNow(t, ctx, coord+"-other", "trainer", resourceDep("gpu", "gpu-1", 300*time.Millisecond))
	expectStatuses(t, r, timeoutStatus)
}

// Case 23: three types satisfied → success and a dependency_resolved signal; an empty list → success.
func TestCase23ThreeTypesAndEmptyList(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	publishCompletion(t, ctx, coord, "model-generator", nil)
	setScore(t, ctx, coord, "schema", 0.95)
	deps := []*consortv1.Dependency{
		completionDep("models", "model-generator", 2*time.Second),
		gateDep("schema-ok", "schema", nil, 2*time.Second),
		resourceDep("db-ready", "database", 2*time.Second),
	}
	ch := resolveAsync(ctx, coord, "api-generator", deps...)
	time.Sleep(200 * time.Millisecond)
	notDone(t, ch)
	setAvailable(t, ctx, coord, "database", true)
	r := await(t, ch, deps...)
	expectStatuses(t, r, resolvedStatus, resolvedStatus, resolvedStatus)
	if !r.resp.GetSuccess() {
		t.Fatalf("success false: %v", r.resp)
	}

	sigs := dependencyResolvedSignals(t, ctx, coord)
	if len(sigs) != 1 {
		t.Fatalf("%d dependency_resolved signals, want 1", len(sigs))
	}
	fields := sigs[0].GetData().GetFields()
	if sigs[0].GetSenderAgentId() != "system" || fields["resolver_agent"].GetStringValue() != "api-generator" ||
		fields["dependency_count"].GetNumberValue() != 3 || fields["timestamp"] == nil {
		t.Errorf("dependency_resolved signal: sender %q data %v", sigs[0].GetSenderAgentId(), sigs[0].GetData())
	}

	r = resolveNow(t, ctx, coord, "independent-agent")
	if !r.resp.GetSuccess() || len(r.resp.GetResults()) != 0 || r.elapsed >= atOnce {
		t.Errorf("empty list: %v after %v, want success with no results at once", r.resp, r.elapsed)
	}
}

// A retried call (same dependency id) while the first still waits joins it; after it finished, the call returns
// the recorded result at once.
func TestRetryJoinsTheOpenWait(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	dep := completionDep("wait-producer", "producer", 2*time.Second)
	first := resolveAsync(ctx, coord, "consumer", dep)
	time.Sleep(300 * time.Millisecond)
	retry := resolveAsync(ctx, coord, "consumer", dep)
	time.Sleep(200 * time.Millisecond)
	notDone(t, first)
	notDone(t, retry)

	publishCompletion(t, ctx, coord, "producer", nil)
	for name, ch := range map[string]<-chan resolution{"first": first, "retry": retry} {
		r := await(t, ch, dep)
		expectStatuses(t, r, resolvedStatus)
		if d := r.resp.GetResults()[0].GetDuration().AsDuration(); d < 450*time.Millisecond {
			t.Errorf("%s call: duration %v, want the shared wait's (from the first call's start)", name, d)
		}
	}
	list, err := dependencyClient().ListDependencies(ctx, &consortv1.ListDependenciesRequest{CoordinationId: coord})
	if err != nil || len(list.GetRecords()) != 1 {
		t.Fatalf("ListDependencies: %v, %v; want one record", list, err)
	}

	r := resolveNow(t, ctx, coord, "consumer", dep)
	expectStatuses(t, r, resolvedStatus)
	if r.elapsed >= atOnce {
		t.Errorf("recorded result after %v, want at once", r.elapsed)
	}

	// Another target under the same id: FAILED_PRECONDITION, DEPENDENCY_MISMATCH.
	_, err = dependencyClient().ResolveDependencies(ctx, &consortv1.ResolveDependenciesRequest{CoordinationId: coord, AgentId: "consumer",
		Dependencies: []*consortv1.Dependency{completionDep("wait-producer", "someone-else", 2*time.Second)}})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("mismatched retry: %v, want FailedPrecondition", err)
	}
	if reason := errorInfo(t, err).GetReason(); reason != "DEPENDENCY_MISMATCH" {
		t.Errorf("mismatched retry: reason %q, want DEPENDENCY_MISMATCH", reason)
	}
}

// A call whose deadline passes first ends DEADLINE_EXCEEDED and records its unjoined wait as a timeout; a call the
// client cancels records it as failed, "cancelled".
func TestDeadlineAndCancelEndUnjoinedWaits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	finished := func(dep string) *consortv1.DependencyRecord {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second) // the server notices a cancel asynchronously: poll briefly
		for {
			rec := dependencyRecord(t, ctx, coord, "agent", dep)
			if rec.GetFinishedAt() != nil || time.Now().After(deadline) {
				return rec
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	_, err := dependencyClient().ResolveDependencies(short, &consortv1.ResolveDependenciesRequest{CoordinationId: coord, AgentId: "agent",
		Dependencies: []*consortv1.Dependency{completionDep("short", "nobody", 10*time.Second)}})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("call past its deadline: %v, want DeadlineExceeded", err)
	}
	if rec := finished("short"); rec.GetStatus() != timeoutStatus {
		t.Errorf("wait ended by the deadline: %v %q, want TIMEOUT", rec.GetStatus(), rec.GetMessage())
	}

	cancellable, cancelCall := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := dependencyClient().ResolveDependencies(cancellable, &consortv1.ResolveDependenciesRequest{CoordinationId: coord, AgentId: "agent",
			Dependencies: []*consortv1.Dependency{completionDep("cancelled", "nobody", 10*time.Second)}})
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	cancelCall()
	if err := <-done; status.Code(err) != codes.Canceled {
		t.Errorf("cancelled call: %v, want Canceled", err)
	}
	if rec := finished("cancelled"); rec.GetStatus() != failedStatus || rec.GetMessage() != "Dependency 'cancelled' cancelled" {
		t.Errorf("wait ended by a cancel: %v %q, want FAILED \"Dependency 'cancelled' cancelled\"", rec.GetStatus(), rec.GetMessage())
	}
}
