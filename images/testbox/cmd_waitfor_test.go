package testbox

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitForReportsTheFirstSuccess(t *testing.T) {
	// The first tries get no answer, as a Service's ClusterIP before
	// kube-proxy has programmed it; the server holds its port throughout,
	// so that no other process can take it meanwhile.
	const failures = 3
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) <= failures {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		fmt.Fprint(w, "backend-1")
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	before := time.Now()
	code, stdout, stderr := runCLI(context.Background(), "wait-for", addr, "--protocol=http", "--request=/hostname", "--interval=20ms", "--timeout=10s")
	if code != 0 {
		t.Fatalf("status %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 2 || lines[0] != "waiting for "+addr {
		t.Fatalf("stdout %q, want a waiting line, then the report", stdout)
	}
	m := regexp.MustCompile(`^reached (\S+) at=(\S+) after=(\S+) tries=(\d+)$`).FindStringSubmatch(lines[1])
	if m == nil || m[1] != addr {
		t.Fatalf("report %q, want reached %s at=TIME after=DURATION tries=N", lines[1], addr)
	}
	at, err := time.Parse(time.RFC3339Nano, m[2])
	if err != nil || at.Before(before) || at.After(time.Now()) {
		t.Errorf("at=%s (%v), want a time during the wait", m[2], err)
	}
	if after, err := time.ParseDuration(m[3]); err != nil || after < failures*20*time.Millisecond {
		t.Errorf("after=%s (%v), want at least %d intervals", m[3], err, failures)
	}
	if m[4] != strconv.Itoa(failures+1) {
		t.Errorf("tries=%s, want %d: the failed tries counted", m[4], failures+1)
	}
}

func TestWaitForGivesUpWithTheLastError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close() // never an answer
		}
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	code, _, stderr := runCLI(context.Background(), "wait-for", addr, "--protocol=http", "--request=/", "--timeout=100ms", "--interval=10ms")
	want := "testbox wait-for: http " + addr + ": not reached in "
	if code != 1 || !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, "EOF") {
		t.Errorf("got %d %q, want 1 and stderr starting %q, with the last try's error", code, stderr, want)
	}
}

func TestWaitForArguments(t *testing.T) {
	for _, tt := range []struct {
		args       []string
		wantStderr string
	}{
		{[]string{"wait-for", "10.96.0.1"}, `ADDR: want host:port, got "10.96.0.1"`},
		{[]string{"wait-for", "10.96.0.1:80", "--protocol=udp"}, "--request: udp needs something to send"},
		{[]string{"wait-for", "10.96.0.1:80", "--interval=0s"}, "--interval: want a positive duration"},
		{[]string{"wait-for", "10.96.0.1:80", "--try-timeout=-1s"}, "--try-timeout: want a positive duration"},
	} {
		code, _, stderr := runCLI(context.Background(), tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.wantStderr) {
			t.Errorf("%v: got %d %q, want 2 and %q", tt.args, code, stderr, tt.wantStderr)
		}
	}
}

func TestDNSLookupCountPrintsLatencies(t *testing.T) {
	code, stdout, stderr := runCLI(context.Background(), "dns-lookup", "localhost", "--count", "20")
	pattern := `^lookups=20 failed=0 min=\S+ p50=\S+ p90=\S+ p99=\S+ max=\S+\n$`
	if code != 0 || !regexp.MustCompile(pattern).MatchString(stdout) {
		t.Errorf("got %d %q %q, want 0 and a line matching %s", code, stdout, stderr, pattern)
	}

	// Failures are counted, and the first one is the error.
	code, stdout, stderr = runCLI(context.Background(), "dns-lookup", "no-such-service.invalid.", "--count=3")
	if code != 1 || !strings.HasPrefix(stdout, "lookups=3 failed=3 ") ||
		!strings.HasPrefix(stderr, "testbox dns-lookup: look up HOST no-such-service.invalid.: 3 of 3 lookups failed, the first: ") {
		t.Errorf("got %d %q %q, want 1, the figures and the failures", code, stdout, stderr)
	}

	if code, _, stderr = runCLI(context.Background(), "dns-lookup", "localhost", "--count=0"); code != 2 || !strings.Contains(stderr, "--count: want 1 or more, got 0") {
		t.Errorf("--count=0: got %d %q, want a usage error", code, stderr)
	}
}

func TestLatencySummaryUsesNearestRank(t *testing.T) {
	var latencies []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		latencies = append(latencies, time.Duration(i)*time.Millisecond)
	}
	want := "min=1ms p50=50ms p90=90ms p99=99ms max=100ms"
	if got := latencySummary(latencies); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := latencySummary([]time.Duration{1500 * time.Nanosecond}); got != "min=2µs p50=2µs p90=2µs p99=2µs max=2µs" {
		t.Errorf("one sample: %q", got)
	}
}
