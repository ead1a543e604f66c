package nodeinit

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// supervisor keeps one service running: it restarts the service when it
// exits, with exponential backoff, until it is told to stop.
type supervisor struct {
	svc     Service
	logPath string
	backoff Backoff
	reaper  *reaper
	log     *logger

	stopReq chan stopRequest
	done    chan struct{}
}

// stopRequest says until when the service may take to exit after SIGTERM
// (termBy) and after SIGKILL (killBy).
type stopRequest struct {
	termBy, killBy time.Time
}

func newSupervisor(svc Service, logDir string, backoff Backoff, r *reaper, log *logger) *supervisor {
	return &supervisor{
		svc:     svc,
		logPath: filepath.Join(logDir, svc.Name+".log"),
		backoff: backoff,
		reaper:  r,
		log:     log,
		stopReq: make(chan stopRequest, 1),
		done:    make(chan struct{}),
	}
}

// stop terminates the service and returns once the supervisor is done.
func (s *supervisor) stop(termBy, killBy time.Time) {
	s.stopReq <- stopRequest{termBy: termBy, killBy: killBy}
	<-s.done
}

func (s *supervisor) run() {
	defer close(s.done)
	delay := s.backoff.Initial
	for {
		started := time.Now()
		p, exited, err := s.start()
		if err != nil {
			s.log.printf("start %s: %v; retrying in %s", s.svc.Name, err, delay)
		} else {
			select {
			case ws := <-exited:
				_ = p.Release()
				ran := time.Since(started)
				if ran >= s.backoff.ResetAfter {
					delay = s.backoff.Initial
				}
				s.log.printf("%s exited (%s) after %s; restarting in %s",
					s.svc.Name, describeStatus(ws), ran.Round(time.Millisecond), delay)
			case req := <-s.stopReq:
				s.terminate(p, exited, req)
				_ = p.Release()
				return
			}
		}
		select {
		case <-time.After(delay):
		case <-s.stopReq:
			return
		}
		delay = min(2*delay, s.backoff.Max)
	}
}

// start starts the service with its output appended to its log file. The
// file is reopened at each start so that a removed log is recreated.
func (s *supervisor) start() (*os.Process, <-chan unix.WaitStatus, error) {
	out, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open log: %w", err)
	}
	defer out.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, nil, err
	}
	defer devnull.Close()

	argv := append([]string{s.svc.Path}, s.svc.Args...)
	// Marks each start in the service's log, where the restarts would
	// otherwise run together.
	fmt.Fprintf(out, "%s %sstarting %s\n", time.Now().Format(time.RFC3339Nano), linePrefix, strings.Join(argv, " "))
	return s.reaper.start(argv, &os.ProcAttr{
		Env:   serviceEnv(s.svc.Env),
		Files: []*os.File{devnull, out, out},
		// Its own session, as under systemd: signals meant for the init's
		// group never reach the services by accident.
		Sys: &syscall.SysProcAttr{Setsid: true},
	})
}

// terminate sends SIGTERM, then SIGKILL once req.termBy passes.
func (s *supervisor) terminate(p *os.Process, exited <-chan unix.WaitStatus, req stopRequest) {
	_ = p.Signal(unix.SIGTERM)
	select {
	case ws := <-exited:
		s.log.printf("%s stopped (%s)", s.svc.Name, describeStatus(ws))
		return
	case <-time.After(time.Until(req.termBy)):
	}
	s.log.printf("%s did not stop after SIGTERM; sending SIGKILL", s.svc.Name)
	_ = p.Kill()
	select {
	case <-exited:
	case <-time.After(time.Until(req.killBy)):
		s.log.printf("%s (pid %d) did not exit after SIGKILL", s.svc.Name, p.Pid)
	}
}

// defaultPath is the PATH Docker gives containers; an image made with
// `docker import` has none of its own.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// serviceEnv is env, or the init's own environment when env is nil, with a
// PATH: containerd finds runc and its shims through it.
func serviceEnv(env []string) []string {
	if env == nil {
		env = os.Environ()
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return env
		}
	}
	return append(env[:len(env):len(env)], defaultPath)
}

// readyPollInterval is short: containerd answers about 1.5 s after start,
// and everything else in the node waits for it.
const readyPollInterval = 50 * time.Millisecond

// waitReady polls the service's readiness checks until they pass, timeout
// passes, or ctx is cancelled.
func waitReady(ctx context.Context, svc Service, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := checkReady(wctx, svc)
		if err == nil {
			return nil
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%s is not ready after %s: %w", svc.Name, timeout, err)
		case <-time.After(readyPollInterval):
		}
	}
}

// readyProbeTimeout bounds one readiness probe: a hung call must not use
// up the whole ReadyTimeout.
const readyProbeTimeout = 5 * time.Second

func checkReady(ctx context.Context, svc Service) error {
	if svc.ReadySocket != "" {
		// Dialing first spares the probe's client set-up per poll while
		// the socket does not exist yet.
		d := net.Dialer{Timeout: time.Second}
		conn, err := d.DialContext(ctx, "unix", svc.ReadySocket)
		if err != nil {
			return err
		}
		conn.Close()
	}
	if svc.ReadyProbe != nil {
		pctx, cancel := context.WithTimeout(ctx, readyProbeTimeout)
		defer cancel()
		if err := svc.ReadyProbe(pctx); err != nil {
			return err
		}
	}
	return nil
}
