package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kindish/kindish/cluster/version"
)

// buildPause compiles the command the way the node image build does, so the
// tests exercise the real binary, signal delivery included.
func buildPause(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pause")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestVersionFlagPrintsVersion(t *testing.T) {
	bin := buildPause(t)
	out, err := exec.Command(bin, "-v").Output()
	if err != nil {
		t.Fatalf("pause -v: %v", err)
	}
	if !strings.Contains(string(out), version.Version) {
		t.Fatalf("pause -v printed %q, want it to contain %q", out, version.Version)
	}
}

func TestExitsZeroOnTerminationSignals(t *testing.T) {
	bin := buildPause(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin)
			var stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()

			// It must keep running until told to stop; the warning on
			// stderr also shows that signal handlers are installed.
			waitFor(t, func() bool { return strings.Contains(stderr.String(), "not PID 1") })
			select {
			case err := <-done:
				t.Fatalf("pause exited on its own: %v", err)
			case <-time.After(200 * time.Millisecond):
			}

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("pause after %v: %v (stderr %q)", sig, err, stderr.String())
				}
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("pause ignored %v", sig)
			}
		})
	}
}

func TestReapCollectsExitedChildren(t *testing.T) {
	for range 3 {
		cmd := exec.Command("true")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Not waited for on purpose: reap must collect it.
	}
	collected := 0
	deadline := time.Now().Add(5 * time.Second)
	for collected < 3 && time.Now().Before(deadline) {
		collected += reap()
		time.Sleep(10 * time.Millisecond)
	}
	if collected != 3 {
		t.Fatalf("reap collected %d children, want 3", collected)
	}
	if n := reap(); n != 0 {
		t.Fatalf("reap with no children left collected %d", n)
	}
}

// As PID 1 of a PID namespace, pause inherits the orphans of the pod and
// must reap them when they exit.
func TestReapsOrphansAsPID1(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a PID namespace")
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		t.Skip("needs nsenter (util-linux)")
	}
	bin := buildPause(t)
	cmd := exec.Command(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	pausePID := cmd.Process.Pid

	// The shell exits at once and leaves its background sleep to the
	// namespace's init, which is pause.
	orphaner := exec.Command(nsenter, "--target", strconv.Itoa(pausePID), "--pid", "--",
		"sh", "-c", "sleep 1 </dev/null >/dev/null 2>&1 & exit 0")
	if out, err := orphaner.CombinedOutput(); err != nil {
		t.Fatalf("nsenter: %v\n%s", err, out)
	}
	waitFor(t, func() bool { return len(children(t, pausePID, "")) == 1 })
	waitFor(t, func() bool { return len(children(t, pausePID, "")) == 0 })
	if z := children(t, pausePID, "Z"); len(z) != 0 {
		t.Fatalf("zombies left under pause: %v", z)
	}
}

// children lists the processes whose parent is ppid, optionally only those
// in the given state (e.g. "Z").
func children(t *testing.T, ppid int, state string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after ')'.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(ppid) {
			continue
		}
		if state == "" || fields[0] == state {
			pids = append(pids, pid)
		}
	}
	return pids
}

// syncBuffer is a bytes.Buffer that the exec package's copying goroutine
// and the test can use at the same time.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
