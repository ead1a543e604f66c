package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const sample = "2016-10-06T00:17:09.669794202Z stdout F line1\n" +
	"2016-10-06T00:17:10.000000000Z stderr F err1\n" +
	"2016-10-06T00:17:11Z stdout P part-a \n" +
	"2016-10-06T00:17:11.5Z stdout F part-b\n" +
	"2016-10-06T00:17:12Z stdout F line3\n"

func writeLog(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadLogs(t *testing.T) {
	at := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	tests := []struct {
		name    string
		content string
		opts    Options
		// stdoutOnly drops stderr, as a request for the Stdout stream.
		stdoutOnly bool
		want       string
	}{
		{name: "everything, partial records joined into one line",
			opts: Options{TailLines: -1, LimitBytes: -1},
			want: "line1\nerr1\npart-a part-b\nline3\n"},
		{name: "tail counts records, a partial one included, as upstream",
			opts: Options{TailLines: 2, LimitBytes: -1},
			want: "part-b\nline3\n"},
		{name: "tail zero writes nothing",
			opts: Options{TailLines: 0, LimitBytes: -1},
			want: ""},
		{name: "tail longer than the file writes all of it",
			opts: Options{TailLines: 100, LimitBytes: -1},
			want: "line1\nerr1\npart-a part-b\nline3\n"},
		{name: "since drops older records, keeps one stamped at it",
			opts: Options{TailLines: -1, LimitBytes: -1, Since: at("2016-10-06T00:17:11Z")},
			want: "part-a part-b\nline3\n"},
		{name: "since after the last record writes nothing",
			opts: Options{TailLines: -1, LimitBytes: -1, Since: at("2016-10-06T00:18:00Z")},
			want: ""},
		{name: "timestamps prefix each record with a fixed-width time, partial ones too, as upstream",
			opts: Options{TailLines: -1, LimitBytes: -1, Timestamps: true},
			want: "2016-10-06T00:17:09.669794202Z line1\n" +
				"2016-10-06T00:17:10.000000000Z err1\n" +
				"2016-10-06T00:17:11.000000000Z part-a 2016-10-06T00:17:11.500000000Z part-b\n" +
				"2016-10-06T00:17:12.000000000Z line3\n"},
		{name: "limitBytes cuts inside a line",
			opts: Options{TailLines: -1, LimitBytes: 9},
			want: "line1\nerr"},
		{name: "limitBytes counts the timestamp prefix",
			opts: Options{TailLines: -1, LimitBytes: 33, Timestamps: true},
			want: "2016-10-06T00:17:09.669794202Z li"},
		{name: "a dropped stream does not count against limitBytes",
			opts:       Options{TailLines: -1, LimitBytes: 9},
			stdoutOnly: true,
			want:       "line1\npar"},
		{name: "a last line without its newline is written",
			content: "2016-10-06T00:17:09Z stdout F one\n2016-10-06T00:17:10Z stdout F tw",
			opts:    Options{TailLines: -1, LimitBytes: -1},
			want:    "one\ntw"},
		{name: "a damaged line after the first is skipped",
			content: "2016-10-06T00:17:09Z stdout F one\ngarbage\n2016-10-06T00:17:10Z stdout F two\n",
			opts:    Options{TailLines: -1, LimitBytes: -1},
			want:    "one\ntwo\n"},
		{name: "tags after the first are ignored",
			content: "2016-10-06T00:17:09Z stdout P:x:y one-\n2016-10-06T00:17:10Z stdout F:z two\n",
			opts:    Options{TailLines: -1, LimitBytes: -1},
			want:    "one-two\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			content := tc.content
			if content == "" {
				content = sample
			}
			var out bytes.Buffer
			var stderr io.Writer = &out
			if tc.stdoutOnly {
				stderr = nil
			}
			if err := ReadLogs(context.Background(), writeLog(t, content), tc.opts, &out, stderr); err != nil {
				t.Fatalf("ReadLogs: %v", err)
			}
			if got := out.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadLogsSplitsStreams(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := ReadLogs(context.Background(), writeLog(t, sample), Options{TailLines: -1, LimitBytes: -1}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if got, want := stdout.String(), "line1\npart-a part-b\nline3\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got, want := stderr.String(), "err1\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
}

func TestReadLogsTailsAcrossBlocks(t *testing.T) {
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "2016-10-06T00:17:09Z stdout F line %d\n", i)
	}
	var out bytes.Buffer
	if err := ReadLogs(context.Background(), writeLog(t, b.String()), Options{TailLines: 3, LimitBytes: -1}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "line 2997\nline 2998\nline 2999\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReadLogsErrors(t *testing.T) {
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		wantErr string
	}{
		{name: "missing file", path: func(t *testing.T) string { return filepath.Join(t.TempDir(), "none.log") },
			wantErr: "open log file"},
		{name: "not a CRI log", path: func(t *testing.T) string { return writeLog(t, "hello world\n") },
			wantErr: "unsupported log format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := ReadLogs(context.Background(), tc.path(t), Options{TailLines: -1, LimitBytes: -1}, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	ptr := func(n int64) *int64 { return &n }
	tests := []struct {
		name string
		api  corev1.PodLogOptions
		want Options
	}{
		{name: "defaults read everything", want: Options{TailLines: -1, LimitBytes: -1}},
		{name: "tail, limit, follow and timestamps carry over",
			api:  corev1.PodLogOptions{TailLines: ptr(5), LimitBytes: ptr(10), Follow: true, Timestamps: true},
			want: Options{TailLines: 5, LimitBytes: 10, Follow: true, Timestamps: true}},
		{name: "sinceSeconds counts back from now",
			api:  corev1.PodLogOptions{SinceSeconds: ptr(60)},
			want: Options{TailLines: -1, LimitBytes: -1, Since: now.Add(-time.Minute)}},
		{name: "the later of sinceSeconds and sinceTime wins",
			api:  corev1.PodLogOptions{SinceSeconds: ptr(60), SinceTime: &metav1.Time{Time: now.Add(-time.Second)}},
			want: Options{TailLines: -1, LimitBytes: -1, Since: now.Add(-time.Second)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NewOptions(&tc.api, now)
			if got.TailLines != tc.want.TailLines || got.LimitBytes != tc.want.LimitBytes ||
				got.Follow != tc.want.Follow || got.Timestamps != tc.want.Timestamps || !got.Since.Equal(tc.want.Since) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// syncBuffer is written by the follower and read by the test.
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

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if out.String() == want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("output = %q, want %q", out.String(), want)
}

// follower runs ReadLogs with follow in the background.
type follower struct {
	out     syncBuffer
	running atomic.Bool
	done    chan error
	cancel  context.CancelFunc
}

func startFollow(t *testing.T, path string, tail int64) *follower {
	t.Helper()
	fl := &follower{done: make(chan error, 1)}
	fl.running.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	fl.cancel = cancel
	t.Cleanup(cancel)
	opts := Options{
		TailLines: tail, LimitBytes: -1, Follow: true, PollInterval: 5 * time.Millisecond,
		Running: func(context.Context) (bool, error) { return fl.running.Load(), nil },
	}
	go func() { fl.done <- ReadLogs(ctx, path, opts, &fl.out, &fl.out) }()
	return fl
}

func (fl *follower) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-fl.done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end")
		return nil
	}
}

func TestFollowSeesAppendedLinesAndEndsWhenTheContainerStops(t *testing.T) {
	path := writeLog(t, sample)
	fl := startFollow(t, path, 1)
	waitFor(t, &fl.out, "line3\n")

	appendTo(t, path, "2016-10-06T00:17:13Z stdout F line4\n")
	waitFor(t, &fl.out, "line3\nline4\n")

	// A record written in two pieces is written once it is whole.
	appendTo(t, path, "2016-10-06T00:17:14Z stderr F li")
	time.Sleep(30 * time.Millisecond)
	appendTo(t, path, "ne5\n")
	waitFor(t, &fl.out, "line3\nline4\nline5\n")

	// What the container wrote before it stopped is still written.
	appendTo(t, path, "2016-10-06T00:17:15Z stdout F last\n")
	fl.running.Store(false)
	if err := fl.wait(t); err != nil {
		t.Fatalf("follow ended with %v", err)
	}
	if got, want := fl.out.String(), "line3\nline4\nline5\nlast\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFollowEndsWithTheContext(t *testing.T) {
	fl := startFollow(t, writeLog(t, sample), 0)
	time.Sleep(20 * time.Millisecond)
	fl.cancel()
	if err := fl.wait(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestFollowReopensARotatedFile(t *testing.T) {
	path := writeLog(t, "2016-10-06T00:17:09Z stdout F old1\n")
	old, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	var out syncBuffer
	checks := 0
	// The rotation happens while the follower idles at the end of the
	// file: the file is renamed, the runtime writes its last bytes to it
	// and then reopens the path.
	running := func(context.Context) (bool, error) {
		checks++
		switch checks {
		case 1:
			if err := os.Rename(path, path+".20240101-000000"); err != nil {
				return false, err
			}
			appendTo(t, path, "2016-10-06T00:17:11Z stdout F new1\n")
			if _, err := old.WriteString("2016-10-06T00:17:10Z stdout F old2\n"); err != nil {
				return false, err
			}
		case 2:
			appendTo(t, path, "2016-10-06T00:17:12Z stdout F new2\n")
		default:
			return false, nil
		}
		return true, nil
	}
	opts := Options{TailLines: -1, LimitBytes: -1, Follow: true, PollInterval: time.Millisecond, Running: running}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ReadLogs(ctx, path, opts, &out, &out); err != nil {
		t.Fatalf("ReadLogs: %v", err)
	}
	if got, want := out.String(), "old1\nold2\nnew1\nnew2\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFollowStartsOverAfterATruncation(t *testing.T) {
	path := writeLog(t, sample)
	fl := startFollow(t, path, 0)
	time.Sleep(20 * time.Millisecond)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "2016-10-06T00:17:20Z stdout F fresh\n")
	waitFor(t, &fl.out, "fresh\n")
	fl.running.Store(false)
	if err := fl.wait(t); err != nil {
		t.Fatal(err)
	}
}
