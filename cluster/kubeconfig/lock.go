package kubeconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// The lock is the sibling file "<kubeconfig>.lock", created with
// O_CREATE|O_EXCL, rather than flock: it is the lock client-go's clientcmd
// takes (so kubectl config ...) and kind takes, so kindish also excludes
// those tools, which flock on any file would not. Its weakness is a lock
// left behind by a process that died; writers hold it for milliseconds, so
// one older than staleLockAge is taken to be such a leftover and removed.
const (
	lockTimeout  = 10 * time.Second
	staleLockAge = 30 * time.Second
	lockRetry    = 10 * time.Millisecond
)

func lockName(path string) string {
	return path + ".lock"
}

// lock takes path's lock, creating path's directory if needed, and returns
// the function that releases it.
func lock(path string) (unlock func() error, err error) {
	return acquire(path, lockTimeout, staleLockAge)
}

func acquire(path string, timeout, staleAfter time.Duration) (func() error, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock kubeconfig %s: %w", path, err)
	}
	name := lockName(path)
	deadline := time.Now().Add(timeout)
	for {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			if err := f.Close(); err != nil {
				return nil, fmt.Errorf("lock kubeconfig %s: %w", path, err)
			}
			return func() error { return unlock(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock kubeconfig %s: %w", path, err)
		}
		if lockGone(name, staleAfter) {
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock kubeconfig %s: %s still held after %v; remove it if no kubectl, kind or kindish is writing the file", path, name, timeout)
		}
		// Jitter keeps waiters that woke together from colliding again.
		time.Sleep(lockRetry + rand.N(lockRetry))
	}
}

// lockGone reports whether the lock file name is gone: released since the
// last try, or removed here because it is older than staleAfter. Two waiters
// could both judge the same leftover stale and the second remove the first's
// fresh lock; that needs a crash first and then both to act within
// microseconds, which we accept.
func lockGone(name string, staleAfter time.Duration) bool {
	info, err := os.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if err != nil || time.Since(info.ModTime()) < staleAfter {
		return false
	}
	err = os.Remove(name)
	return err == nil || errors.Is(err, fs.ErrNotExist)
}

func unlock(path string) error {
	if err := os.Remove(lockName(path)); err != nil {
		return fmt.Errorf("unlock kubeconfig %s: %w", path, err)
	}
	return nil
}
