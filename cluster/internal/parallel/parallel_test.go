package parallel

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestForEachRunsEveryItemConcurrently(t *testing.T) {
	// Each call waits for all the others to have started: this only
	// finishes when the calls really overlap.
	const n = 8
	var started atomic.Int32
	err := ForEach(make([]int, n), func(int, int) error {
		started.Add(1)
		deadline := time.Now().Add(5 * time.Second)
		for started.Load() < n {
			if time.Now().After(deadline) {
				return errors.New("calls did not overlap")
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestForEachJoinsEveryError(t *testing.T) {
	errA, errB := errors.New("a failed"), errors.New("b failed")
	err := ForEach([]error{errA, nil, errB}, func(_ int, e error) error { return e })
	if !errors.Is(err, errA) || !errors.Is(err, errB) {
		t.Fatalf("want both errors, got %v", err)
	}
	if err := All(func() error { return nil }); err != nil {
		t.Fatalf("no failures must give nil, got %v", err)
	}
}
