package main

import (
	"context"
	"fmt"
	"time"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// signalStreamLatency is the signal mode's publish → subscriber probe with the signals published over one
// PublishStream call instead of unary Publish: requests sent at the probe's rate without waiting for their
// outcomes, which a goroutine of their own reads (each must be an ack). Publisher and subscriber on separate
// connections, one process, one clock.
func signalStreamLatency(ctx context.Context, addr string, rate, count int) {
	pubConn, subConn := dialConsort(addr), dialConsort(addr)
	defer pubConn.Close()
	defer subConn.Close()
	pub, sub := consortv1.NewSignalServiceClient(pubConn), consortv1.NewSignalServiceClient(subConn)

	coord := fmt.Sprintf("latency-go-stream-%d", time.Now().UnixNano())
	probe := subscribedProbe(ctx, sub, coord, rate, count)
	ps, err := pub.PublishStream(ctx)
	if err != nil {
		fail(err)
	}
	go func() {
		for {
			res, err := ps.Recv()
			if err != nil {
				return // the call ends with the run
			}
			for _, o := range res.GetOutcomes() {
				if o.GetAck() == nil {
					fail(fmt.Sprintf("publish refused: %v", o.GetError()))
				}
			}
		}
	}()
	data := signalData()
	err = probe.run(ctx, func(uint64) error {
		return ps.Send(&consortv1.PublishStreamRequest{Publish: &consortv1.PublishRequest{CoordinationId: coord,
			Type: consortv1.SignalType_SIGNAL_TYPE_INTER_AGENT_MESSAGE, SenderAgentId: "bench", Data: data}})
	})
	if err != nil {
		fail(err)
	}
	_ = ps.CloseSend()
	probe.print()
}
