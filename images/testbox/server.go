package testbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// Config is what serve needs. Zero values are usable except HTTPAddr.
type Config struct {
	// HTTPAddr is the HTTP listen address, such as ":8080".
	HTTPAddr string
	// UDPAddr is the UDP listen address; empty runs no UDP server
	// (agnhost's --udp-port -1).
	UDPAddr string
	// Hostname is what /hostname and the UDP "hostname" command answer;
	// empty means os.Hostname(), which in a pod is the pod's name.
	Hostname string
	// HealthzDelay keeps /healthz failing for this long after start.
	HealthzDelay time.Duration
	// HealthzFailAfter makes /healthz fail from this long after start on;
	// zero means never.
	HealthzFailAfter time.Duration
	// ShutdownTimeout bounds how long requests in flight may take to finish
	// when the server stops; default 10s, well inside a pod's 30s grace.
	ShutdownTimeout time.Duration
	// Log receives one line per request; nil discards them.
	Log io.Writer
}

// ExitError asks for the process to exit with Code and nothing printed: it
// is how /exit and the exit subcommand reach main without calling os.Exit
// from a library.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d requested", e.Code) }

// Server is a running serve: HTTP and, when configured, UDP. Build it with
// Start, then Wait for it.
type Server struct {
	cfg      Config
	logger   *log.Logger
	http     *http.Server
	httpLn   net.Listener
	udp      net.PacketConn // nil without UDP
	exit     chan int       // /exit's code; buffered, the first one wins
	failed   chan error     // a listener's fatal error
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// Serve runs a server until ctx ends (SIGTERM: nil), /exit is called (an
// *ExitError), or a listener fails.
func Serve(ctx context.Context, cfg Config) error {
	s, err := Start(cfg)
	if err != nil {
		return err
	}
	return s.Wait(ctx)
}

// Start binds the listeners and serves in the background. The ports are
// bound when it returns, so a test can dial them at once.
func Start(cfg Config) (*Server, error) {
	if cfg.Hostname == "" {
		name, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("get hostname: %w", err)
		}
		cfg.Hostname = name
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	s := &Server{
		cfg:    cfg,
		logger: log.New(cfg.Log, "", log.LstdFlags),
		exit:   make(chan int, 1),
		failed: make(chan error, 2), // one per listener: their goroutines never block
	}

	var err error
	if s.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("listen HTTP on %s: %w", cfg.HTTPAddr, err)
	}
	if cfg.UDPAddr != "" {
		if s.udp, err = net.ListenPacket("udp", cfg.UDPAddr); err != nil {
			s.httpLn.Close()
			return nil, fmt.Errorf("listen UDP on %s: %w", cfg.UDPAddr, err)
		}
	}

	a := &api{
		hostname:    cfg.Hostname,
		health:      newHealth(time.Now, cfg.HealthzDelay, cfg.HealthzFailAfter),
		requestExit: s.requestExit,
	}
	s.http = &http.Server{
		Handler: logRequests(s.logger, a.routes()),
		// No write timeout: /dial legitimately takes tries x timeout.
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          s.logger,
	}

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
			s.failed <- fmt.Errorf("serve HTTP on %s: %w", s.httpLn.Addr(), err)
		}
	}()
	if s.udp != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := serveUDP(s.udp, cfg.Hostname, s.logger); err != nil {
				s.failed <- err
			}
		}()
	}
	s.logger.Printf("serving HTTP on %s, UDP on %s, as %q", s.HTTPAddr(), orNone(s.UDPAddr()), cfg.Hostname)
	return s, nil
}

// HTTPAddr is the address the HTTP server listens on, port resolved.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// UDPAddr is the address the UDP server listens on, or "" without one.
func (s *Server) UDPAddr() string {
	if s.udp == nil {
		return ""
	}
	return s.udp.LocalAddr().String()
}

// Wait blocks until ctx ends, /exit asks for an exit or a listener fails,
// then stops the server gracefully. It returns nil, an *ExitError or the
// failure.
func (s *Server) Wait(ctx context.Context) error {
	var result error
	select {
	case <-ctx.Done():
		s.logger.Printf("stopping: %v", context.Cause(ctx))
	case code := <-s.exit:
		s.logger.Printf("stopping: /exit asked for status %d", code)
		result = &ExitError{Code: code}
	case err := <-s.failed:
		s.logger.Printf("stopping: %v", err)
		result = err
	}
	if err := s.Stop(); err != nil && result == nil {
		result = err
	}
	return result
}

// Stop lets requests in flight finish, within ShutdownTimeout, then closes
// everything. It is safe to call more than once.
func (s *Server) Stop() error {
	var err error
	s.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		if shutdownErr := s.http.Shutdown(ctx); shutdownErr != nil {
			s.http.Close()
			err = fmt.Errorf("stop HTTP server: requests still running after %v: %w", s.cfg.ShutdownTimeout, shutdownErr)
		}
		if s.udp != nil {
			s.udp.Close()
		}
		s.wg.Wait()
	})
	return err
}

// requestExit is /exit's way out: Wait takes it from here. Only the first
// request counts; the handler must not block on a second one.
func (s *Server) requestExit(code int) {
	select {
	case s.exit <- code:
	default:
	}
}

func orNone(addr string) string {
	if addr == "" {
		return "none"
	}
	return addr
}
