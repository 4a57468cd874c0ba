package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// NATS JetStream as a peer: a stream in memory storage, published to with JetStream publishes (acknowledged by the
// server once stored) and consumed by ordered push consumers (ephemeral, flow-controlled, in stream order).

// dialNats opens one NATS connection to addr (host:port).
func dialNats(addr string) (*nats.Conn, nats.JetStreamContext) {
	nc, err := nats.Connect("nats://"+addr, nats.Name("consort-bench"), nats.MaxReconnects(0))
	if err != nil {
		fail(err)
	}
	js, err := nc.JetStream()
	if err != nil {
		fail(err)
	}
	return nc, js
}

// addMemoryStream creates stream `name` for `subject` in memory storage.
func addMemoryStream(js nats.JetStreamContext, name, subject string) {
	if _, err := js.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{subject}, Storage: nats.MemoryStorage}); err != nil {
		fail(err)
	}
}

// natsLatency: JetStream publish (waits for its acknowledgement, as Consort's Publish does) → ordered push consumer,
// publisher and consumer on their own connections; messages are matched by stream sequence.
func natsLatency(ctx context.Context, addr string, rate, count int) {
	pubConn, pub := dialNats(addr)
	subConn, sub := dialNats(addr)
	defer pubConn.Close()
	defer subConn.Close()
	addMemoryStream(pub, "LATENCY", "latency")
	probe := newLatencyProbe(rate, count)
	s, err := sub.Subscribe("latency", func(m *nats.Msg) {
		now := time.Now()
		meta, err := m.Metadata()
		if err != nil {
			fail(err)
		}
		probe.got(meta.Sequence.Stream, now)
	}, nats.OrderedConsumer())
	if err != nil {
		fail(err)
	}
	defer func() { _ = s.Unsubscribe() }()
	body := payloadJSON()
	if err := probe.run(ctx, func(uint64) error { _, err := pub.Publish("latency", body); return err }); err != nil {
		fail(err)
	}
	probe.print()
}

// natsFanout is the fan-out case on NATS JetStream: N ordered push consumers spread over 4 connections, one
// publisher with a bounded window of asynchronous JetStream publishes on its own connection.
type natsFanout struct {
	subject string // one stream per run, so a server can serve several
	pubConn *nats.Conn
	pub     nats.JetStreamContext
	subs    []*nats.Conn
	failed  atomic.Int64
}

func newNatsFanout(addr string, window int) *natsFanout {
	tag := time.Now().UnixNano()
	f := &natsFanout{subject: fmt.Sprintf("fanout.%d", tag)}
	f.pubConn, _ = dialNats(addr)
	js, err := f.pubConn.JetStream(nats.PublishAsyncMaxPending(window),
		nats.PublishAsyncErrHandler(func(nats.JetStream, *nats.Msg, error) { f.failed.Add(1) }))
	if err != nil {
		fail(err)
	}
	f.pub = js
	addMemoryStream(js, fmt.Sprintf("FANOUT_%d", tag), f.subject)
	for range 4 {
		nc, _ := dialNats(addr)
		f.subs = append(f.subs, nc)
	}
	return f
}

func (f *natsFanout) subscribe(_ context.Context, n int, got func(sub, k int)) error {
	for i := range n {
		js, err := f.subs[i%len(f.subs)].JetStream()
		if err != nil {
			return err
		}
		if _, err := js.Subscribe(f.subject, func(*nats.Msg) { got(i, 1) }, nats.OrderedConsumer()); err != nil {
			return err
		}
	}
	return nil
}

func (f *natsFanout) publish(ctx context.Context, count, _ int) error {
	body := payloadJSON()
	for range count {
		// PublishAsyncMaxPending bounds the window: a publish beyond it waits (up to StallWait) for acknowledgements.
		if _, err := f.pub.PublishAsync(f.subject, body, nats.StallWait(30*time.Second)); err != nil {
			return err
		}
	}
	select {
	case <-f.pub.PublishAsyncComplete():
	case <-ctx.Done():
		return errors.New("JetStream publishes not acknowledged in time")
	}
	if f.failed.Load() > 0 {
		return errors.New("JetStream publishes failed")
	}
	return nil
}

func (f *natsFanout) close() {
	for _, nc := range f.subs {
		nc.Close()
	}
	f.pubConn.Close()
}
