package nodeinit

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer that the init writes while a test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testConfig runs no boot step and has backoffs and timeouts short enough
// for tests.
func testConfig(t *testing.T, services ...Service) (Config, *syncBuffer) {
	out := &syncBuffer{}
	return Config{
		LogDir:             t.TempDir(),
		Stdout:             out,
		Services:           services,
		ReadyTimeout:       5 * time.Second,
		Backoff:            Backoff{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond, ResetAfter: time.Hour},
		StopTimeout:        3 * time.Second,
		ServiceStopTimeout: 500 * time.Millisecond,
	}, out
}

// runInit runs an Init in the background; stop cancels it and returns
// Run's error.
func runInit(t *testing.T, cfg Config) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- New(cfg).Run(ctx) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return 10 s after cancel")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// eventually polls cond until it holds or 5 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// noLiveDescendants reports the processes this test process still has
// below it, which a stopped Init must not leave behind.
func noLiveDescendants(t *testing.T) {
	t.Helper()
	if pids := liveDescendants(listProcesses(), os.Getpid()); len(pids) > 0 {
		t.Errorf("processes left behind: %v", pids)
	}
}

func countLines(s, substr string) int {
	n := 0
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}
