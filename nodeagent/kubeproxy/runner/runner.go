// Package runner runs a function at a bounded frequency, as upstream's
// pkg/proxy/runner.BoundedFrequencyRunner does for kube-proxy's syncs:
// requests are coalesced, runs are at least minInterval apart, a failed
// run is retried after retryInterval, and a run happens at least every
// maxInterval even when nothing asks for one.
package runner

import (
	"context"
	"fmt"
	"time"

	"k8s.io/utils/clock"
)

// BoundedFrequencyRunner runs fn when asked, within its bounds.
type BoundedFrequencyRunner struct {
	fn                                      func(context.Context) error
	minInterval, retryInterval, maxInterval time.Duration
	clock                                   clock.Clock
	// run holds at most one pending request: requests made while one is
	// pending, or while a run waits out minInterval, fold into it.
	run chan struct{}
}

// New returns a runner for fn. maxInterval must not be shorter than
// minInterval. clk is the clock the intervals are measured on (a fake one
// in tests).
func New(fn func(context.Context) error, minInterval, retryInterval, maxInterval time.Duration, clk clock.Clock) (*BoundedFrequencyRunner, error) {
	if maxInterval < minInterval {
		return nil, fmt.Errorf("bounded frequency runner: maxInterval %v is shorter than minInterval %v", maxInterval, minInterval)
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &BoundedFrequencyRunner{
		fn:            fn,
		minInterval:   minInterval,
		retryInterval: retryInterval,
		maxInterval:   maxInterval,
		clock:         clk,
		run:           make(chan struct{}, 1),
	}, nil
}

// Run asks for a run as soon as the bounds allow. It never blocks; a
// request made before Loop starts is served once it does.
func (r *BoundedFrequencyRunner) Run() {
	select {
	case r.run <- struct{}{}:
	default:
	}
}

// Loop runs fn as requested until ctx ends.
func (r *BoundedFrequencyRunner) Loop(ctx context.Context) {
	retryTimer := r.clock.NewTimer(r.retryInterval)
	// Retries are armed only by a failure.
	stop(retryTimer)
	defer retryTimer.Stop()
	minTimer := r.clock.NewTimer(r.minInterval)
	defer minTimer.Stop()
	maxTimer := r.clock.NewTimer(r.maxInterval)
	defer maxTimer.Stop()

	for {
		select {
		case <-ctx.Done():
			return
		case <-maxTimer.C():
		case <-retryTimer.C():
		case <-r.run:
		}

		// Stopped while fn runs so that the intervals count from its
		// end, and so that a fake clock shows no waiters until fn is done.
		stop(minTimer)
		stop(maxTimer)
		stop(retryTimer)
		if err := r.fn(ctx); err != nil {
			retryTimer.Reset(r.retryInterval)
		}
		minTimer.Reset(r.minInterval)
		maxTimer.Reset(r.maxInterval)

		select {
		case <-ctx.Done():
			return
		case <-minTimer.C():
		}
	}
}

// stop stops a timer and drops a tick it may have fired but not delivered,
// so that a timer that fired during a run does not cause another one.
func stop(t clock.Timer) {
	if !t.Stop() {
		select {
		case <-t.C():
		default:
		}
	}
}
