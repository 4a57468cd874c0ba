package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis Streams as a peer: XADD appends (one field, `data`, holding the payload's JSON), XREAD BLOCK reads, each
// reader on its own connection, from the stream's start; entries arrive in order.

// dialRedis opens a client of exactly one connection to addr (host:port), and checks it answers.
func dialRedis(ctx context.Context, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1, MaxRetries: -1})
	if err := c.Ping(ctx).Err(); err != nil {
		fail(err)
	}
	return c
}

// readStream calls got(k) for each batch of k entries XREAD BLOCK returns, until want entries were read (or ctx
// ends). It blocks 1 s per call at most, so it sees ctx's end.
func readStream(ctx context.Context, c *redis.Client, key string, want int, got func(msgs []redis.XMessage)) error {
	last := "0-0"
	for read := 0; read < want; {
		res, err := c.XRead(ctx, &redis.XReadArgs{Streams: []string{key, last}, Block: time.Second}).Result()
		if errors.Is(err, redis.Nil) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		if err != nil {
			return err
		}
		for _, s := range res {
			if len(s.Messages) == 0 {
				continue
			}
			got(s.Messages)
			read += len(s.Messages)
			last = s.Messages[len(s.Messages)-1].ID
		}
	}
	return nil
}

// redisLatency: XADD (one round trip) → XREAD BLOCK on another connection; entries are numbered in read order.
func redisLatency(ctx context.Context, addr string, rate, count int) {
	pub, sub := dialRedis(ctx, addr), dialRedis(ctx, addr)
	defer pub.Close()
	defer sub.Close()
	probe := newLatencyProbe(rate, count)
	var n uint64
	go func() {
		err := readStream(ctx, sub, "latency", probe.total, func(msgs []redis.XMessage) {
			now := time.Now()
			for range msgs {
				n++
				probe.got(n, now)
			}
		})
		if err != nil {
			fail(err)
		}
	}()
	body := payloadJSON()
	err := probe.run(ctx, func(uint64) error {
		return pub.XAdd(ctx, &redis.XAddArgs{Stream: "latency", Values: []any{"data", body}}).Err()
	})
	if err != nil {
		fail(err)
	}
	probe.print()
}

// redisFanout is the fan-out case on Redis Streams: N readers, each an XREAD BLOCK loop on its own connection, and
// one publisher on its own connection sending XADDs in pipelines of `window` commands, one pipeline at a time.
type redisFanout struct {
	key   string // one stream per run, so a server can serve several
	addr  string
	count int
	pub   *redis.Client
	subs  []*redis.Client
}

func newRedisFanout(ctx context.Context, addr string, count int) *redisFanout {
	return &redisFanout{key: fmt.Sprintf("fanout-%d", time.Now().UnixNano()), addr: addr, count: count, pub: dialRedis(ctx, addr)}
}

func (f *redisFanout) subscribe(ctx context.Context, n int, got func(sub, k int)) error {
	for i := range n {
		c := dialRedis(ctx, f.addr)
		f.subs = append(f.subs, c)
		go func() {
			if err := readStream(ctx, c, f.key, f.count, func(msgs []redis.XMessage) { got(i, len(msgs)) }); err != nil && ctx.Err() == nil {
				fail(err)
			}
		}()
	}
	return nil
}

func (f *redisFanout) publish(ctx context.Context, count, window int) error {
	body := payloadJSON()
	for sent := 0; sent < count; {
		pipe := f.pub.Pipeline()
		for ; sent < count && pipe.Len() < window; sent++ {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: f.key, Values: []any{"data", body}})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (f *redisFanout) close() {
	for _, c := range f.subs {
		_ = c.Close()
	}
	_ = f.pub.Close()
}
