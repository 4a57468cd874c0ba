// Command latency measures Consort's event latencies with the Go client, against a running server, and the same
// cases against the systems users would pick instead (NATS JetStream, Redis Streams):
//
//   - -mode signal (default): publish → subscriber. One goroutine publishes at a fixed rate (~200-byte payload),
//     another receives on its own connection, and the time from each Publish call's start to the signal's receipt
//     is collected (same process, same clock; probe.go).
//   - -mode nats-latency, -mode redis-latency: the same against NATS JetStream (nats.go) and Redis Streams (redis.go).
//   - -mode fanout -system consort|nats|redis: one publisher flat out, N subscribers (fanout.go).
//   - -mode completion: completion → dependency waiter released (completion.go).
//   - -mode memory: the steps of the Memory cases, driven over stdin (memory.go).
//   - -mode signal-stream: publish → subscriber with the signals published over one PublishStream (stream.go).
//
// It prints one JSON line: {"p50":…,"p90":…,"p99":…,"max":…,"count":…} in milliseconds for the latency modes
// (and more per mode). Every mode ends with an error after -timeout.
package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	consortv1 "consort.dev/gen/go/consort/v1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "the server's address (Consort gRPC, NATS or Redis)")
	subAddr := flag.String("sub-addr", "", "signal: the subscriber's server, another replica (default: -addr)")
	rate := flag.Int("rate", 1000, "signals per second")
	count := flag.Int("count", 5000, "signals (or completions) measured after a warm-up; fanout: messages published")
	mode := flag.String("mode", "signal", "signal | signal-stream | nats-latency | redis-latency | fanout | completion | memory | peer-memory")
	coords := flag.Int("coordinations", 100, "memory, peer-memory: coordinations (peers: subjects or keys) the messages are spread over")
	subs := flag.Int("subscriptions", 10000, "memory: idle subscriptions opened by the subscribe step")
	system := flag.String("system", "consort", "fanout: consort | nats | redis; peer-memory: nats | redis")
	subscribers := flag.Int("subscribers", 100, "fanout: subscribers")
	window := flag.Int("window", 32, "fanout: publishes in flight")
	serverPid := flag.Int("server-pid", 0, "fanout: the server's process id, for its CPU time")
	timeout := flag.Duration("timeout", 0, "end with an error after this long (default 20m for memory, 5m for completion, 2m otherwise)")
	flag.Parse()
	if *timeout == 0 {
		*timeout = map[string]time.Duration{"memory": 20 * time.Minute, "peer-memory": 10 * time.Minute, "completion": 5 * time.Minute}[*mode]
		if *timeout == 0 {
			*timeout = 2 * time.Minute
		}
	}
	watchdog(*mode, *timeout)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	switch *mode {
	case "signal":
		signalLatency(ctx, *addr, *subAddr, *rate, *count)
	case "nats-latency":
		natsLatency(ctx, *addr, *rate, *count)
	case "redis-latency":
		redisLatency(ctx, *addr, *rate, *count)
	case "fanout":
		fanout(ctx, *system, *addr, *subscribers, *count, *window, *serverPid)
	case "completion":
		completion(*addr, *count)
	case "memory":
		memory(*addr, *count, *coords, *subs)
	case "signal-stream":
		signalStreamLatency(ctx, *addr, *rate, *count)
	case "peer-memory":
		peerMemory(ctx, *system, *addr, *count, *coords)
	default:
		fail(fmt.Sprintf("unknown -mode %q", *mode))
	}
}

// dialConsort opens one gRPC connection to Consort.
func dialConsort(addr string) *grpc.ClientConn {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fail(err)
	}
	return conn
}

// signalLatency: Consort publish → subscriber, publisher and subscriber on their own connections; the subscriber on
// subAddr when set (another replica of one deployment), else on addr.
func signalLatency(ctx context.Context, addr, subAddr string, rate, count int) {
	if subAddr == "" {
		subAddr = addr
	}
	pubConn, subConn := dialConsort(addr), dialConsort(subAddr)
	defer pubConn.Close()
	defer subConn.Close()
	pub, sub := consortv1.NewSignalServiceClient(pubConn), consortv1.NewSignalServiceClient(subConn)

	coord := fmt.Sprintf("latency-go-%d", time.Now().UnixNano())
	probe := subscribedProbe(ctx, sub, coord, rate, count)
	data := signalData()
	err := probe.run(ctx, func(uint64) error {
		_, err := pub.Publish(ctx, &consortv1.PublishRequest{CoordinationId: coord,
			Type: consortv1.SignalType_SIGNAL_TYPE_INTER_AGENT_MESSAGE, SenderAgentId: "bench", Data: data})
		return err
	})
	if err != nil {
		fail(err)
	}
	probe.print()
}

// subscribedProbe subscribes to coord (registered before it returns) and feeds every signal received to a new
// latency probe, from a goroutine of its own, until the probe has them all.
func subscribedProbe(ctx context.Context, sub consortv1.SignalServiceClient, coord string, rate, count int) *latencyProbe {
	stream, err := sub.Subscribe(ctx, &consortv1.SubscribeRequest{CoordinationId: coord, AgentId: "bench"})
	if err != nil {
		fail(err)
	}
	if _, err := stream.Recv(); err != nil { // `subscribed`
		fail(err)
	}
	probe := newLatencyProbe(rate, count)
	go func() {
		for !probe.complete() {
			resp, err := stream.Recv()
			if err != nil {
				fail(err)
			}
			now := time.Now()
			for _, s := range resp.GetSignals() {
				probe.got(s.GetSequence(), now)
			}
		}
	}()
	return probe
}
