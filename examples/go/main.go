// Command quickstart runs the quick start's Complete Example, its three common patterns and a high-rate publisher,
// each as separate agent processes talking to one Consort server, and prints every agent's lines prefixed with
// [scenario/agent].
//
//	go run . [-addr 127.0.0.1:50051] [complete|chain|parallel|gate|progress ...]
//	quickstart agent -addr HOST:PORT -coord ID <scenario> <role>     (one agent: what the launcher starts)
package main

import (
	"flag"
	"fmt"
	"os"

	"google.golang.org/grpc/status"
)

// Scenario is one workflow: its agents, in start order, and the function each role runs.
type Scenario struct {
	Name, Title string
	Agents      []string
	Roles       map[string]func(*Agent) error
}

var scenarios = []Scenario{completeExample, signalChain, parallelExecution, qualityGate, progressReport}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "agent" {
		os.Exit(runAgent(os.Args[2:]))
	}
	os.Exit(runAll(os.Args[1:]))
}

func find(name string) (Scenario, bool) {
	for _, s := range scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// runAgent runs one role of one scenario in this process; it exits 1 with one line on stderr when it fails.
func runAgent(args []string) int {
	flags := flag.NewFlagSet("agent", flag.ExitOnError)
	addr := flags.String("addr", "127.0.0.1:50051", "Consort's gRPC address")
	coord := flags.String("coord", "", "the coordination id, unique per run")
	_ = flags.Parse(args)
	s, ok := find(flags.Arg(0))
	role, known := s.Roles[flags.Arg(1)]
	if !ok || !known || *coord == "" || flags.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: quickstart agent -addr HOST:PORT -coord ID <scenario> <role>")
		return 2
	}
	a, err := newAgent(flags.Arg(1), *addr, *coord)
	if err == nil {
		defer a.conn.Close()
		err = role(a)
	}
	if err != nil {
		if st, isStatus := status.FromError(err); isStatus { // which call failed how, in one line
			fmt.Fprintf(os.Stderr, "%s: %s: %s\n", flags.Arg(1), st.Code(), st.Message())
		} else {
			fmt.Fprintf(os.Stderr, "%s: %v\n", flags.Arg(1), err)
		}
		return 1
	}
	return 0
}
