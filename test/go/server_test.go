// Package consorttest runs end-to-end tests of Consort's SignalService through the generated Go client against
// the built server (dist/src/main.js), started as a subprocess on ephemeral ports.
package consorttest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	consortv1 "consort.dev/gen/go/consort/v1"
)

// server is one running Consort process.
type server struct {
	cmd      *exec.Cmd
	grpcPort int
	conn     *grpc.ClientConn
	client   consortv1.SignalServiceClient
	done     chan struct{} // closed when the process has exited
	waitErr  error

	mu     sync.Mutex
	output strings.Builder // stdout + stderr so far
}

func (s *server) log(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.output.WriteString(line)
	s.output.WriteByte('\n')
}

// Output returns everything the server printed so far.
func (s *server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.output.String()
}

var shared *server

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// startServer launches `node dist/src/main.js --grpc-port 0 --http-port 0` with `args` after them, waits up to
// 20 s for the "consort listening" line, keeps draining its output and dials the gRPC port. Under
// CONSORT_TEST_BACKEND=nats (backend_test.go) it keeps its signals on a throwaway nats-server of its own, stopped
// once the process has exited.
func startServer(args ...string) (*server, error) {
	main := filepath.Join(repoRoot(), "dist", "src", "main.js")
	if _, err := os.Stat(main); err != nil {
		return nil, fmt.Errorf("%s missing (run npm run build): %w", main, err)
	}
	backend, err := startTestBackend()
	if err != nil {
		return nil, err
	}
	argv := append(append([]string{main, "--grpc-port", "0", "--http-port", "0"}, backend.args...), args...)
	s := &server{cmd: exec.Command("node", argv...), done: make(chan struct{})}
	s.cmd.Dir = repoRoot()
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		backend.stop()
		return nil, err
	}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		backend.stop()
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		backend.stop()
		return nil, fmt.Errorf("start server: %w", err)
	}

	ready := make(chan int, 1)
	var drained sync.WaitGroup
	drained.Add(2)
	go func() { // stdout: JSON log lines; the first "consort listening" gives the ports
		defer drained.Done()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		found := false
		for sc.Scan() {
			line := sc.Text()
			s.log(line)
			if found {
				continue
			}
			var entry struct {
				Msg      string `json:"msg"`
				GRPCPort int    `json:"grpcPort"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "consort listening" && entry.GRPCPort > 0 {
				found = true
				ready <- entry.GRPCPort
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		defer drained.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.log("stderr: " + sc.Text())
		}
	}()
	go func() {
		drained.Wait() // Wait must follow the reads of the pipes
		s.waitErr = s.cmd.Wait()
		backend.stop() // only once the server is gone, as in production a backend outlives the replica
		close(s.done)
	}()

	select {
	case s.grpcPort = <-ready:
	case <-s.done:
		return nil, fmt.Errorf("server exited before listening (%v); output:\n%s", s.waitErr, s.Output())
	case <-time.After(20 * time.Second):
		s.kill()
		return nil, fmt.Errorf("server not listening after 20s; output:\n%s", s.Output())
	}

	s.conn, err = grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", s.grpcPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		s.kill()
		return nil, fmt.Errorf("dial: %w", err)
	}
	s.client = consortv1.NewSignalServiceClient(s.conn)
	return s, nil
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Terminate sends SIGTERM and waits for the exit, killing the process after 10 s.
func (s *server) Terminate() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.kill()
		return fmt.Errorf("server did not exit within 10s of SIGTERM; killed")
	}
	return nil
}

// Stop terminates the server, then closes the client connection. (In this order on purpose: a client connection
// closed at the instant of SIGTERM can leave grpc-js's tryShutdown waiting the whole shutdown grace period.)
func (s *server) Stop() error {
	err := s.Terminate()
	if s.conn != nil {
		_ = s.conn.Close()
	}
	return err
}

func TestMain(m *testing.M) {
	var err error
	shared, err = startServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "consort test server:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := shared.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "consort test server:", err)
		if code == 0 {
			code = 1
		}
	}
	if code != 0 { // the end of the shared server's log, for diagnosis
		lines := strings.Split(strings.TrimSpace(shared.Output()), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		fmt.Fprintf(os.Stderr, "consort test server output (last %d lines):\n%s\n", len(lines), strings.Join(lines, "\n"))
	}
	os.Exit(code)
}

// coordinationID returns an id unique to this test run and test.
func coordinationID(t *testing.T) string {
	return fmt.Sprintf("go-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
}
