package consorttest

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
