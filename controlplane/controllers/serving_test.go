package controllers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthEndpoints(t *testing.T) {
	failing := errors.New("lease not renewed")
	tests := []struct {
		name       string
		path       string
		check      error
		wantStatus int
		wantBody   string
	}{
		{name: "healthy healthz", path: "/healthz", wantStatus: http.StatusOK, wantBody: "ok"},
		{name: "healthy livez", path: "/livez", wantStatus: http.StatusOK, wantBody: "ok"},
		{name: "healthy readyz", path: "/readyz", wantStatus: http.StatusOK, wantBody: "ok"},
		{name: "verbose lists the checks", path: "/healthz?verbose", wantStatus: http.StatusOK, wantBody: "[+]ping ok\n[+]leaderElection ok\nhealthz check passed\n"},
		{name: "failed check", path: "/healthz", check: failing, wantStatus: http.StatusInternalServerError, wantBody: "[+]ping ok\n[-]leaderElection failed: reason withheld\nhealthz check failed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(newMetrics(), []healthCheck{{name: "leaderElection", check: func(*http.Request) error { return tt.check }}})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Fatalf("%s: %d %q, want %d %q", tt.path, rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestMetricsEndpoint(t *testing.T) {
	m := newMetrics()
	m.leader.WithLabelValues(leaseName).Set(1)
	m.running.WithLabelValues(userAgent, "node-ipam-controller").Set(1)
	rec := httptest.NewRecorder()
	newHandler(m, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`leader_election_master_status{name="kube-controller-manager"} 1`,
		`running_managed_controllers{manager="kube-controller-manager",name="node-ipam-controller"} 1`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestServesHTTPSWithSelfSignedCertificate is what kubeadm's probe does:
// an HTTPS GET of /healthz on 127.0.0.1.
func TestServesHTTPSWithSelfSignedCertificate(t *testing.T) {
	cert, err := selfSignedCertificate("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveHTTPS(ctx, ln, newHandler(newMetrics(), nil), cert, newOptionsLog()) }()

	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v (the certificate must cover 127.0.0.1)", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("GET /healthz: %d %q", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serving ended with %v, want a clean shutdown", err)
	}
}

func newOptionsLog() *slog.Logger { return DefaultOptions().withDefaults().Log }
