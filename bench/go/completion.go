package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"sort"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// completion measures completion → waiter released: for each sample a waiter goroutine calls ResolveDependencies
// on its own connection with one agent-completion dependency on a fresh agent; once GetDependencyStatus (a third
// connection) shows the wait IN_PROGRESS, the publisher reads the clock and publishes that agent's
// `agent_completed` (~200-byte data) on its own connection; the sample is the time until the waiter's response
// arrives. One completion at a time, one process and one clock for both sides (the server is another process).
// Printed beside it: the publisher's own Publish round trip, a unary call with Consort in it.
func completion(addr string, count int) {
	dial := func() *grpc.ClientConn {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			log.Fatal(err)
		}
		return conn
	}
	waitConn, pubConn, pollConn := dial(), dial(), dial()
	defer waitConn.Close()
	defer pubConn.Close()
	defer pollConn.Close()
	waiter := consortv1.NewDependencyServiceClient(waitConn)
	poller := consortv1.NewDependencyServiceClient(pollConn)
	pub := consortv1.NewSignalServiceClient(pubConn)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	coord := fmt.Sprintf("completion-go-%d", time.Now().UnixNano())
	warmup := 200
	released := make([]float64, 0, count)
	publish := make([]float64, 0, count)
	for i := 0; i < warmup+count; i++ {
		agent := fmt.Sprintf("gen-%d", i)
		done := make(chan time.Time, 1)
		go func() {
			resp, err := waiter.ResolveDependencies(ctx, &consortv1.ResolveDependenciesRequest{CoordinationId: coord, AgentId: "validator",
				Dependencies: []*consortv1.Dependency{{DependencyId: agent, Timeout: durationpb.New(30 * time.Second),
					Target: &consortv1.Dependency_AgentCompletion{AgentCompletion: &consortv1.AgentCompletionTarget{AgentId: agent}}}}})
			at := time.Now()
			if err != nil || !resp.GetSuccess() {
				log.Fatalf("ResolveDependencies: %v %v", err, resp)
			}
			done <- at
		}()
		for {
			st, err := poller.GetDependencyStatus(ctx, &consortv1.GetDependencyStatusRequest{CoordinationId: coord, AgentId: "validator", DependencyId: agent})
			if err == nil && st.GetRecord().GetStatus() == consortv1.DependencyStatus_DEPENDENCY_STATUS_IN_PROGRESS {
				break
			}
		}
		data, _ := structpb.NewStruct(map[string]any{"agent_id": agent, "result_summary": "Generated 5 Pydantic models",
			"quality_score": 0.95, "execution_time_ms": 1234.5, "success": true})
		start := time.Now()
		if _, err := pub.Publish(ctx, &consortv1.PublishRequest{CoordinationId: coord, Type: consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED,
			SenderAgentId: agent, Data: data}); err != nil {
			log.Fatal(err)
		}
		published := time.Now()
		at := <-done
		if i >= warmup {
			released = append(released, float64(at.Sub(start).Nanoseconds())/1e6)
			publish = append(publish, float64(published.Sub(start).Nanoseconds())/1e6)
		}
	}
	sort.Float64s(released)
	sort.Float64s(publish)
	pct := func(xs []float64, p float64) float64 { return xs[int(p/100*float64(len(xs)-1))] }
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"p50": pct(released, 50), "p90": pct(released, 90), "p99": pct(released, 99),
		"p999": pct(released, 99.9), "max": released[len(released)-1], "count": len(released),
		"publishP50": pct(publish, 50), "publishP99": pct(publish, 99)})
}
