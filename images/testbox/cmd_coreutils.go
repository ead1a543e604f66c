package testbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"time"
)

// The subcommands below stand in for the shell and coreutils the image
// does not have: enough for pod specs to sleep, exit, and show their
// environment, hostname and volumes.

func runHostname(_ context.Context, p Process, args []string) error {
	fs := newFlagSet(p, "hostname", "Print the hostname: in a pod, the pod's name or spec.hostname.")
	if _, err := parseArgs(fs, args, 0, 0); err != nil {
		return err
	}
	name, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("get hostname: %w", err)
	}
	fmt.Fprintln(p.Stdout, name)
	return nil
}

func runSleep(ctx context.Context, p Process, args []string) error {
	fs := newFlagSet(p, "sleep DURATION", `Sleep for DURATION: a Go duration (90s, 1h30m), seconds as sleep(1) takes
them (3600), or "infinity". SIGTERM ends it early with status 0.`)
	positional, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	d, err := parseSleep(positional[0])
	if err != nil {
		return usageErrorf(fs, "DURATION: %v", err)
	}
	if d < 0 { // infinity
		<-ctx.Done()
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return nil
}

// parseSleep reads what sleep accepts; -1 stands for infinity.
func parseSleep(s string) (time.Duration, error) {
	if s == "infinity" || s == "inf" {
		return -1, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("want 0 or more, got %q", s)
		}
		return d, nil
	}
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || secs < 0 || math.IsNaN(secs) {
		return 0, fmt.Errorf("want a duration such as 30s, seconds or infinity, got %q", s)
	}
	if secs >= math.MaxInt64/float64(time.Second) {
		return -1, nil // longer than anyone waits
	}
	return time.Duration(secs * float64(time.Second)), nil
}

func runExit(_ context.Context, p Process, args []string) error {
	fs := newFlagSet(p, "exit CODE", "Exit with status CODE (0-255): for restart-policy and failed-pod tests.")
	positional, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	code, err := strconv.Atoi(positional[0])
	if err != nil || code < 0 || code > 255 {
		return usageErrorf(fs, "CODE: want 0-255, got %q", positional[0])
	}
	return &ExitError{Code: code}
}

func runEnv(_ context.Context, p Process, args []string) error {
	fs := newFlagSet(p, "env", "Print the environment, one NAME=value a line, sorted.")
	if _, err := parseArgs(fs, args, 0, 0); err != nil {
		return err
	}
	env := os.Environ()
	slices.Sort(env)
	for _, kv := range env {
		fmt.Fprintln(p.Stdout, kv)
	}
	return nil
}

// runCat prints every file it can, like cat(1): one missing file does not
// hide the others, but the status says something was missing.
func runCat(_ context.Context, p Process, args []string) error {
	fs := newFlagSet(p, "cat FILE...", "Print the files, one after the other.")
	files, err := parseArgs(fs, args, 1, -1)
	if err != nil {
		return err
	}
	failed := false
	for _, name := range files {
		if err := copyFile(p.Stdout, name); err != nil {
			fmt.Fprintf(p.Stderr, "testbox cat: %v\n", err)
			failed = true
		}
	}
	if failed {
		return &ExitError{Code: 1} // each failure is reported above
	}
	return nil
}

func copyFile(w io.Writer, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err // "open NAME: no such file or directory"
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		var pathErr *os.PathError
		if errors.As(err, &pathErr) {
			return err // "read NAME: is a directory"
		}
		return fmt.Errorf("copy %s: %w", name, err)
	}
	return nil
}
