package nodeinit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// reaper owns wait4 for the whole process. As PID 1 this process inherits
// every orphan of the node (exited shims' children, double-forked daemons),
// and wait4(-1) cannot tell those from the children it started on purpose;
// so a single goroutine reaps everything and hands the status of each
// process it was told about to whoever waits for it. Nothing else in the
// process may wait for a child (no exec.Cmd.Wait): the reaper would steal
// its status.
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan<- unix.WaitStatus

	sigchld chan os.Signal
	quit    chan struct{}
	done    chan struct{}
}

// reaping guards against a second reaper in the process: wait4(-1) is
// process-wide, so two would steal each other's statuses.
var reaping atomic.Bool

func startReaper() (*reaper, error) {
	if !reaping.CompareAndSwap(false, true) {
		return nil, errors.New("start reaper: another one is running in this process")
	}
	if os.Getpid() != 1 {
		// Outside a node (tests, debugging) orphans would go to the real
		// init; as a subreaper they come to this process instead.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			reaping.Store(false)
			return nil, fmt.Errorf("become child subreaper: %w", err)
		}
	}
	r := &reaper{
		waiters: map[int]chan<- unix.WaitStatus{},
		sigchld: make(chan os.Signal, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	signal.Notify(r.sigchld, unix.SIGCHLD)
	go r.loop()
	return r, nil
}

func (r *reaper) stop() {
	close(r.quit)
	<-r.done
	signal.Stop(r.sigchld)
	reaping.Store(false)
}

func (r *reaper) loop() {
	defer close(r.done)
	for {
		r.reapExited()
		select {
		case <-r.sigchld:
		case <-r.quit:
			r.reapExited()
			return
		}
	}
}

// reapExited collects every child that has exited. SIGCHLD does not queue,
// so one signal may stand for many exits.
func (r *reaper) reapExited() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return // ECHILD: no children; 0: none has exited yet
		}
		r.deliver(pid, ws)
	}
}

func (r *reaper) deliver(pid int, ws unix.WaitStatus) {
	r.mu.Lock()
	ch, ok := r.waiters[pid]
	delete(r.waiters, pid)
	r.mu.Unlock()
	if ok {
		ch <- ws // buffered: never blocks the reaper
	}
}

// start starts a process and returns a channel that receives its exit
// status. The lock is held across the start so that a child exiting at
// once is registered before the reaper can look it up.
func (r *reaper) start(argv []string, attr *os.ProcAttr) (*os.Process, <-chan unix.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := os.StartProcess(argv[0], argv, attr)
	if err != nil {
		return nil, nil, err
	}
	exited := make(chan unix.WaitStatus, 1)
	r.waiters[p.Pid] = exited
	return p, exited, nil
}

// outputGrace bounds the read of a finished command's output: a background
// child it left behind may hold the pipe open forever.
const outputGrace = time.Second

// output runs a short command to completion and returns what it printed on
// stdout and stderr. Cancelling ctx kills it.
func (r *reaper) output(ctx context.Context, argv []string) ([]byte, error) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	p, exited, err := r.start(argv, &os.ProcAttr{Files: []*os.File{devnull, pw, pw}})
	pw.Close() // the child holds its own copy; EOF comes when it exits
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", strings.Join(argv, " "), err)
	}
	defer p.Release()

	read := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(pr)
		read <- b
	}()
	var ws unix.WaitStatus
	select {
	case ws = <-exited:
	case <-ctx.Done():
		_ = p.Kill()
		ws = <-exited
	}
	_ = pr.SetReadDeadline(time.Now().Add(outputGrace))
	out := <-read

	if ctx.Err() != nil {
		return out, &commandError{argv: argv, status: ctx.Err().Error(), output: out}
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return out, &commandError{argv: argv, status: describeStatus(ws), output: out}
	}
	return out, nil
}

// commandError keeps the command line and its output, so that a failure
// explains itself in the container log.
type commandError struct {
	argv   []string
	status string
	output []byte
}

func (e *commandError) Error() string {
	msg := fmt.Sprintf("%s: %s", strings.Join(e.argv, " "), e.status)
	if out := strings.TrimSpace(string(e.output)); out != "" {
		msg += ": " + out
	}
	return msg
}

func describeStatus(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Sprintf("killed by %s", unix.SignalName(ws.Signal()))
	default:
		return fmt.Sprintf("wait status %#x", uint32(ws))
	}
}
