// Command driven-agent is an agent the dashboard test drives: one process, commands as JSON lines on stdin, one
// JSON line per answer (the same protocol as test/browser/agents/driven_agent.py).
//
//	go run ./cmd/driven-agent --addr HOST:PORT --coord ID --agent ID
//
// Commands (each with an "id" the answer repeats): publish {type, data}, complete, distribute {agents}, wait
// {dependency, on} (answered when ResolveDependencies ends). Calls made while the server restarts (UNAVAILABLE) are
// retried for up to 30 s; a publish is retried with one idempotency key.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	consortv1 "consort.dev/gen/go/consort/v1"
)

const retryFor = 30 * time.Second

type command struct {
	ID         int            `json:"id"`
	Op         string         `json:"op"`
	Type       string         `json:"type"`
	Data       map[string]any `json:"data"`
	Agents     []string       `json:"agents"`
	Dependency string         `json:"dependency"`
	On         string         `json:"on"`
	TimeoutS   int64          `json:"timeout_s"`
}

var (
	outMu sync.Mutex
	types = map[string]consortv1.SignalType{
		"agent_initialized":   consortv1.SignalType_SIGNAL_TYPE_AGENT_INITIALIZED,
		"agent_completed":     consortv1.SignalType_SIGNAL_TYPE_AGENT_COMPLETED,
		"inter_agent_message": consortv1.SignalType_SIGNAL_TYPE_INTER_AGENT_MESSAGE,
		"stage_completed":     consortv1.SignalType_SIGNAL_TYPE_STAGE_COMPLETED,
	}
)

func answer(v map[string]any) {
	b, _ := json.Marshal(v)
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Println(string(b))
}

// retrying calls f until it does not fail UNAVAILABLE, for up to retryFor.
func retrying[T any](f func(ctx context.Context) (T, error), timeout time.Duration) (T, error) {
	deadline := time.Now().Add(retryFor)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		v, err := f(ctx)
		cancel()
		if status.Code(err) != codes.Unavailable || time.Now().After(deadline) {
			return v, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func failure(id int, err error) map[string]any {
	s, _ := status.FromError(err)
	return map[string]any{"id": id, "ok": false, "error": fmt.Sprintf("%s: %s", s.Code(), s.Message())}
}

func main() {
	addr := flag.String("addr", "", "the server's gRPC address")
	coord := flag.String("coord", "", "the coordination")
	agent := flag.String("agent", "", "this agent's id")
	flag.Parse()
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	signals := consortv1.NewSignalServiceClient(conn)
	contexts := consortv1.NewContextServiceClient(conn)
	deps := consortv1.NewDependencyServiceClient(conn)

	publish := func(id int, typ string, data map[string]any) map[string]any {
		s, err := structpb.NewStruct(data)
		if err != nil {
			return failure(id, err)
		}
		req := &consortv1.PublishRequest{CoordinationId: *coord, Type: types[typ], SenderAgentId: *agent, Data: s, IdempotencyKey: fmt.Sprintf("%s-%d", *agent, id)}
		res, err := retrying(func(ctx context.Context) (*consortv1.PublishResponse, error) { return signals.Publish(ctx, req) }, 10*time.Second)
		if err != nil {
			return failure(id, err)
		}
		return map[string]any{"id": id, "ok": true, "sequence": fmt.Sprint(res.GetSignal().GetSequence())}
	}
	wait := func(c command) {
		timeout := c.TimeoutS
		if timeout == 0 {
			timeout = 60
		}
		req := &consortv1.ResolveDependenciesRequest{CoordinationId: *coord, AgentId: *agent, Dependencies: []*consortv1.Dependency{{
			DependencyId: c.Dependency,
			Timeout:      durationpb.New(time.Duration(timeout) * time.Second),
			Target:       &consortv1.Dependency_AgentCompletion{AgentCompletion: &consortv1.AgentCompletionTarget{AgentId: c.On}},
		}}}
		res, err := retrying(func(ctx context.Context) (*consortv1.ResolveDependenciesResponse, error) {
			return deps.ResolveDependencies(ctx, req)
		}, time.Duration(timeout+5)*time.Second)
		if err != nil {
			answer(failure(c.ID, err))
			return
		}
		r := res.GetResults()[0]
		st := strings.ToLower(strings.TrimPrefix(r.GetStatus().String(), "DEPENDENCY_STATUS_"))
		answer(map[string]any{"id": c.ID, "ok": true, "success": res.GetSuccess(), "status": st, "message": r.GetMessage()})
	}

	answer(map[string]any{"ready": true, "agent": *agent})
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if line == "" {
			continue
		}
		var c command
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			answer(map[string]any{"ok": false, "error": err.Error()})
			continue
		}
		switch c.Op {
		case "publish":
			answer(publish(c.ID, c.Type, c.Data))
		case "complete":
			answer(publish(c.ID, "agent_completed", map[string]any{"agent_id": *agent, "success": true}))
		case "distribute":
			as := make([]*consortv1.AgentAssignment, 0, len(c.Agents))
			for _, a := range c.Agents {
				as = append(as, &consortv1.AgentAssignment{AgentId: a, AgentRole: a, Objective: a + "'s part of the run", Tasks: []string{"work"}})
			}
			req := &consortv1.DistributeContextRequest{CoordinationId: *coord, SessionId: *coord + "-session", Assignments: as}
			res, err := retrying(func(ctx context.Context) (*consortv1.DistributeContextResponse, error) { return contexts.DistributeContext(ctx, req) }, 10*time.Second)
			if err != nil {
				answer(failure(c.ID, err))
			} else {
				answer(map[string]any{"id": c.ID, "ok": true, "revision": fmt.Sprint(res.GetRevision())})
			}
		case "wait":
			go wait(c)
		default:
			answer(map[string]any{"id": c.ID, "ok": false, "error": "unknown op " + c.Op})
		}
	}
}
