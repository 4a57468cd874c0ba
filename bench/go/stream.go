package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// signalStream measures publish → subscriber like the signal mode, but publishes over one PublishStream call
// (requests sent at `rate` per second; rate 0 = flat out, reporting signals/s too), outcomes read by their own
// goroutine. Publisher and subscriber on separate connections, one process, one clock.
func signalStream(addr string, rate, count int) {
	dial := func() *grpc.ClientConn {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			log.Fatal(err)
		}
		return conn
	}
	pubConn, subConn := dial(), dial()
	defer pubConn.Close()
	defer subConn.Close()
	pub, sub := consortv1.NewSignalServiceClient(pubConn), consortv1.NewSignalServiceClient(subConn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	coord := fmt.Sprintf("latency-go-stream-%d", time.Now().UnixNano())
	stream, err := sub.Subscribe(ctx, &consortv1.SubscribeRequest{CoordinationId: coord, AgentId: "bench"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		log.Fatal(err)
	}
	ps, err := pub.PublishStream(ctx)
	if err != nil {
		log.Fatal(err)
	}
	warmup := 500
	total := warmup + count
	var mu sync.Mutex
	sentAt := make(map[uint64]time.Time, total)
	samples := make([]float64, 0, count)
	done := make(chan struct{})
	var first, last time.Time
	go func() {
		received := 0
		for received < total {
			resp, err := stream.Recv()
			if err != nil {
				log.Fatal(err)
			}
			now := time.Now()
			for _, s := range resp.GetSignals() {
				mu.Lock()
				t, ok := sentAt[s.GetSequence()]
				mu.Unlock()
				if ok && s.GetSequence() > uint64(warmup) {
					samples = append(samples, float64(now.Sub(t).Nanoseconds())/1e6)
				}
				received++
				if received == warmup+1 {
					first = now
				}
			}
		}
		last = time.Now()
		close(done)
	}()
	go func() { // outcomes: each must be an ack
		for {
			res, err := ps.Recv()
			if err != nil {
				return
			}
			for _, o := range res.GetOutcomes() {
				if o.GetAck() == nil {
					log.Fatalf("refused: %v", o.GetError())
				}
			}
		}
	}()
	data, _ := structpb.NewStruct(map[string]any{"agent_id": "model-generator", "result_summary": "Generated 5 Pydantic models",
		"quality_score": 0.95, "execution_time_ms": 1234.5, "success": true})
	var interval time.Duration
	if rate > 0 {
		interval = time.Second / time.Duration(rate)
	}
	start := time.Now()
	for i := 1; i <= total; i++ {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(i-1) * interval)); d > 0 {
				time.Sleep(d)
			}
		}
		mu.Lock()
		sentAt[uint64(i)] = time.Now()
		mu.Unlock()
		if err := ps.Send(&consortv1.PublishStreamRequest{Publish: &consortv1.PublishRequest{CoordinationId: coord,
			Type: consortv1.SignalType_SIGNAL_TYPE_INTER_AGENT_MESSAGE, SenderAgentId: "bench", Data: data}}); err != nil {
			log.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		log.Fatal("timed out waiting for signals")
	}
	_ = ps.CloseSend()
	sort.Float64s(samples)
	pct := func(p float64) float64 { return samples[int(p/100*float64(len(samples)-1))] }
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"p50": pct(50), "p90": pct(90), "p99": pct(99), "max": samples[len(samples)-1], "count": len(samples),
		"per_second": float64(count) / last.Sub(first).Seconds()})
}
