package consorttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// CoordinationService with grpc-go: a coordination is listed and shown, its delete ends an open Subscribe ABORTED
// (COORDINATION_DELETED), and its id starts over in a new epoch.
func TestListGetDeleteCoordination(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	signals, coord := shared.client, coordinationID(t)
	coordinations := consortv1.NewCoordinationServiceClient(shared.conn)
	pub, err := signals.Publish(ctx, &consortv1.PublishRequest{CoordinationId: coord, Type: consortv1.SignalType_SIGNAL_TYPE_AGENT_INITIALIZED, SenderAgentId: "go-agent"})
	if err != nil {
		t.Fatal(err)
	}
	epoch := pub.GetSignal().GetEpoch()

	// Listed: every page of 2 followed to the end (other tests' coordinations share the server).
	var found *consortv1.Coordination
	for token := ""; ; {
		page, err := coordinations.ListCoordinations(ctx, &consortv1.ListCoordinationsRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.GetCoordinations() {
			if c.GetCoordinationId() == coord {
				found = c
			}
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if found == nil || found.GetHeadSequence() != 1 || found.GetEpoch() != epoch {
		t.Fatalf("listed: %v", found)
	}

	stream, err := signals.Subscribe(ctx, &consortv1.SubscribeRequest{CoordinationId: coord, AgentId: "go-reader"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil { // `subscribed`: registered
		t.Fatal(err)
	}
	got, err := coordinations.GetCoordination(ctx, &consortv1.GetCoordinationRequest{CoordinationId: coord})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetCoordination().GetOpenSubscriptions() != 1 || got.GetAgentCount() != 2 {
		t.Fatalf("GetCoordination: %v", got)
	}
	if a := got.GetAgents()[0]; a.GetAgentId() != "go-agent" || a.GetLastSentSequence() != 1 {
		t.Fatalf("agent: %v", a)
	}

	deleted, err := coordinations.DeleteCoordination(ctx, &consortv1.DeleteCoordinationRequest{CoordinationId: coord})
	if err != nil || !deleted.GetDeleted() {
		t.Fatalf("delete: %v %v", deleted, err)
	}
	recvDone := make(chan error, 1)
	go func() {
		_, err := stream.Recv()
		recvDone <- err
	}()
	select {
	case err := <-recvDone:
		info := errorInfo(t, err)
		if status.Code(err) != codes.Aborted || info.GetReason() != "COORDINATION_DELETED" {
			t.Fatalf("Subscribe after delete: %v (%v)", err, info)
		}
		if info.GetMetadata()["epoch"] != epoch {
			t.Fatalf("the ended stream names epoch %q, want %q", info.GetMetadata()["epoch"], epoch)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Subscribe still open 5 s after the delete")
	}

	_, err = coordinations.GetCoordination(ctx, &consortv1.GetCoordinationRequest{CoordinationId: coord})
	if status.Code(err) != codes.NotFound || errorInfo(t, err).GetMetadata()["coordination_id"] != coord {
		t.Fatalf("GetCoordination after delete: %v", err)
	}
	again, err := signals.Publish(ctx, &consortv1.PublishRequest{CoordinationId: coord, Type: consortv1.SignalType_SIGNAL_TYPE_AGENT_INITIALIZED})
	if err != nil {
		t.Fatal(err)
	}
	if again.GetSignal().GetSequence() != 1 || again.GetSignal().GetEpoch() == epoch {
		t.Fatalf("after delete: sequence %d epoch %q (old %q)", again.GetSignal().GetSequence(), again.GetSignal().GetEpoch(), epoch)
	}
}

// coordinationExists reports whether GetCoordination finds the coordination; NOT_FOUND must carry
// COORDINATION_NOT_FOUND naming the id.
func coordinationExists(ctx context.Context, t *testing.T, c consortv1.CoordinationServiceClient, id string) bool {
	t.Helper()
	_, err := c.GetCoordination(ctx, &consortv1.GetCoordinationRequest{CoordinationId: id})
	if err == nil {
		return true
	}
	if info := errorInfo(t, err); status.Code(err) != codes.NotFound || info.GetReason() != "COORDINATION_NOT_FOUND" || info.GetMetadata()["coordination_id"] != id {
		t.Fatalf("GetCoordination(%s): %v (%v)", id, err, info)
	}
	return false
}

// listedCoordinations returns the ids of every coordination ListCoordinations pages through.
func listedCoordinations(ctx context.Context, t *testing.T, c consortv1.CoordinationServiceClient) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for token := ""; ; {
		page, err := c.ListCoordinations(ctx, &consortv1.ListCoordinationsRequest{PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, co := range page.GetCoordinations() {
			ids[co.GetCoordinationId()] = true
		}
		if token = page.GetNextPageToken(); token == "" {
			return ids
		}
	}
}

// routingTasks lists a policy's routing history (optionally of one coordination) as "coordination/task", newest
// first ("-" for no coordination).
func routingTasks(ctx context.Context, t *testing.T, r consortv1.RoutingServiceClient, policyID, coordinationID string) []string {
	t.Helper()
	res, err := r.ListRoutingHistory(ctx, &consortv1.ListRoutingHistoryRequest{PolicyId: policyID, CoordinationId: coordinationID})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range res.GetResults() {
		c := x.GetCoordinationId()
		if c == "" {
			c = "-"
		}
		out = append(out, c+"/"+x.GetCurrentTask())
	}
	return out
}

func routingStats(ctx context.Context, t *testing.T, r consortv1.RoutingServiceClient, policyID string) *consortv1.RoutingStats {
	t.Helper()
	res, err := r.GetRoutingStats(ctx, &consortv1.GetRoutingStatsRequest{PolicyId: policyID})
	if err != nil {
		t.Fatal(err)
	}
	return res.GetStats()
}

// Route with a coordination_id ties the result to the coordination: it is listed by it and goes when the
// coordination is deleted, while other results and the policy's stats stay.
func TestRoutingResultsGoWithTheirCoordination(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	routing := consortv1.NewRoutingServiceClient(shared.conn)
	coordinations := consortv1.NewCoordinationServiceClient(shared.conn)
	mine, other := coordinationID(t)+"-mine", coordinationID(t)+"-other"
	policy := &consortv1.RoutingPolicy{PolicyId: coordinationID(t), Routers: []*consortv1.Router{{Kind: &consortv1.Router_Conditional{
		Conditional: &consortv1.ConditionalRouter{Rules: []*consortv1.ConditionalRule{{RuleId: "err", ConditionKey: "error_count",
			Operator: consortv1.ConditionOperator_CONDITION_OPERATOR_GREATER_THAN, ConditionValue: structpb.NewNumberValue(0),
			Decision: consortv1.RoutingDecision_ROUTING_DECISION_RETRY}}}}}}}
	if _, err := routing.PutRoutingPolicy(ctx, &consortv1.PutRoutingPolicyRequest{Policy: policy}); err != nil {
		t.Fatal(err)
	}
	route := func(coordination, task string, errorCount float64) *consortv1.RoutingResult {
		t.Helper()
		state, _ := structpb.NewStruct(map[string]any{"error_count": errorCount})
		res, err := routing.Route(ctx, &consortv1.RouteRequest{PolicySource: &consortv1.RouteRequest_PolicyId{PolicyId: policy.GetPolicyId()},
			CurrentTask: task, State: state, CoordinationId: coordination})
		if err != nil {
			t.Fatal(err)
		}
		return res.GetResult()
	}
	if r := route(mine, "generate", 1); r.GetCoordinationId() != mine || r.GetDecision() != consortv1.RoutingDecision_ROUTING_DECISION_RETRY {
		t.Fatalf("Route: %v", r)
	}
	route(other, "generate", 0)
	route("", "generate", 0)
	route(mine, "review", 0)

	if !listedCoordinations(ctx, t, coordinations)[mine] || !coordinationExists(ctx, t, coordinations, mine) {
		t.Fatalf("%s is not a coordination after a Route with its id", mine)
	}
	if got, want := fmt.Sprint(routingTasks(ctx, t, routing, policy.GetPolicyId(), mine)), fmt.Sprint([]string{mine + "/review", mine + "/generate"}); got != want {
		t.Fatalf("history of %s: %s, want %s", mine, got, want)
	}
	before := routingStats(ctx, t, routing, policy.GetPolicyId())
	if before.GetTotalRoutings() != 4 || before.GetDecisions()["retry"] != 1 || before.GetDecisions()["continue"] != 3 {
		t.Fatalf("stats: %v", before)
	}

	if res, err := coordinations.DeleteCoordination(ctx, &consortv1.DeleteCoordinationRequest{CoordinationId: mine}); err != nil || !res.GetDeleted() {
		t.Fatalf("delete: %v %v", res, err)
	}
	if got, want := fmt.Sprint(routingTasks(ctx, t, routing, policy.GetPolicyId(), "")), fmt.Sprint([]string{"-/generate", other + "/generate"}); got != want {
		t.Fatalf("history after the delete: %s, want %s", got, want)
	}
	if after := routingStats(ctx, t, routing, policy.GetPolicyId()); !proto.Equal(after, before) {
		t.Fatalf("stats changed with the delete: %v, were %v", after, before)
	}
	_, _ = coordinations.DeleteCoordination(ctx, &consortv1.DeleteCoordinationRequest{CoordinationId: other})
}

// Idle expiry at the shortest TTL (1 s; the sweeper runs every second), on a server of its own: an idle
// coordination goes with its routing results and its id starts a new log; one with an open Subscribe stays while
// the stream is open. Waits poll with a deadline.
func TestIdleCoordinationExpiry(t *testing.T) {
	srv, err := startServer("--idle-coordination-ttl-ms", "1000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	coordinations := consortv1.NewCoordinationServiceClient(srv.conn)
	// A coordination expires within two TTLs of idleness; the rest is slack for a loaded machine.
	waitExpired := func(ctx context.Context, t *testing.T, id string) {
		t.Helper()
		deadline := time.Now().Add(6 * time.Second)
		for coordinationExists(ctx, t, coordinations, id) {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not expire within 6 s", id)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	t.Run("idle coordination expires", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		routing := consortv1.NewRoutingServiceClient(srv.conn)
		coord := coordinationID(t)
		policy := &consortv1.RoutingPolicy{PolicyId: coord + "-policy"}
		first, err := srv.client.Publish(ctx, &consortv1.PublishRequest{CoordinationId: coord, Type: consortv1.SignalType_SIGNAL_TYPE_AGENT_INITIALIZED, SenderAgentId: "go-agent"})
		if err != nil {
			t.Fatal(err)
		}
		for _, req := range []*consortv1.RouteRequest{{CurrentTask: "scoped", CoordinationId: coord}, {CurrentTask: "unscoped"}} {
			req.PolicySource = &consortv1.RouteRequest_Policy{Policy: policy}
			if _, err := routing.Route(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		if !listedCoordinations(ctx, t, coordinations)[coord] {
			t.Fatalf("%s not listed", coord)
		}
		stats := routingStats(ctx, t, routing, policy.GetPolicyId())

		waitExpired(ctx, t, coord)
		if listedCoordinations(ctx, t, coordinations)[coord] {
			t.Fatalf("%s still listed after it expired", coord)
		}
		if got := fmt.Sprint(routingTasks(ctx, t, routing, policy.GetPolicyId(), "")); got != "[-/unscoped]" {
			t.Fatalf("history after expiry: %s, want [-/unscoped]", got)
		}
		if after := routingStats(ctx, t, routing, policy.GetPolicyId()); !proto.Equal(after, stats) || after.GetTotalRoutings() != 2 {
			t.Fatalf("stats after expiry: %v, were %v", after, stats)
		}
		again, err := srv.client.Publish(ctx, &consortv1.PublishRequest{CoordinationId: coord, Type: consortv1.SignalType_SIGNAL_TYPE_AGENT_INITIALIZED, SenderAgentId: "go-agent"})
		if err != nil {
			t.Fatal(err)
		}
		if again.GetSignal().GetSequence() != 1 || again.GetSignal().GetEpoch() == first.GetSignal().GetEpoch() {
			t.Fatalf("after expiry: sequence %d epoch %q (old %q)", again.GetSignal().GetSequence(), again.GetSignal().GetEpoch(), first.GetSignal().GetEpoch())
		}
	})

	t.Run("open Subscribe keeps its coordination", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		coord := coordinationID(t)
		if _, err := srv.client.Publish(ctx, &consortv1.PublishRequest{CoordinationId: coord, Type: consortv1.SignalType_SIGNAL_TYPE_AGENT_INITIALIZED}); err != nil {
			t.Fatal(err)
		}
		streamCtx, endStream := context.WithCancel(ctx)
		defer endStream()
		stream, err := srv.client.Subscribe(streamCtx, &consortv1.SubscribeRequest{CoordinationId: coord, AgentId: "reader"})
		if err != nil {
			t.Fatal(err)
		}
		if m, err := stream.Recv(); err != nil || m.GetSubscribed() == nil { // registered: the stream holds it
			t.Fatalf("first message: %v %v", m, err)
		}
		// A control coordination used after the stream opened: once it has expired, a sweep has passed after the
		// subscribed coordination's TTL too.
		control := coord + "-control"
		if _, err := srv.client.Publish(ctx, &consortv1.PublishRequest{CoordinationId: control, Type: consortv1.SignalType_SIGNAL_TYPE_AGENT_INITIALIZED}); err != nil {
			t.Fatal(err)
		}
		waitExpired(ctx, t, control)
		got, err := coordinations.GetCoordination(ctx, &consortv1.GetCoordinationRequest{CoordinationId: coord})
		if err != nil || got.GetCoordination().GetOpenSubscriptions() != 1 {
			t.Fatalf("subscribed coordination: %v %v", got, err)
		}
		endStream()
		waitExpired(ctx, t, coord)
	})
}

// WatchCoordinations with grpc-go: after the snapshot, a publish to a new coordination shows it, and its
// DeleteCoordination shows it removed (DELETED). Every Recv is bounded by the call's deadline.
func TestWatchCoordinationsSeesCreationAndRemoval(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	coordinations := consortv1.NewCoordinationServiceClient(shared.conn)
	watch, err := coordinations.WatchCoordinations(ctx, &consortv1.WatchCoordinationsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// until reads responses until one holds a change `match` accepts, and returns that change.
	until := func(what string, match func(*consortv1.CoordinationChange) bool) *consortv1.CoordinationChange {
		t.Helper()
		for {
			res, err := watch.Recv()
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			if res.GetWatchEpoch() == "" {
				t.Fatalf("a response without watch_epoch: %v", res)
			}
			for _, c := range res.GetChanges() {
				if match(c) {
					return c
				}
			}
		}
	}
	for {
		res, err := watch.Recv()
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		if res.GetCaughtUp() {
			break
		}
	}

	if _, err := shared.client.Publish(ctx, &consortv1.PublishRequest{CoordinationId: coord, Type: consortv1.SignalType_SIGNAL_TYPE_AGENT_INITIALIZED, SenderAgentId: "go-agent"}); err != nil {
		t.Fatal(err)
	}
	created := until("the new coordination", func(c *consortv1.CoordinationChange) bool { return c.GetUpdated().GetCoordinationId() == coord })
	if created.GetUpdated().GetHeadSequence() != 1 || created.GetRevision() == 0 {
		t.Fatalf("created: %v", created)
	}

	if _, err := coordinations.DeleteCoordination(ctx, &consortv1.DeleteCoordinationRequest{CoordinationId: coord}); err != nil {
		t.Fatal(err)
	}
	removed := until("its removal", func(c *consortv1.CoordinationChange) bool { return c.GetRemoved().GetCoordinationId() == coord })
	if removed.GetRemoved().GetReason() != consortv1.CoordinationRemovalReason_COORDINATION_REMOVAL_REASON_DELETED || removed.GetRevision() <= created.GetRevision() {
		t.Fatalf("removed: %v (created at revision %d)", removed, created.GetRevision())
	}
}
