package replicaset

import (
	"errors"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

var errTest = errors.New("test failure")

func TestExpectationsHoldSyncsUntilObserved(t *testing.T) {
	tests := []struct {
		name  string
		steps func(e *expectations, clock *testingclock.FakeClock)
		want  bool
	}{
		{name: "never recorded", steps: func(*expectations, *testingclock.FakeClock) {}, want: true},
		{name: "creations pending", steps: func(e *expectations, _ *testingclock.FakeClock) {
			e.expectCreations("ns/rs", 2)
			e.creationObserved("ns/rs")
		}, want: false},
		{name: "creations all observed", steps: func(e *expectations, _ *testingclock.FakeClock) {
			e.expectCreations("ns/rs", 2)
			e.creationObserved("ns/rs")
			e.creationObserved("ns/rs")
		}, want: true},
		{name: "deletion of another pod does not count", steps: func(e *expectations, _ *testingclock.FakeClock) {
			e.expectDeletions("ns/rs", []string{"ns/a"})
			e.deletionObserved("ns/rs", "ns/b")
		}, want: false},
		{name: "a deletion observed twice counts once", steps: func(e *expectations, _ *testingclock.FakeClock) {
			e.expectDeletions("ns/rs", []string{"ns/a", "ns/b"})
			e.deletionObserved("ns/rs", "ns/a")
			e.deletionObserved("ns/rs", "ns/a")
		}, want: false},
		{name: "deletions all observed", steps: func(e *expectations, _ *testingclock.FakeClock) {
			e.expectDeletions("ns/rs", []string{"ns/a", "ns/b"})
			e.deletionObserved("ns/rs", "ns/a")
			e.deletionObserved("ns/rs", "ns/b")
		}, want: true},
		{name: "expired after five minutes", steps: func(e *expectations, clock *testingclock.FakeClock) {
			e.expectCreations("ns/rs", 3)
			clock.Step(expectationsTimeout + time.Second)
		}, want: true},
		{name: "forgotten", steps: func(e *expectations, _ *testingclock.FakeClock) {
			e.expectCreations("ns/rs", 3)
			e.forget("ns/rs")
		}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testingclock.NewFakeClock(testNow)
			e := newExpectations(clock)
			tt.steps(e, clock)
			if got := e.satisfied("ns/rs"); got != tt.want {
				t.Errorf("satisfied = %v, want %v", got, tt.want)
			}
		})
	}
}
