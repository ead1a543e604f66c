package controllers

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// healthCheck is one named check behind /healthz, /livez and /readyz.
type healthCheck struct {
	name  string
	check func(*http.Request) error
}

// metrics are the manager's own Prometheus metrics, upstream's names.
type metrics struct {
	registry *prometheus.Registry
	// leader is leader_election_master_status: 1 while leading.
	leader *prometheus.GaugeVec
	// running is running_managed_controllers: 1 per running controller.
	running *prometheus.GaugeVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leader_election_master_status",
			Help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease.",
		}, []string{"name"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "running_managed_controllers",
			Help: "Indicates where instances of a controller are currently running",
		}, []string{"manager", "name"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.leader, m.running,
	)
	return m
}

// newHandler serves the health checks and the metrics. Health is open to
// anyone, as upstream's always-allowed paths, for the kubelet's probes.
func newHandler(m *metrics, checks []healthCheck) http.Handler {
	mux := http.NewServeMux()
	health := healthHandler(checks)
	for _, path := range []string{"/healthz", "/livez", "/readyz"} {
		mux.Handle(path, health)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	return mux
}

// healthHandler answers "ok", or upstream's listing of the checks with
// the failed ones marked, with status 500. ?verbose lists them always.
func healthHandler(checks []healthCheck) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var report strings.Builder
		report.WriteString("[+]ping ok\n")
		failed := false
		for _, c := range checks {
			if err := c.check(r); err != nil {
				failed = true
				fmt.Fprintf(&report, "[-]%s failed: reason withheld\n", c.name)
			} else {
				fmt.Fprintf(&report, "[+]%s ok\n", c.name)
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		switch {
		case failed:
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "%s%s check failed\n", report.String(), strings.TrimPrefix(r.URL.Path, "/"))
		case r.URL.Query().Has("verbose"):
			fmt.Fprintf(w, "%s%s check passed\n", report.String(), strings.TrimPrefix(r.URL.Path, "/"))
		default:
			fmt.Fprint(w, "ok")
		}
	})
}

// selfSignedCertificate is a serving certificate for the loopback
// addresses, the bind address and the host name, as upstream makes when
// given no --tls-cert-file; it lives in memory only.
func selfSignedCertificate(bindAddress string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: fmt.Sprintf("localhost@%d", now.Unix())},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	if ip := net.ParseIP(bindAddress); ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	}
	if host, err := os.Hostname(); err == nil && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// serveHTTPS serves handler on ln until ctx ends, then shuts down.
func serveHTTPS(ctx context.Context, ln net.Listener, handler http.Handler, cert tls.Certificate, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	stop := context.AfterFunc(ctx, func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	})
	defer stop()
	log.Info("Serving securely", "address", ln.Addr().String())
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve HTTPS on %s: %w", ln.Addr(), err)
	}
	return nil
}
