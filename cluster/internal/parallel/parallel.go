// Package parallel is the one place where kindish fans work out: creating
// nodes, loading images onto nodes, collecting logs. Keeping goroutines here
// keeps the rest of the code sequential and easy to read.
package parallel

import (
	"errors"
	"sync"
)

// ForEach calls fn for every item concurrently, waits for all of them, and
// returns every error joined (nil when all succeeded). Callers that need a
// partial result keep it in a slice indexed by i, which is race-free.
func ForEach[T any](items []T, fn func(i int, item T) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, item := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i, item)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// All runs the functions concurrently and returns every error joined.
func All(fns ...func() error) error {
	return ForEach(fns, func(_ int, fn func() error) error { return fn() })
}
