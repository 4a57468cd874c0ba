// Command example publishes an agent_completed signal to a Consort server and prints what a subscriber receives.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	consortv1 "consort.dev/gen/go/consort/v1"
)

func main() {
	addr := flag.String("addr", "localhost:50051", "Consort gRPC address")
	flag.Parse()
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := consortv1.NewSignalServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	coord := fmt.Sprintf("example-%d", time.Now().UnixNano())
	// after_sequence=0 replays from the start, so the signal is seen even if published before registration.
	stream, err := client.Subscribe(ctx, &consortv1.SubscribeRequest{CoordinationId: coord, AgentId: "observer", AfterSequence: proto.Uint64(0)})
	if err != nil {
		log.Fatal(err)
	}
	received := make(chan error, 1)
	go func() { // prints the `subscribed` confirmation, then stops after the first batch of signals
		for {
			resp, err := stream.Recv()
			if err == nil {
				fmt.Println("received:", resp)
			}
			if err != nil || len(resp.GetSignals()) > 0 {
				received <- err
				return
			}
		}
	}()
	data, _ := structpb.NewStruct(map[string]any{"agent_id": "model-generator", "success": true})
	pub, err := client.Publish(ctx, &consortv1.PublishRequest{CoordinationId: coord,
		Type: consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED, SenderAgentId: "model-generator", Data: data})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("published sequence", pub.GetSignal().GetSequence(), "in", coord)
	if err := <-received; err != nil {
		log.Fatal(err)
	}
}
