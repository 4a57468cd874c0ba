package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"sync"
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
//   - "fill": publishes `count` signals round-robin over `coords` coordinations (memory-<run>-<k>) over 4
//     PublishStreams (one per connection), at most 256 unacknowledged on each;
//   - "read": reads every coordination's whole history back with ListSignals (pages of 1,000), checking the count
//     and the signals' mean encoded size;
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
			// Four PublishStreams (one per connection), each with its share of the signals, at most 256
			// unacknowledged at a time: the high-rate path, so a million signals take seconds, not minutes.
			var wg sync.WaitGroup
			const streams = 4
			for w := 0; w < streams; w++ {
				wg.Add(1)
				go func(w int, client consortv1.SignalServiceClient) {
					defer wg.Done()
					stream, err := client.PublishStream(ctx)
					if err != nil {
						log.Fatal(err)
					}
					mine := (count - w + streams - 1) / streams
					credits := make(chan struct{}, 256)
					acked := make(chan struct{})
					go func() {
						for n := 0; n < mine; {
							res, err := stream.Recv()
							if err != nil {
								log.Fatal(err)
							}
							for _, o := range res.GetOutcomes() {
								if o.GetAck() == nil {
									log.Fatalf("publish refused: %v", o.GetError())
								}
								n++
								<-credits
							}
						}
						close(acked)
					}()
					for i := w; i < count; i += streams {
						credits <- struct{}{}
						if err := stream.Send(&consortv1.PublishStreamRequest{Publish: &consortv1.PublishRequest{CoordinationId: coord(i % coords),
							Type: consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED, SenderAgentId: fmt.Sprintf("generator-%03d", i%100),
							Data: memoryData(i)}}); err != nil {
							log.Fatal(err)
						}
					}
					<-acked
					_ = stream.CloseSend()
				}(w, consortv1.NewSignalServiceClient(conns[w%4]))
			}
			wg.Wait()
			_ = out.Encode(map[string]any{"step": step, "signals": count, "seconds": time.Since(start).Seconds()})
		case "read":
			read, bytes := 0, 0
			client := consortv1.NewSignalServiceClient(conns[0])
			for k := 0; k < coords; k++ {
				token := ""
				for {
					page, err := client.ListSignals(ctx, &consortv1.ListSignalsRequest{CoordinationId: coord(k), PageSize: 1000, PageToken: token})
					if err != nil {
						log.Fatal(err)
					}
					read += len(page.GetSignals())
					for _, sig := range page.GetSignals() {
						bytes += proto.Size(sig)
					}
					if token = page.GetNextPageToken(); token == "" {
						break
					}
				}
			}
			if read != count {
				log.Fatalf("read %d signals back, published %d", read, count)
			}
			_ = out.Encode(map[string]any{"step": step, "signals": read, "seconds": time.Since(start).Seconds(), "signal_bytes": float64(bytes) / float64(read)})
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
