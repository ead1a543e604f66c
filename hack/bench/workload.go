package main

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
)

// workloadImages builds the images the pods and network groups run
// (`kindish build images`: busybox, nginx, testbox) at most once a run, in
// the background. On a machine that has never built them that is a
// minute of debootstrap, which the cluster group hides in its first idle
// minute, when nothing is timed and the footprint it awaits is memory the
// build does not touch; on any other machine it finds them up to date in
// a second.
type workloadImages struct {
	kindish string
	once    sync.Once
	done    chan struct{}
	err     error
}

// start begins the build unless it has begun.
func (w *workloadImages) start(ctx context.Context) {
	w.once.Do(func() {
		w.done = make(chan struct{})
		go func() {
			defer close(w.done)
			// ctx is the run's: the build outlives the group that
			// started it, and stops with the run.
			out, err := exec.CommandContext(ctx, w.kindish, "build", "images").CombinedOutput()
			if err != nil {
				w.err = fmt.Errorf("build images: %w\n%s", err, out)
			}
		}()
	})
}

// wait starts the build unless it has begun, and waits for it to end.
func (w *workloadImages) wait(ctx context.Context) error {
	w.start(ctx)
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
