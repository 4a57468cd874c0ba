package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sort"
	"sync"
	"time"
)

// latencyProbe measures publish → subscriber latency for any system in one process (one clock): the publisher
// notes each message's send time just before its publish call, the subscriber notes its receipt. Messages are
// numbered 1..total in publish order; the first rate/2 are a warm-up and not sampled.
type latencyProbe struct {
	rate, warmup, total int
	mu                  sync.Mutex
	sentAt              map[uint64]time.Time
	received            int // subscriber goroutine only
	samples             []float64
	done                chan struct{}
}

func newLatencyProbe(rate, count int) *latencyProbe {
	warmup := rate / 2
	return &latencyProbe{rate: rate, warmup: warmup, total: warmup + count, sentAt: make(map[uint64]time.Time, warmup+count),
		samples: make([]float64, 0, count), done: make(chan struct{})}
}

// got records the receipt of message i at now. Call it from one goroutine only, in order of receipt.
func (p *latencyProbe) got(i uint64, now time.Time) {
	p.mu.Lock()
	t, ok := p.sentAt[i]
	p.mu.Unlock()
	if ok && i > uint64(p.warmup) {
		p.samples = append(p.samples, float64(now.Sub(t).Nanoseconds())/1e6)
	}
	p.received++
	if p.received == p.total {
		close(p.done)
	}
}

// complete tells whether every message was received. Call it from the goroutine that calls got.
func (p *latencyProbe) complete() bool { return p.received >= p.total }

// run calls publish(i) for i = 1..total at the probe's rate, then waits until every message was received.
func (p *latencyProbe) run(ctx context.Context, publish func(i uint64) error) error {
	interval := time.Second / time.Duration(p.rate)
	start := time.Now()
	for i := 1; i <= p.total; i++ {
		if d := time.Until(start.Add(time.Duration(i-1) * interval)); d > 0 {
			time.Sleep(d)
		}
		p.mu.Lock()
		p.sentAt[uint64(i)] = time.Now()
		p.mu.Unlock()
		if err := publish(uint64(i)); err != nil {
			return err
		}
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return errors.New("timed out waiting for messages")
	}
}

// print writes {"p50","p90","p99","max","count"} in milliseconds as one JSON line on stdout.
func (p *latencyProbe) print() {
	s := p.samples
	sort.Float64s(s)
	pct := func(q float64) float64 { return s[int(q/100*float64(len(s)-1))] }
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"p50": pct(50), "p90": pct(90), "p99": pct(99), "max": s[len(s)-1], "count": len(s)})
}
