package testbox

import (
	"fmt"
	"sync"
	"time"
)

// health is what /healthz reports. Readiness and liveness tests need it to
// start unhealthy, to turn unhealthy on a timer (agnhost's liveness does),
// and to be flipped at run time; so it is a schedule fixed at start that an
// explicit request overrides.
type health struct {
	now       func() time.Time
	healthyAt time.Time // before it, still starting (--healthz-delay)
	failAt    time.Time // from it on, failing (--healthz-fail-after); zero: never
	failAfter time.Duration

	mu       sync.Mutex
	override healthOverride
}

type healthOverride int

const (
	followSchedule healthOverride = iota
	forcedHealthy
	forcedFailing
)

// newHealth starts the schedule at now(): unhealthy for delay, then healthy,
// then failing from failAfter on when failAfter is positive.
func newHealth(now func() time.Time, delay, failAfter time.Duration) *health {
	start := now()
	h := &health{now: now, healthyAt: start.Add(delay), failAfter: failAfter}
	if failAfter > 0 {
		h.failAt = start.Add(failAfter)
	}
	return h
}

// check reports whether the server is healthy and, when it is not, why: a
// probe's failure message should tell the person reading events what
// made it fail.
func (h *health) check() (healthy bool, reason string) {
	h.mu.Lock()
	override := h.override
	h.mu.Unlock()
	switch override {
	case forcedFailing:
		return false, "failing: made unhealthy through /healthz/fail"
	case forcedHealthy:
		return true, "ok"
	}
	now := h.now()
	if now.Before(h.healthyAt) {
		return false, fmt.Sprintf("starting: healthy in %v (--healthz-delay)", h.healthyAt.Sub(now).Round(time.Millisecond))
	}
	if !h.failAt.IsZero() && !now.Before(h.failAt) {
		return false, fmt.Sprintf("failing: %v after start, as --healthz-fail-after asks", h.failAfter)
	}
	return true, "ok"
}

// set overrides the schedule for good: a test that flips the state expects
// it to stay where it put it.
func (h *health) set(healthy bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if healthy {
		h.override = forcedHealthy
	} else {
		h.override = forcedFailing
	}
}
