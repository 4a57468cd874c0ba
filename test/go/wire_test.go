package consorttest

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// numbersStruct returns {"nums": [0..9, 0..9, …]}, as long as its protobuf encoding stays within limit bytes:
// small numbers take 11 bytes each in a Struct list (about 5.5 times their JSON).
func numbersStruct(t *testing.T, limit int) *structpb.Struct {
	t.Helper()
	build := func(n int) *structpb.Struct {
		nums := make([]any, n)
		for i := range nums {
			nums[i] = float64(i % 10)
		}
		return mustStruct(t, map[string]any{"nums": nums})
	}
	lo, hi := 0, limit
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if proto.Size(build(mid)) <= limit {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return build(lo)
}

// A replay of 100 signals of 64 KiB (encoded) arrives in batches a grpc-go client reads with its default 4 MiB
// limit, and ListSignals cuts its pages short with a token instead of failing them.
func TestLargeSignalsFitTheClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	coord := coordinationID(t)
	data := numbersStruct(t, 64*1024)
	for i := 0; i < 100; i++ {
		publish(t, ctx, shared.client, &consortv1.PublishRequest{CoordinationId: coord, Type: consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED, Data: data})
	}
	sub := subscribe(t, ctx, shared.client, &consortv1.SubscribeRequest{CoordinationId: coord, AgentId: "go-reader", AfterSequence: proto.Uint64(0)})
	sub.expectSubscribed()
	checkSequences(t, sub.signals(100), 1, 100)

	var seen []uint64
	pages := 0
	token := ""
	for {
		page, err := shared.client.ListSignals(ctx, &consortv1.ListSignalsRequest{CoordinationId: coord, PageToken: token})
		if err != nil {
			t.Fatalf("ListSignals page %d: %v", pages+1, err)
		}
		seen = append(seen, sequences(page.GetSignals())...)
		pages++
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(seen) != 100 || seen[0] != 100 || seen[99] != 1 || pages < 2 {
		t.Fatalf("pages: %d, sequences %v", pages, seen)
	}
}

// Every error names its condition in ErrorInfo: an unknown context, an invalid field.
func TestErrorReasons(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err := consortv1.NewContextServiceClient(shared.conn).GetAgentContext(ctx, &consortv1.GetAgentContextRequest{
		CoordinationId: coordinationID(t), AgentId: "nobody"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("GetAgentContext: got %v, want NotFound", err)
	}
	if got := errorInfo(t, err).GetReason(); got != "CONTEXT_NOT_FOUND" {
		t.Errorf("reason %q, want CONTEXT_NOT_FOUND", got)
	}
	_, err = shared.client.Publish(ctx, &consortv1.PublishRequest{CoordinationId: coordinationID(t)})
	if got := errorInfo(t, err).GetReason(); got != "FIELD_INVALID" {
		t.Errorf("reason %q, want FIELD_INVALID", got)
	}
}
