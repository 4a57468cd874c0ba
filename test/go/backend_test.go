package consorttest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// The suite's backend switch (test/test-backend.ts): CONSORT_TEST_BACKEND=nats starts each Consort server with
// `--backend` to a throwaway nats-server of its own; unset, empty or memory keeps signals in memory.

// onNats is whether the switch puts the servers on NATS (for the few tests that state a documented difference).
var onNats = os.Getenv("CONSORT_TEST_BACKEND") == "nats"

// testBackend is one Consort server's backend: the extra options to start it with, and how to stop it.
type testBackend struct {
	args []string
	stop func() // stops the nats-server and removes its store; a no-op in memory
}

// startTestBackend starts the backend CONSORT_TEST_BACKEND names: nothing in memory; on NATS `nats-server -js` on
// 127.0.0.1, a random port read from the ports file it writes, a fresh store (NATS_SERVER names another executable),
// as test/nats/nats-server.ts does.
func startTestBackend() (*testBackend, error) {
	switch v := os.Getenv("CONSORT_TEST_BACKEND"); v {
	case "", "memory":
		return &testBackend{stop: func() {}}, nil
	case "nats":
	default:
		return nil, fmt.Errorf("CONSORT_TEST_BACKEND must be memory or nats, got %q", v)
	}
	executable := os.Getenv("NATS_SERVER")
	if executable == "" {
		executable = "/usr/sbin/nats-server"
	}
	dir, err := os.MkdirTemp("", "consort-nats-")
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(executable, "-js", "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", dir, "-sd", filepath.Join(dir, "store"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start nats-server: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = os.RemoveAll(dir)
	}
	portsFile := filepath.Join(dir, fmt.Sprintf("nats-server_%d.ports", cmd.Process.Pid))
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ports struct {
			Nats []string `json:"nats"`
		}
		if b, err := os.ReadFile(portsFile); err == nil && json.Unmarshal(b, &ports) == nil && len(ports.Nats) > 0 {
			return &testBackend{args: []string{"--backend", ports.Nats[0]}, stop: stop}, nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("nats-server exited before listening:\n%s", log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("nats-server wrote no ports file within 20s")
		}
	}
}
