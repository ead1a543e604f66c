package kubeproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestHealthz(t *testing.T) {
	const timeout = time.Minute
	clk := clocktesting.NewFakeClock(time.Date(2025, 11, 22, 12, 0, 0, 0, time.UTC))
	registry := prometheus.NewRegistry()
	h := newHealth(clk, timeout, newMetrics(registry))
	mux := healthMux(h)
	tainted := &corev1.Node{Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: toBeDeletedTaint, Effect: corev1.TaintEffectNoSchedule}}}}
	deleted := &corev1.Node{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{Time: clk.Now()}}}

	steps := []struct {
		name                 string
		do                   func()
		wantHealthz, wantLiv int
	}{
		{"starting: healthy", func() {}, 200, 200},
		{"a change just queued: still healthy", h.QueuedUpdate, 200, 200},
		{"the change waits less than the timeout", func() { clk.Step(timeout - time.Second) }, 200, 200},
		{"the change waits past the timeout", func() { clk.Step(time.Second) }, 503, 503},
		{"a sync programs it", h.Updated, 200, 200},
		{"node tainted for deletion: healthz fails, livez does not", func() { h.SyncNode(tainted) }, 503, 200},
		{"node back to normal", func() { h.SyncNode(testNodeObject()) }, 200, 200},
		{"node being deleted", func() { h.SyncNode(deleted) }, 503, 200},
	}
	for _, s := range steps {
		s.do()
		if code, body := get(t, mux, "/healthz"); code != s.wantHealthz {
			t.Errorf("%s: /healthz %d %s, want %d", s.name, code, body, s.wantHealthz)
		}
		if code, body := get(t, mux, "/livez"); code != s.wantLiv {
			t.Errorf("%s: /livez %d %s, want %d", s.name, code, body, s.wantLiv)
		}
	}
	if got := metricValue(t, registry, "kubeproxy_proxy_healthz_total"); got == 0 {
		t.Error("kubeproxy_proxy_healthz_total not counted")
	}
}

// TestHealthzBodyIsUpstreams pins the JSON layout clients parse.
func TestHealthzBodyIsUpstreams(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2025, 11, 22, 12, 0, 0, 0, time.UTC))
	h := newHealth(clk, time.Minute, newMetrics(nil))
	h.Updated()
	_, body := get(t, healthMux(h), "/healthz")
	want := `{"lastUpdated": "2025-11-22 12:00:00 +0000 UTC","currentTime": "2025-11-22 12:00:00 +0000 UTC", "nodeEligible": true}`
	if body != want {
		t.Errorf("/healthz body\n%s\nwant\n%s", body, want)
	}
	_, body = get(t, healthMux(h), "/livez")
	if !regexp.MustCompile(`^\{"lastUpdated": "[^"]+","currentTime": "[^"]+"\}$`).MatchString(body) {
		t.Errorf("/livez body %s", body)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	registry := prometheus.NewRegistry()
	m := newMetrics(registry)
	m.syncDuration.Observe(0.02)
	m.networkProgramming.Observe(1.5)
	mux := metricsMux(registry, "iptables")
	if code, body := get(t, mux, "/proxyMode"); code != 200 || body != "iptables" {
		t.Errorf("/proxyMode = %d %q", code, body)
	}
	if code, body := get(t, mux, "/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	_, body := get(t, mux, "/metrics")
	for _, want := range []string{
		"kubeproxy_sync_proxy_rules_duration_seconds_count 1",
		`kubeproxy_network_programming_duration_seconds_bucket{le="2"} 1`,
		"kubeproxy_sync_proxy_rules_iptables_restore_failures_total 0",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
