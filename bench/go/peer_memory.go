package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
)

// peerMemory is the Memory case's fill against a peer: `count` messages of the memory case's payload (its data as
// compact JSON, ~212 bytes) round-robin over `coords` subjects (JetStream: one memory-storage stream over
// memory.<k>, asynchronous publishes, at most 256 pending) or stream keys (Redis: memory-<k>, XADDs in pipelines
// of 256). Then every message is counted back (JetStream: the stream's message count; Redis: XLEN of each key),
// and one JSON line says how many and how long the fill took. The benchmark reads the server's RSS afterwards.
func peerMemory(ctx context.Context, system, addr string, count, coords int) {
	start := time.Now()
	bodies := make([][]byte, 100)
	for i := range bodies {
		b, err := json.Marshal(memoryData(i).AsMap())
		if err != nil {
			fail(err)
		}
		bodies[i] = b
	}
	stored := 0
	switch system {
	case "nats":
		nc, _ := dialNats(addr)
		defer nc.Close()
		js, err := nc.JetStream(nats.PublishAsyncMaxPending(256))
		if err != nil {
			fail(err)
		}
		addMemoryStream(js, "MEMORY", "memory.>")
		for i := 0; i < count; i++ {
			if _, err := js.PublishAsync(fmt.Sprintf("memory.%03d", i%coords), bodies[i%100]); err != nil {
				fail(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			fail("JetStream publishes not acknowledged in time")
		}
		info, err := js.StreamInfo("MEMORY")
		if err != nil {
			fail(err)
		}
		stored = int(info.State.Msgs)
	case "redis":
		c := dialRedis(ctx, addr)
		defer c.Close()
		for i := 0; i < count; {
			pipe := c.Pipeline()
			for end := min(i+256, count); i < end; i++ {
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: fmt.Sprintf("memory-%03d", i%coords), Values: []any{"data", bodies[i%100]}})
			}
			if _, err := pipe.Exec(ctx); err != nil {
				fail(err)
			}
		}
		for k := 0; k < coords; k++ {
			n, err := c.XLen(ctx, fmt.Sprintf("memory-%03d", k)).Result()
			if err != nil {
				fail(err)
			}
			stored += int(n)
		}
	default:
		fail(fmt.Sprintf("peer-memory: unknown -system %q", system))
	}
	if stored != count {
		fail(fmt.Sprintf("%s holds %d messages, %d were published", system, stored, count))
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"system": system, "messages": stored, "seconds": time.Since(start).Seconds(), "message_bytes": len(bodies[0])})
}
