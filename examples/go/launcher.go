package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// scenarioTimeout bounds each scenario: past it, its agents are killed and the launcher fails.
const scenarioTimeout = 60 * time.Second

var printMu sync.Mutex

func emit(format string, args ...any) {
	printMu.Lock()
	defer printMu.Unlock()
	fmt.Printf(format+"\n", args...)
}

// runAll runs the selected scenarios (all by default) one after the other; 1 when any failed.
func runAll(args []string) int {
	flags := flag.NewFlagSet("quickstart", flag.ExitOnError)
	addr := flags.String("addr", "127.0.0.1:50051", "Consort's gRPC address")
	_ = flags.Parse(args)
	selected := scenarios
	if flags.NArg() > 0 {
		selected = nil
		for _, name := range flags.Args() {
			s, ok := find(name)
			if !ok {
				fmt.Fprintf(os.Stderr, "unknown scenario %q; choose from complete, chain, parallel, gate, progress\n", name)
				return 2
			}
			selected = append(selected, s)
		}
	}
	self, err := os.Executable() // each agent is this program again, as `quickstart agent …`
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := 0
	for _, s := range selected {
		if !runScenario(self, *addr, s) {
			code = 1
		}
	}
	return code
}

// runScenario starts the scenario's agents under a coordination id of their own, prefixes their output lines and
// waits for them. After the first failure (or the timeout) it kills the others, which would only wait for their
// own timeouts.
func runScenario(self, addr string, s Scenario) bool {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	coord := s.Name + "-" + hex.EncodeToString(id)
	emit("=== %s: %s (coordination %s)", s.Name, s.Title, coord)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	type exit struct {
		agent string
		err   error
	}
	exits := make(chan exit, len(s.Agents))
	for _, agent := range s.Agents {
		cmd := exec.CommandContext(ctx, self, "agent", "-addr", addr, "-coord", coord, s.Name, agent)
		r, w, err := os.Pipe()
		if err != nil {
			exits <- exit{agent, err}
			continue
		}
		cmd.Stdout, cmd.Stderr = w, w
		err = cmd.Start()
		w.Close()
		if err != nil {
			r.Close()
			exits <- exit{agent, err}
			continue
		}
		go func() { // every line is printed before the agent's exit is reported
			lines := bufio.NewScanner(r)
			for lines.Scan() {
				emit("[%s/%s] %s", s.Name, agent, strings.TrimRight(lines.Text(), "\r"))
			}
			r.Close()
			exits <- exit{agent, cmd.Wait()}
		}()
	}
	var failed []string
	for range s.Agents {
		e := <-exits
		if e.err != nil && len(failed) == 0 {
			if ctx.Err() != nil {
				failed = append(failed, fmt.Sprintf("timed out after %s", scenarioTimeout))
			} else {
				failed = append(failed, fmt.Sprintf("%s: %v", e.agent, e.err))
			}
			cancel() // kills the other agents
		}
	}
	if len(failed) > 0 {
		emit("=== %s: FAILED: %s", s.Name, strings.Join(failed, ", "))
		return false
	}
	emit("=== %s: passed", s.Name)
	return true
}
