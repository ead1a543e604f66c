// Package status prints the one-line-per-step progress of long commands, as
// kind does: a spinner and then ✓ or ✗ on a terminal, plain lines elsewhere
// (CI logs), and nothing at all when quiet.
package status

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Printer writes status lines. The zero value is not usable; use New or
// Discard. A Printer is safe for use by one step at a time.
type Printer struct {
	w       io.Writer
	tty     bool
	timings bool

	mu      sync.Mutex
	current string
	started time.Time
	stop    chan struct{}
	done    chan struct{}
}

// New returns a Printer writing to w. timings appends each step's duration,
// which is what -v users want and what a CI log benefits from.
func New(w io.Writer, timings bool) *Printer {
	return &Printer{w: w, tty: isTerminal(w), timings: timings}
}

// Discard returns a Printer that prints nothing (-q).
func Discard() *Printer { return &Printer{w: io.Discard} }

// Start begins a step. A step still running is ended as successful first.
func (p *Printer) Start(msg string) {
	if p == nil {
		return
	}
	p.End(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.current, p.started = msg, time.Now()
	if !p.tty {
		fmt.Fprintf(p.w, " • %s ...\n", msg)
		return
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go p.spin(msg, p.stop, p.done)
}

// Info prints a line that is not a step, such as a command's heading or its
// closing advice. A running step is ended as successful first.
func (p *Printer) Info(line string) {
	if p == nil {
		return
	}
	p.End(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, line)
}

// End finishes the current step with ✓ (ok) or ✗. Without a step it does
// nothing, so callers can End in a deferred cleanup unconditionally.
func (p *Printer) End(ok bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current == "" {
		return
	}
	if p.stop != nil {
		close(p.stop)
		<-p.done
		p.stop, p.done = nil, nil
	}
	mark := "✓"
	if !ok {
		mark = "✗"
	}
	line := fmt.Sprintf(" %s %s", mark, p.current)
	if p.timings {
		line += fmt.Sprintf(" (%s)", time.Since(p.started).Round(10*time.Millisecond))
	}
	if p.tty {
		// \x1b[K clears what the spinner left on the line.
		fmt.Fprintf(p.w, "\r%s\x1b[K\n", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.current = ""
}

func (p *Printer) spin(msg string, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		fmt.Fprintf(p.w, "\r %s %s ", spinnerFrames[i%len(spinnerFrames)], msg)
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
