package consorttest

import (
	"context"
	"errors"
	"io"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// PublishStream with grpc-go: requests sent while outcomes are read on another goroutine (the way a high-rate
// publisher uses it), one outcome per request in request order, a refused request answered in-band.
func TestPublishStreamAcknowledgesInOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, coord := shared.client, coordinationID(t)
	stream, err := c.PublishStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	sendErr := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			req := &consortv1.PublishRequest{CoordinationId: coord, Type: consortv1.SignalType_SIGNAL_TYPE_INTER_AGENT_MESSAGE, SenderAgentId: "go"}
			if i == 500 {
				req.Type = consortv1.SignalType(99) // an unknown enum number: refused
			}
			data, _ := structpb.NewStruct(map[string]any{"i": i})
			req.Data = data
			if err := stream.Send(&consortv1.PublishStreamRequest{Publish: req}); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- stream.CloseSend()
	}()
	var outcomes []*consortv1.PublishOutcome
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(res.GetOutcomes()) == 0 {
			t.Fatal("a response without outcomes")
		}
		outcomes = append(outcomes, res.GetOutcomes()...)
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	if len(outcomes) != n {
		t.Fatalf("%d outcomes for %d requests", len(outcomes), n)
	}
	next := uint64(1)
	for i, o := range outcomes {
		if i == 499 {
			st := o.GetError()
			if st == nil || codes.Code(st.GetCode()) != codes.InvalidArgument {
				t.Fatalf("request 500: want an INVALID_ARGUMENT outcome, got %v", o)
			}
			var info errdetails.ErrorInfo
			if err := st.GetDetails()[0].UnmarshalTo(&info); err != nil || info.GetReason() != "FIELD_INVALID" {
				t.Fatalf("request 500: ErrorInfo %v (%v)", &info, err)
			}
			continue
		}
		ack := o.GetAck()
		if ack == nil || ack.GetSequence() != next || ack.GetDuplicate() {
			t.Fatalf("request %d: want ack of sequence %d, got %v", i+1, next, o)
		}
		next++
	}
}
