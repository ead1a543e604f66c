package nodeinit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func startTestReaper(t *testing.T) *reaper {
	t.Helper()
	r, err := startReaper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	return r
}

func TestReaperReapsOrphans(t *testing.T) {
	r := startTestReaper(t)
	// The shell exits at once and leaves its background sleep to us, as
	// an exiting shim leaves its children to PID 1.
	out, err := r.output(context.Background(), []string{"/bin/sh", "-c", "sleep 0.3 >/dev/null 2>&1 & echo $!"})
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("orphan pid %q: %v", out, err)
	}
	st, err := readProcStat(orphan)
	if err != nil {
		t.Fatalf("orphan %d vanished early: %v", orphan, err)
	}
	if st.ppid != os.Getpid() {
		t.Fatalf("orphan %d was adopted by %d, not by this process", orphan, st.ppid)
	}
	// Unreaped, it would stay a zombie (state Z) under this process.
	eventually(t, fmt.Sprintf("orphan %d to be reaped", orphan), func() bool {
		_, err := readProcStat(orphan)
		return errors.Is(err, os.ErrNotExist)
	})
}

func TestReaperDeliversExitStatusesAmidOrphans(t *testing.T) {
	r := startTestReaper(t)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each command also leaves an orphan to race the reaper with.
			_, errs[i] = r.output(context.Background(), []string{"/bin/sh", "-c", fmt.Sprintf("(sleep 0.05 &) ; exit %d", i%3)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		var ce *commandError
		switch want := i % 3; {
		case want == 0 && err != nil:
			t.Errorf("command %d: %v, want success", i, err)
		case want != 0 && (!errors.As(err, &ce) || ce.status != fmt.Sprintf("exit status %d", want)):
			t.Errorf("command %d: %v, want exit status %d", i, err, want)
		}
	}
}

func TestOutputKillsOnCancel(t *testing.T) {
	r := startTestReaper(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := r.output(ctx, []string{"/bin/sleep", "10"})
	if err == nil || time.Since(began) > 2*time.Second {
		t.Errorf("got %v after %s, want a prompt error", err, time.Since(began))
	}
}

func TestOutputErrorKeepsCommandAndOutput(t *testing.T) {
	r := startTestReaper(t)
	_, err := r.output(context.Background(), []string{"/bin/sh", "-c", "echo no such image >&2; exit 1"})
	want := "/bin/sh -c echo no such image >&2; exit 1: exit status 1: no such image"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestOnlyOneReaperPerProcess(t *testing.T) {
	startTestReaper(t)
	if r, err := startReaper(); err == nil {
		r.stop()
		t.Error("a second reaper started")
	}
}

func TestParseProcStat(t *testing.T) {
	st, err := parseProcStat([]byte("4242 (a (weird) name) Z 17 4242 4242 0 -1 4194560"))
	if err != nil {
		t.Fatal(err)
	}
	if st != (procStat{pid: 4242, ppid: 17, state: 'Z'}) {
		t.Errorf("parsed %+v", st)
	}
}

func TestLiveDescendants(t *testing.T) {
	procs := []procStat{
		{pid: 1, ppid: 0, state: 'S'},
		{pid: 10, ppid: 1, state: 'S'},  // containerd
		{pid: 20, ppid: 1, state: 'S'},  // a shim
		{pid: 21, ppid: 20, state: 'S'}, // its pause
		{pid: 22, ppid: 20, state: 'Z'}, // a dead container process
		{pid: 30, ppid: 0, state: 'S'},  // docker exec
		{pid: 31, ppid: 30, state: 'R'},
	}
	got := liveDescendants(procs, 1)
	want := []int{10, 20, 21}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(procDir, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}
