package runner

import (
	"context"
	"errors"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

const (
	minInterval   = time.Second
	retryInterval = 5 * time.Second
	maxInterval   = 30 * time.Second
)

// harness runs a runner on a fake clock and records fn's calls.
type harness struct {
	t      *testing.T
	clock  *clocktesting.FakeClock
	runner *BoundedFrequencyRunner
	calls  chan struct{}
	// results are what fn returns, in order; nil once exhausted.
	results chan error
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{
		t:       t,
		clock:   clocktesting.NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)),
		calls:   make(chan struct{}, 10),
		results: make(chan error, 10),
	}
	r, err := New(func(context.Context) error {
		h.calls <- struct{}{}
		select {
		case err := <-h.results:
			return err
		default:
			return nil
		}
	}, minInterval, retryInterval, maxInterval, h.clock)
	if err != nil {
		t.Fatal(err)
	}
	h.runner = r
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Loop(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	h.waitArmed()
	return h
}

// waitArmed waits until the loop waits on its timers, so that stepping the
// clock reaches them.
func (h *harness) waitArmed() {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !h.clock.HasWaiters() {
		if time.Now().After(deadline) {
			h.t.Fatal("runner never armed its timers")
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) expectCall(why string) {
	h.t.Helper()
	select {
	case <-h.calls:
	case <-time.After(5 * time.Second):
		h.t.Fatalf("%s: fn did not run", why)
	}
	h.waitArmed()
}

func (h *harness) expectNoCall(why string) {
	h.t.Helper()
	select {
	case <-h.calls:
		h.t.Fatalf("%s: fn ran", why)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestRunnerRunsAtOnceWhenIdle(t *testing.T) {
	h := newHarness(t)
	h.runner.Run()
	h.expectCall("first request")
}

func TestRunnerCoalescesRequestsWithinMinInterval(t *testing.T) {
	h := newHarness(t)
	h.runner.Run()
	h.expectCall("first request")

	h.runner.Run()
	h.runner.Run()
	h.runner.Run()
	h.expectNoCall("requests right after a run")
	h.clock.Step(minInterval / 2)
	h.expectNoCall("half of minInterval later")
	h.clock.Step(minInterval / 2)
	h.expectCall("minInterval after the run")
	h.clock.Step(minInterval)
	h.expectNoCall("the three requests were one")
}

func TestRunnerRunsEveryMaxIntervalUnasked(t *testing.T) {
	h := newHarness(t)
	h.clock.Step(maxInterval - time.Millisecond)
	h.expectNoCall("before maxInterval")
	h.clock.Step(time.Millisecond)
	h.expectCall("maxInterval without requests")
	h.clock.Step(minInterval)
	h.waitArmed()
	h.clock.Step(maxInterval - minInterval)
	h.expectCall("maxInterval after the previous run")
}

func TestRunnerRetriesFailedRunAfterRetryInterval(t *testing.T) {
	h := newHarness(t)
	h.results <- errors.New("iptables-restore failed")
	h.runner.Run()
	h.expectCall("first request")
	h.clock.Step(minInterval)
	h.waitArmed()
	h.clock.Step(retryInterval - minInterval - time.Millisecond)
	h.expectNoCall("before retryInterval")
	h.clock.Step(time.Millisecond)
	h.expectCall("retry after a failure")
	// The retry succeeded: nothing more until maxInterval.
	h.clock.Step(minInterval)
	h.waitArmed()
	h.clock.Step(retryInterval)
	h.expectNoCall("no retry after a success")
}

func TestNewRefusesMaxIntervalShorterThanMinInterval(t *testing.T) {
	if _, err := New(func(context.Context) error { return nil }, time.Minute, time.Second, time.Second, nil); err == nil {
		t.Fatal("New accepted maxInterval < minInterval")
	}
}

func TestRunBeforeLoopIsServedWhenLoopStarts(t *testing.T) {
	calls := make(chan struct{}, 1)
	r, err := New(func(context.Context) error { calls <- struct{}{}; return nil }, minInterval, retryInterval, maxInterval, clocktesting.NewFakeClock(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	r.Run()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Loop(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case <-calls:
	case <-time.After(5 * time.Second):
		t.Fatal("request made before Loop was lost")
	}
}
