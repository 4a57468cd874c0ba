package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// memoryData is the ~200-byte payload of the memory case (212 bytes as compact JSON, 208 encoded as a Struct).
func memoryData(i int) *structpb.Struct {
	data, _ := structpb.NewStruct(map[string]any{
		"agent_id":          fmt.Sprintf("generator-%03d", i%100),
		"result_summary":    "Generated 5 Pydantic models for the order service",
		"files":             "models/order.py models/customer.py models/item.py",
		"quality_score":     0.95,
		"execution_time_ms": 1234.5,
		"success":           true,
	})
	return data
}

// memory drives the Memory cases, one step per line read on stdin, each answered with one JSON line on stdout
// (the benchmark reads the server's RSS between steps):
//
//   - "fill": publishes `count` signals round-robin over `coords` coordinations (memory-<run>-<k>), 64 calls in
//     flight over 4 connections;
//   - "read": reads every coordination's whole history back with ListSignals (pages of 1,000), checking the count;
//   - "subscribe": opens `subs` idle subscriptions (Subscribe, spread over the coordinations and 8 connections)
//     and answers once every one has its `subscribed` message; they stay open until stdin closes.
func memory(addr string, count, coords, subs int) {
	conns := make([]*grpc.ClientConn, 8)
	for i := range conns {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
		if err != nil {
			log.Fatal(err)
		}
		defer conn.Close()
		conns[i] = conn
	}
	run := time.Now().UnixNano()
	coord := func(k int) string { return fmt.Sprintf("memory-%d-%03d", run, k) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := json.NewEncoder(os.Stdout)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		start := time.Now()
		switch step := in.Text(); step {
		case "fill":
			var next atomic.Int64
			var bytes atomic.Int64
			var wg sync.WaitGroup
			for w := 0; w < 64; w++ {
				wg.Add(1)
				go func(client consortv1.SignalServiceClient) {
					defer wg.Done()
					for {
						i := int(next.Add(1)) - 1
						if i >= count {
							return
						}
						resp, err := client.Publish(ctx, &consortv1.PublishRequest{CoordinationId: coord(i % coords),
							Type: consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED, SenderAgentId: fmt.Sprintf("generator-%03d", i%100),
							Data: memoryData(i)})
						if err != nil {
							log.Fatal(err)
						}
						bytes.Add(int64(proto.Size(resp.GetSignal())))
					}
				}(consortv1.NewSignalServiceClient(conns[w%4]))
			}
			wg.Wait()
			_ = out.Encode(map[string]any{"step": step, "signals": count, "seconds": time.Since(start).Seconds(),
				"signal_bytes": float64(bytes.Load()) / float64(count)})
		case "read":
			read := 0
			client := consortv1.NewSignalServiceClient(conns[0])
			for k := 0; k < coords; k++ {
				token := ""
				for {
					page, err := client.ListSignals(ctx, &consortv1.ListSignalsRequest{CoordinationId: coord(k), PageSize: 1000, PageToken: token})
					if err != nil {
						log.Fatal(err)
					}
					read += len(page.GetSignals())
					if token = page.GetNextPageToken(); token == "" {
						break
					}
				}
			}
			if read != count {
				log.Fatalf("read %d signals back, published %d", read, count)
			}
			_ = out.Encode(map[string]any{"step": step, "signals": read, "seconds": time.Since(start).Seconds()})
		case "subscribe":
			var wg sync.WaitGroup
			for s := 0; s < subs; s++ {
				wg.Add(1)
				go func(s int) {
					client := consortv1.NewSignalServiceClient(conns[s%len(conns)])
					after := uint64(count / coords) // at the head: the stream stays idle
					stream, err := client.Subscribe(ctx, &consortv1.SubscribeRequest{CoordinationId: coord(s % coords),
						AgentId: fmt.Sprintf("idle-%d", s), AfterSequence: &after})
					if err != nil {
						log.Fatal(err)
					}
					if _, err := stream.Recv(); err != nil {
						log.Fatal(err)
					}
					wg.Done()
					for {
						if _, err := stream.Recv(); err != nil {
							return
						}
					}
				}(s)
			}
			wg.Wait()
			_ = out.Encode(map[string]any{"step": step, "subscriptions": subs, "seconds": time.Since(start).Seconds()})
		default:
			log.Fatalf("unknown step %q", step)
		}
	}
}
