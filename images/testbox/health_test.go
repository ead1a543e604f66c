package testbox

import (
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestHealthSchedule(t *testing.T) {
	type step struct {
		after       time.Duration // since start
		wantHealthy bool
		wantReason  string
	}
	tests := []struct {
		name             string
		delay, failAfter time.Duration
		steps            []step
	}{
		{name: "healthy from the start by default", steps: []step{
			{0, true, "ok"},
			{time.Hour, true, "ok"},
		}},
		{name: "delay keeps it starting, then healthy for good", delay: 3 * time.Second, steps: []step{
			{0, false, "starting: healthy in 3s"},
			{2 * time.Second, false, "starting: healthy in 1s"},
			{3 * time.Second, true, "ok"},
			{time.Hour, true, "ok"},
		}},
		{name: "fail-after turns it unhealthy on time, as agnhost liveness", failAfter: 10 * time.Second, steps: []step{
			{0, true, "ok"},
			{9 * time.Second, true, "ok"},
			{10 * time.Second, false, "failing: 10s after start"},
			{time.Hour, false, "failing: 10s after start"},
		}},
		{name: "delay then fail-after", delay: time.Second, failAfter: 5 * time.Second, steps: []step{
			{0, false, "starting"},
			{time.Second, true, "ok"},
			{5 * time.Second, false, "failing"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			clock := &fakeClock{t: start}
			h := newHealth(clock.now, tt.delay, tt.failAfter)
			for _, s := range tt.steps {
				clock.t = start.Add(s.after)
				healthy, reason := h.check()
				if healthy != s.wantHealthy || !strings.Contains(reason, s.wantReason) {
					t.Errorf("at %v: got %v %q, want %v and a reason containing %q", s.after, healthy, reason, s.wantHealthy, s.wantReason)
				}
			}
		})
	}
}

func TestHealthOverrideBeatsSchedule(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	h := newHealth(clock.now, time.Minute, 2*time.Minute)

	h.set(true) // a test that cannot wait out the delay
	if healthy, _ := h.check(); !healthy {
		t.Fatal("/healthz/ok during the start-up delay: still unhealthy")
	}
	clock.advance(3 * time.Minute) // past fail-after: the override holds
	if healthy, _ := h.check(); !healthy {
		t.Fatal("/healthz/ok: fail-after overrode it")
	}
	h.set(false)
	if healthy, reason := h.check(); healthy || !strings.Contains(reason, "/healthz/fail") {
		t.Fatalf("after /healthz/fail: got %v %q, want unhealthy naming /healthz/fail", healthy, reason)
	}
	h.set(true)
	if healthy, reason := h.check(); !healthy || reason != "ok" {
		t.Fatalf("after /healthz/ok again: got %v %q, want healthy", healthy, reason)
	}
}
