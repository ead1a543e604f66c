package kubeproxy

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// toBeDeletedTaint is the cluster autoscaler's mark on a node it is about
// to remove; upstream's /healthz then fails so load balancers drain it.
const toBeDeletedTaint = "ToBeDeletedByClusterAutoscaler"

// health is upstream's ProxyHealthServer state: kube-proxy is healthy
// unless a change has waited longer than the timeout for a sync.
type health struct {
	clock   clock.PassiveClock
	timeout time.Duration
	metrics *metrics

	mu          sync.Mutex
	lastUpdated time.Time
	// oldestPending is when the oldest change not yet synced arrived;
	// zero when every change is synced.
	oldestPending time.Time
	nodeEligible  bool
}

func newHealth(clk clock.PassiveClock, timeout time.Duration, m *metrics) *health {
	// The node is eligible while kube-proxy starts, until the Node says
	// otherwise.
	return &health{clock: clk, timeout: timeout, metrics: m, nodeEligible: true}
}

// QueuedUpdate records that a change awaits a sync.
func (h *health) QueuedUpdate() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.oldestPending.IsZero() {
		h.oldestPending = h.clock.Now()
	}
}

// Updated records a successful sync.
func (h *health) Updated() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.oldestPending = time.Time{}
	h.lastUpdated = h.clock.Now()
}

// SyncNode records whether the node is about to go away.
func (h *health) SyncNode(node *corev1.Node) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nodeEligible = nodeEligible(node)
}

func nodeEligible(node *corev1.Node) bool {
	if node == nil || !node.DeletionTimestamp.IsZero() {
		return false
	}
	for _, t := range node.Spec.Taints {
		if t.Key == toBeDeletedTaint {
			return false
		}
	}
	return true
}

// state is (healthy, lastUpdated, nodeEligible).
func (h *health) state() (bool, time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	healthy := h.oldestPending.IsZero() || h.clock.Since(h.oldestPending) < h.timeout
	return healthy, h.lastUpdated, h.nodeEligible
}

// handler serves /healthz (withNode: the node's eligibility counts) or
// /livez, with upstream's status codes and JSON body. A healthy answer
// reports the current time as lastUpdated, as upstream's does for
// compatibility with clients that check its age.
func (h *health) handler(withNode bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		healthy, lastUpdated, eligible := h.state()
		now := h.clock.Now()
		if withNode {
			healthy = healthy && eligible
		}
		code := http.StatusServiceUnavailable
		if healthy {
			code = http.StatusOK
			lastUpdated = now
		}
		counter := h.metrics.livezResponses
		if withNode {
			counter = h.metrics.healthzResponses
		}
		counter.WithLabelValues(strconv.Itoa(code)).Inc()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(code)
		if withNode {
			fmt.Fprintf(w, `{"lastUpdated": %q,"currentTime": %q, "nodeEligible": %v}`, lastUpdated, now, eligible)
			return
		}
		fmt.Fprintf(w, `{"lastUpdated": %q,"currentTime": %q}`, lastUpdated, now)
	})
}

// healthMux serves upstream's health endpoints (healthzBindAddress, :10256).
func healthMux(h *health) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/healthz", h.handler(true))
	mux.Handle("/livez", h.handler(false))
	return mux
}
