package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// fanoutTarget is one system under the fan-out case.
type fanoutTarget interface {
	// subscribe opens n subscribers and returns once each is registered; subscriber `sub` calls got(sub, k) from
	// its own goroutine for every batch of k messages it receives.
	subscribe(ctx context.Context, n int, got func(sub, k int)) error
	// publish publishes count messages flat out, at most window unacknowledged at a time, and returns once all are
	// acknowledged.
	publish(ctx context.Context, count, window int) error
	close()
}

// fanout measures one publisher flat out to n subscribers of `system` (consort, nats or redis): from the first
// publish until every subscriber has all `count` messages, deliveries per second, and CPU per delivery of the
// server process (serverPid, from /proc) and of this client process. Prints one JSON line.
func fanout(ctx context.Context, system, addr string, n, count, window, serverPid int) {
	var t fanoutTarget
	switch system {
	case "consort":
		t = newConsortFanout(addr)
	case "nats":
		t = newNatsFanout(addr, window)
	case "redis":
		t = newRedisFanout(ctx, addr, count)
	default:
		fail(fmt.Sprintf("unknown -system %q", system))
	}
	defer t.close()
	if serverPid <= 0 {
		fail("-server-pid is required")
	}
	counts := make([]int, n) // counts[i] is written by subscriber i's goroutine only
	var batches, completed atomic.Int64
	var finished atomic.Int64 // UnixNano of the last subscriber's completion
	var overshoot atomic.Bool
	done := make(chan struct{})
	got := func(sub, k int) {
		batches.Add(1)
		counts[sub] += k
		if counts[sub] > count {
			overshoot.Store(true)
		}
		if counts[sub] == count && int(completed.Add(1)) == n {
			finished.Store(time.Now().UnixNano())
			close(done)
		}
	}
	if err := t.subscribe(ctx, n, got); err != nil {
		fail(err)
	}
	server := strconv.Itoa(serverPid)
	server0, client0 := cpuMicros(server), cpuMicros("self")
	start := time.Now()
	if err := t.publish(ctx, count, window); err != nil {
		fail(err)
	}
	published := time.Since(start)
	select {
	case <-done:
	case <-ctx.Done():
		fail(fmt.Sprintf("fan-out timed out: %d of %d subscribers have all %d messages", completed.Load(), n, count))
	}
	seconds := time.Unix(0, finished.Load()).Sub(start).Seconds()
	server1, client1 := cpuMicros(server), cpuMicros("self")
	if overshoot.Load() {
		fail("a subscriber received more messages than were published")
	}
	deliveries := float64(n * count)
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
		"system": system, "subscribers": n, "messages": count, "window": window,
		"deliveries_per_second": deliveries / seconds, "seconds": seconds, "publish_seconds": published.Seconds(),
		"server_cpu_us_per_delivery": (server1 - server0) / deliveries, "client_cpu_us_per_delivery": (client1 - client0) / deliveries,
		"reads_per_delivery": float64(batches.Load()) / deliveries,
	})
}

// consortFanout is the fan-out case on Consort: N Subscribe streams of one coordination over 4 connections, one
// publisher on its own connection sending over one PublishStream with `window` requests unacknowledged at most
// (bench/fanout.ts measures the unary path, with Node).
type consortFanout struct {
	conns []*grpc.ClientConn // the publisher's, then the subscribers'
	coord string
}

func newConsortFanout(addr string) *consortFanout {
	f := &consortFanout{coord: fmt.Sprintf("fanout-go-%d", time.Now().UnixNano())}
	for range 5 {
		f.conns = append(f.conns, dialConsort(addr))
	}
	return f
}

func (f *consortFanout) subscribe(ctx context.Context, n int, got func(sub, k int)) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		client := consortv1.NewSignalServiceClient(f.conns[1+i%4])
		wg.Add(1)
		go func() {
			stream, err := client.Subscribe(ctx, &consortv1.SubscribeRequest{CoordinationId: f.coord, AgentId: fmt.Sprintf("agent-%d", i)})
			if err == nil {
				_, err = stream.Recv() // `subscribed`
			}
			wg.Done()
			if err != nil {
				errs <- err
				return
			}
			for {
				resp, err := stream.Recv()
				if err != nil {
					return // the stream ends when the connections close
				}
				if k := len(resp.GetSignals()); k > 0 {
					got(i, k)
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// publish sends the signals over one PublishStream call (the high-rate path, as NATS and Redis pipeline theirs),
// at most `window` unacknowledged at a time; an outcome that is not an ack fails the run.
func (f *consortFanout) publish(ctx context.Context, count, window int) error {
	client := consortv1.NewSignalServiceClient(f.conns[0])
	stream, err := client.PublishStream(ctx)
	if err != nil {
		return err
	}
	data := signalData()
	credits := make(chan struct{}, window)
	acked := make(chan error, 1)
	go func() {
		n := 0
		for n < count {
			res, err := stream.Recv()
			if err != nil {
				acked <- err
				return
			}
			for _, o := range res.GetOutcomes() {
				if o.GetAck() == nil {
					acked <- fmt.Errorf("publish refused: %v", o.GetError())
					return
				}
				n++
				<-credits
			}
		}
		acked <- nil
	}()
	for i := 0; i < count; i++ {
		select {
		case credits <- struct{}{}:
		case err := <-acked:
			if err == nil {
				err = fmt.Errorf("stream ended after fewer outcomes than requests")
			}
			return err
		}
		if err := stream.Send(&consortv1.PublishStreamRequest{Publish: &consortv1.PublishRequest{CoordinationId: f.coord,
			Type: consortv1.SignalType_SIGNAL_TYPE_INTER_AGENT_MESSAGE, SenderAgentId: "bench", Data: data}}); err != nil {
			return err
		}
	}
	err = <-acked
	_ = stream.CloseSend()
	return err
}

func (f *consortFanout) close() {
	for _, c := range f.conns {
		_ = c.Close()
	}
}
