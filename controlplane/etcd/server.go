package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
)

// Server is one etcd member. Build it with New, then Start it; it serves
// until Stop is called or Start's context is done.
type Server struct {
	cfg Config

	ready chan struct{} // closed once the member serves clients
	stop  chan struct{} // closed by Stop
	done  chan struct{} // closed once the member has stopped

	mu       sync.Mutex
	started  bool
	stopOnce sync.Once
	stopping atomic.Bool // set when the member is being closed on purpose
	err      error       // why the member stopped; set before done is closed

	grpcMu      sync.Mutex
	grpcServers []*grpc.Server // etcd's, for stopGRPC
}

// New checks cfg and returns a member ready to Start. Zero tuning fields
// take the Default* values.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("etcd member %s: %w", cfg.Name, err)
	}
	return &Server{
		cfg:   cfg,
		ready: make(chan struct{}),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}, nil
}

// Config returns the member's configuration, defaults filled in.
func (s *Server) Config() Config {
	return s.cfg
}

// Start opens the member's data directory and listeners and returns; the
// member then joins its cluster in the background (Ready) and serves until
// Stop is called or ctx is done. A Server starts once.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stop:
		return fmt.Errorf("etcd member %s: stopped before it started", s.cfg.Name)
	default:
	}
	if s.started {
		return fmt.Errorf("etcd member %s: already started", s.cfg.Name)
	}
	s.started = true

	e, err := embed.StartEtcd(s.cfg.embedConfig(s.logger(), s.registerGRPC))
	if err != nil {
		err = fmt.Errorf("start etcd member %s: %w", s.cfg.Name, err)
		s.finish(err)
		return err
	}
	go s.run(ctx, e)
	return nil
}

// run watches the member until something ends it, then closes it.
func (s *Server) run(ctx context.Context, e *embed.Etcd) {
	var err error
	ready := e.Server.ReadyNotify()
loop:
	for {
		select {
		case <-ready:
			close(s.ready)
			ready = nil
		case <-ctx.Done():
			break loop
		case <-s.stop:
			break loop
		case serr := <-e.Err():
			// A listener failed: the member would carry on half-deaf.
			if serr == nil {
				serr = errors.New("a listener stopped")
			}
			err = fmt.Errorf("etcd member %s: serve: %w", s.cfg.Name, serr)
			break loop
		case <-e.Server.StopNotify():
			// etcd stopped on its own, e.g. after removal from its cluster
			// or on a fatal storage error (it has logged why).
			err = fmt.Errorf("etcd member %s: stopped unexpectedly", s.cfg.Name)
			break loop
		}
	}
	s.stopping.Store(true)
	if len(s.cfg.ListenClientHTTPURLs) > 0 {
		s.stopGRPC()
	}
	// A leader hands its leadership over before it stops, which takes
	// milliseconds, or etcd's request timeout (seven seconds in a cluster)
	// when the other members are stopping too, as when all nodes stop.
	// Past an election timeout the others would have elected a leader
	// anyway, so stop without it.
	hardStop := time.AfterFunc(s.cfg.ElectionTimeout, e.Server.HardStop)
	e.Close()
	hardStop.Stop()
	s.finish(err)
}

func (s *Server) registerGRPC(gs *grpc.Server) {
	s.grpcMu.Lock()
	defer s.grpcMu.Unlock()
	s.grpcServers = append(s.grpcServers, gs)
}

// stopGRPC closes the gRPC servers' connections at once. Serving gRPC
// alone (ListenClientHTTPURLs set), etcd would stop them gracefully, which
// waits out its request timeout (five seconds) while the API server holds
// watches open; clients see the same closed connection either way. Serving
// gRPC through net/http, etcd stops them at once itself, after the HTTP
// server, and stopping them first would deadlock.
func (s *Server) stopGRPC() {
	s.grpcMu.Lock()
	servers := s.grpcServers
	s.grpcMu.Unlock()
	for _, gs := range servers {
		gs.Stop()
	}
}

// logger is the member's logger: Config.Logger or stderr at
// Config.LogLevel, both without the noise of a deliberate stop.
func (s *Server) logger() *zap.Logger {
	if s.cfg.Logger != nil {
		return quiet(s.cfg.Logger, &s.stopping)
	}
	level, _ := zapcore.ParseLevel(s.cfg.LogLevel) // checked by New
	return newLogger(level, &s.stopping)
}

func (s *Server) finish(err error) {
	s.err = err
	close(s.done)
}

// Ready is closed once the member has joined its cluster and serves
// clients. It stays open if the member stops first; see Done.
func (s *Server) Ready() <-chan struct{} {
	return s.ready
}

// Done is closed once the member has stopped, for whatever reason; Wait
// then returns at once.
func (s *Server) Done() <-chan struct{} {
	return s.done
}

// Stop stops the member gracefully and returns once it has stopped. It may
// be called more than once, and before Start.
func (s *Server) Stop() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.mu.Lock()
	if !s.started {
		s.started = true
		s.finish(nil)
	}
	s.mu.Unlock()
	<-s.done
}

// Wait blocks until the member has stopped and returns why: nil after Stop
// or the end of Start's context, the error otherwise.
func (s *Server) Wait() error {
	<-s.done
	return s.err
}
