package nodeimage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
)

// CommandError is a failed command with what it printed last, so that the
// failure explains itself.
type CommandError struct {
	Command string
	Err     error
	Tail    []string // the last lines of its output
	LogFile string   // where the whole output is, when it was kept
}

func (e *CommandError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v", e.Command, e.Err)
	if e.LogFile != "" {
		fmt.Fprintf(&b, " (full output in %s)", e.LogFile)
	}
	if len(e.Tail) > 0 {
		b.WriteString("\n\t" + strings.Join(e.Tail, "\n\t"))
	}
	return b.String()
}

func (e *CommandError) Unwrap() error { return e.Err }

func cmdline(cmd *exec.Cmd) string {
	return strings.Join(cmd.Args, " ")
}

// tail keeps the last n lines written to it.
type tail struct {
	mu  sync.Mutex
	n   int
	buf []string
	lw  *lineWriter
}

func newTail(n int) *tail {
	t := &tail{n: n}
	t.lw = &lineWriter{fn: t.add}
	return t
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, line)
	if len(t.buf) > t.n {
		t.buf = t.buf[len(t.buf)-t.n:]
	}
}

func (t *tail) Write(p []byte) (int, error) { return t.lw.Write(p) }

func (t *tail) lines() []string {
	t.lw.Flush()
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.buf...)
}

// lineWriter calls fn for every complete line written to it.
type lineWriter struct {
	fn      func(string)
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.fn(strings.TrimRight(string(w.partial[:i]), "\r"))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// Flush passes on a last line that had no newline.
func (w *lineWriter) Flush() {
	if len(w.partial) > 0 {
		w.fn(string(w.partial))
		w.partial = nil
	}
}

// jsonMessage is one message of the Docker Engine's progress streams
// (build, import).
type jsonMessage struct {
	Stream      string                    `json:"stream"`
	Status      string                    `json:"status"`
	Error       string                    `json:"error"`
	ErrorDetail *struct{ Message string } `json:"errorDetail"`
	Aux         json.RawMessage           `json:"aux"`
}

// readJSONStream consumes a progress stream, logs its text at debug level,
// calls onAux for each aux message (the built image's ID), and returns the
// error the stream reports, with the output that preceded it.
func readJSONStream(r io.Reader, log *slog.Logger, onAux func(json.RawMessage)) error {
	dec := json.NewDecoder(r)
	t := newTail(15)
	for {
		var m jsonMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read Docker progress stream: %w", err)
		}
		if text := strings.TrimRight(m.Stream+m.Status, "\n"); text != "" {
			for _, line := range strings.Split(text, "\n") {
				log.Debug(line)
				t.add(line)
			}
		}
		if len(m.Aux) > 0 && onAux != nil {
			onAux(m.Aux)
		}
		msg := m.Error
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			msg = m.ErrorDetail.Message
		}
		if msg != "" {
			if lines := t.lines(); len(lines) > 0 {
				return fmt.Errorf("%s\n\t%s", msg, strings.Join(lines, "\n\t"))
			}
			return errors.New(msg)
		}
	}
}
