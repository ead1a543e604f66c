package scheduler

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/util/cert"
)

// server serves kube-scheduler's endpoints over HTTPS: the health checks
// kubeadm's probes call, anonymously, and /metrics.
type server struct {
	ln   net.Listener
	http *http.Server
}

// healthCheck is one named check of a health endpoint.
type healthCheck struct {
	name  string
	check func() error
}

func newServer(ln net.Listener, sched *Scheduler, election *elector, registry *prometheus.Registry) (*server, error) {
	// Upstream generates a self-signed certificate for localhost when given
	// none; probes and scrapers skip verification.
	certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey("localhost", []net.IP{net.ParseIP("127.0.0.1")}, nil)
	if err != nil {
		return nil, fmt.Errorf("self-signed serving certificate: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("self-signed serving certificate: %w", err)
	}
	ping := healthCheck{"ping", func() error { return nil }}
	leader := healthCheck{"leaderElection", election.check}
	synced := healthCheck{"sched-handler-sync", func() error {
		// A copy waiting for the lease runs no informers yet; it is ready
		// to take over all the same.
		if election == nil && !sched.HasSynced() {
			return errors.New("waiting for handlers to sync")
		}
		return nil
	}}
	mux := http.NewServeMux()
	mux.Handle("/healthz", healthHandler("healthz", ping, leader))
	mux.Handle("/livez", healthHandler("livez", ping, leader))
	mux.Handle("/readyz", healthHandler("readyz", ping, leader, synced))
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	return &server{ln: ln, http: &http.Server{
		Handler:   mux,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
	}}, nil
}

// serve serves until ctx ends, then shuts down.
func (s *server) serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.ServeTLS(s.ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve https on %s: %w", s.ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down https on %s: %w", s.ln.Addr(), err)
	}
	return nil
}

// healthHandler answers as upstream's healthz: "ok", or with ?verbose a
// line per check; a failing check is 500 with its reason withheld.
func healthHandler(name string, checks ...healthCheck) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var out strings.Builder
		failed := false
		for _, c := range checks {
			if err := c.check(); err != nil {
				failed = true
				fmt.Fprintf(&out, "[-]%s failed: reason withheld\n", c.name)
				continue
			}
			fmt.Fprintf(&out, "[+]%s ok\n", c.name)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if failed {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "%s%s check failed\n", out.String(), name)
			return
		}
		if _, verbose := r.URL.Query()["verbose"]; verbose {
			fmt.Fprintf(w, "%s%s check passed\n", out.String(), name)
			return
		}
		fmt.Fprint(w, "ok")
	})
}
