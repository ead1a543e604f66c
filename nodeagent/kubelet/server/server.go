// Package server is the kubelet's HTTPS API on port 10250, ported from
// upstream's pkg/kubelet/server: the API server proxies pods/log, exec,
// attach, portforward and nodes/proxy to it. Container logs are read from
// the files the runtime writes; exec, attach and port-forward sessions are
// forwarded to the runtime's streaming server, which speaks SPDY and
// WebSocket itself.
//
// Only the API server's kubelet client certificate and members of
// system:masters get in: there is no webhook authorization here, so the
// decision upstream asks the API server for is a fixed rule.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	// DefaultAddr is where upstream's kubelet serves its API.
	DefaultAddr = ":10250"
	// DefaultLogRoot holds the pods' container logs.
	DefaultLogRoot = "/var/log/pods"
	// APIServerClientCN is the common name of the client certificate
	// kubeadm issues the API server for talking to kubelets.
	APIServerClientCN = "kube-apiserver-kubelet-client"
	// MastersGroup is the group whose members may do anything, the API
	// server's cluster admins.
	MastersGroup = "system:masters"

	// shutdownTimeout bounds the wait for requests in flight when the
	// server stops.
	shutdownTimeout = 5 * time.Second
)

// Pods are the pods bound to this node, static pods included under their
// full name (<name>-<node>).
type Pods interface {
	// GetPodByName returns the pod, false when the node has no such pod.
	GetPodByName(namespace, name string) (*corev1.Pod, bool)
	// GetPods returns all of them.
	GetPods() []*corev1.Pod
}

// Runtime is the part of the CRI runtime service the API needs;
// runtimeapi.RuntimeServiceClient satisfies it.
type Runtime interface {
	ListContainers(ctx context.Context, in *runtimeapi.ListContainersRequest, opts ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error)
	ContainerStatus(ctx context.Context, in *runtimeapi.ContainerStatusRequest, opts ...grpc.CallOption) (*runtimeapi.ContainerStatusResponse, error)
	ListPodSandbox(ctx context.Context, in *runtimeapi.ListPodSandboxRequest, opts ...grpc.CallOption) (*runtimeapi.ListPodSandboxResponse, error)
	Exec(ctx context.Context, in *runtimeapi.ExecRequest, opts ...grpc.CallOption) (*runtimeapi.ExecResponse, error)
	Attach(ctx context.Context, in *runtimeapi.AttachRequest, opts ...grpc.CallOption) (*runtimeapi.AttachResponse, error)
	PortForward(ctx context.Context, in *runtimeapi.PortForwardRequest, opts ...grpc.CallOption) (*runtimeapi.PortForwardResponse, error)
}

// Config says how to serve the kubelet API.
type Config struct {
	// Addr is the address to listen on; empty means DefaultAddr.
	Addr string
	// CertFile and KeyFile are the serving certificate and its key.
	CertFile, KeyFile string
	// TLSConfig, when set, serves with its certificates instead of
	// CertFile and KeyFile, and its ClientCAs when ClientCAFile is empty.
	TLSConfig *tls.Config
	// ClientCAFile holds the CA certificates that sign clients' certificates
	// (the cluster CA).
	ClientCAFile string
	// AllowedClientCN is the one client, besides system:masters, let in;
	// empty means APIServerClientCN.
	AllowedClientCN string
	// Pods are the node's pods.
	Pods Pods
	// Runtime is the container runtime.
	Runtime Runtime
	// LogRoot is where container logs are when the runtime does not say;
	// empty means DefaultLogRoot.
	LogRoot string
	// Log receives what goes wrong; nil discards it.
	Log *slog.Logger
}

// Server serves the kubelet API.
type Server struct {
	cfg       Config
	tls       *tls.Config
	clientCAs *x509.CertPool
	log       *slog.Logger
	// streams reaches the runtime's streaming server.
	streams http.RoundTripper
	handler http.Handler
}

// New checks the configuration and loads the certificates.
func New(cfg Config) (*Server, error) {
	if cfg.Pods == nil {
		return nil, errors.New("kubelet API: no pods source")
	}
	if cfg.Runtime == nil {
		return nil, errors.New("kubelet API: no container runtime")
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.AllowedClientCN == "" {
		cfg.AllowedClientCN = APIServerClientCN
	}
	if cfg.LogRoot == "" {
		cfg.LogRoot = DefaultLogRoot
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tlsConfig, clientCAs, err := serverTLS(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubelet API: %w", err)
	}
	s := &Server{
		cfg:       cfg,
		tls:       tlsConfig,
		clientCAs: clientCAs,
		log:       log,
		streams:   newStreamTransport(),
	}
	s.handler = s.authorize(s.routes())
	return s, nil
}

// serverTLS builds the serving TLS configuration and the pool that
// verifies clients.
func serverTLS(cfg Config) (*tls.Config, *x509.CertPool, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("load serving certificate %q: %w", cfg.CertFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if len(tc.Certificates) == 0 && tc.GetCertificate == nil {
		return nil, nil, errors.New("no serving certificate: set CertFile and KeyFile or TLSConfig")
	}
	clientCAs := tc.ClientCAs
	if cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read client CA: %w", err)
		}
		clientCAs = x509.NewCertPool()
		if !clientCAs.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("read client CA %q: no certificate in it", cfg.ClientCAFile)
		}
	}
	if clientCAs == nil {
		return nil, nil, errors.New("no client CA: set ClientCAFile")
	}
	// Ask for a certificate without requiring one, as upstream: a client
	// without one is answered 401 by the handler, and /healthz is open.
	if tc.ClientAuth < tls.RequestClientCert {
		tc.ClientAuth = tls.RequestClientCert
	}
	return tc, clientCAs, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /pods", s.getPods)
	mux.HandleFunc("GET /metrics", s.metrics)
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.containerLogs)
	// kubectl sends POST; GET works as well, as upstream. The variants with
	// the pod's UID pin the pod instance.
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		mux.HandleFunc(method+" /exec/{namespace}/{pod}/{container}", s.exec)
		mux.HandleFunc(method+" /exec/{namespace}/{pod}/{uid}/{container}", s.exec)
		mux.HandleFunc(method+" /attach/{namespace}/{pod}/{container}", s.attach)
		mux.HandleFunc(method+" /attach/{namespace}/{pod}/{uid}/{container}", s.attach)
		mux.HandleFunc(method+" /portForward/{namespace}/{pod}", s.portForward)
		mux.HandleFunc(method+" /portForward/{namespace}/{pod}/{uid}", s.portForward)
	}
	return mux
}

// Handler serves the API, authentication and authorization included; it
// expects requests that came over TLS.
func (s *Server) Handler() http.Handler { return s.handler }

// Run listens on the configured address and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("kubelet API: listen on %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves TLS on ln until ctx ends, then stops: followed logs and
// exec sessions are cut, other requests get shutdownTimeout to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// Requests live in their own context, ended at shutdown: streams
	// that never go idle would otherwise hold the shutdown.
	requests, endRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer endRequests()
	srv := &http.Server{
		Handler:   s.handler,
		TLSConfig: s.tls,
		// Upstream's limits: logs are followed and sessions last for hours.
		ReadTimeout:    4 * time.Hour,
		WriteTimeout:   4 * time.Hour,
		IdleTimeout:    90 * time.Second,
		MaxHeaderBytes: 1 << 20,
		BaseContext:    func(net.Listener) context.Context { return requests },
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.log.Info("kubelet API serving", "address", ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-served:
		return fmt.Errorf("kubelet API: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	endRequests()
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(stopCtx); err != nil {
		srv.Close()
		return fmt.Errorf("kubelet API: stop: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("kubelet API: serve on %s: %w", ln.Addr(), err)
	}
	return nil
}

// writeText answers with a plain-text body, as upstream's handlers do for
// their errors.
func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg))
}
