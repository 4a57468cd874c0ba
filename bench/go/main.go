// Command latency measures Consort's event latencies with the Go client, against a running server:
//
//   - -mode signal (default): publish → subscriber. One goroutine publishes at a fixed rate (~200-byte payload),
//     another receives on its own connection, and the time from each Publish call's start to the signal's receipt
//     is collected (same process, same clock).
//   - -mode completion: completion → dependency waiter released (completion.go).
//   - -mode memory: the steps of the Memory cases, driven over stdin (memory.go).
//   - -mode signal-stream: publish → subscriber with the signals published over one PublishStream (stream.go);
//     -rate 0 publishes flat out.
//
// It prints one JSON line of milliseconds: {"p50":…,"p90":…,"p99":…,"max":…,"count":…} (and more per mode).
package main

import (
	"context"
	"encoding/json"
	"flag"
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

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "Consort gRPC address")
	rate := flag.Int("rate", 1000, "signals per second")
	count := flag.Int("count", 5000, "signals (or completions) measured after a warm-up")
	mode := flag.String("mode", "signal", "signal: publish → subscriber; completion: completion → waiter released; memory: the Memory steps")
	coords := flag.Int("coordinations", 100, "memory: coordinations the signals are spread over")
	subs := flag.Int("subscriptions", 10000, "memory: idle subscriptions opened by the subscribe step")
	flag.Parse()
	switch *mode {
	case "completion":
		completion(*addr, *count)
		return
	case "memory":
		memory(*addr, *count, *coords, *subs)
		return
	case "signal-stream":
		signalStream(*addr, *rate, *count)
		return
	}

	dial := func() *grpc.ClientConn {
		conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
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
	coord := fmt.Sprintf("latency-go-%d", time.Now().UnixNano())
	stream, err := sub.Subscribe(ctx, &consortv1.SubscribeRequest{CoordinationId: coord, AgentId: "bench"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil { // `subscribed`
		log.Fatal(err)
	}

	warmup := *rate / 2
	total := warmup + *count
	var mu sync.Mutex
	sentAt := make(map[uint64]time.Time, total)
	samples := make([]float64, 0, *count)
	done := make(chan struct{})
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
			}
		}
		close(done)
	}()

	data, _ := structpb.NewStruct(map[string]any{"agent_id": "model-generator", "result_summary": "Generated 5 Pydantic models",
		"quality_score": 0.95, "execution_time_ms": 1234.5, "success": true})
	interval := time.Second / time.Duration(*rate)
	start := time.Now()
	for i := 1; i <= total; i++ {
		if d := time.Until(start.Add(time.Duration(i-1) * interval)); d > 0 {
			time.Sleep(d)
		}
		mu.Lock()
		sentAt[uint64(i)] = time.Now()
		mu.Unlock()
		if _, err := pub.Publish(ctx, &consortv1.PublishRequest{CoordinationId: coord,
			Type: consortv1.SignalType_SIGNAL_TYPE_INTER_AGENT_MESSAGE, SenderAgentId: "bench", Data: data}); err != nil {
			log.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		log.Fatal("timed out waiting for signals")
	}
	sort.Float64s(samples)
	pct := func(p float64) float64 { return samples[int(p/100*float64(len(samples)-1))] }
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"p50": pct(50), "p90": pct(90), "p99": pct(99), "max": samples[len(samples)-1], "count": len(samples)})
}
