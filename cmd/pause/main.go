// Command pause is the process that holds a pod sandbox's namespaces open.
// containerd starts it as the first process of every pod (the CRI
// sandbox_image). It does nothing but wait for SIGINT or SIGTERM, and, when
// it is PID 1 of a pod that shares one PID namespace, reaps the orphans that
// get reparented to it so that they do not pile up as zombies.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kindish/kindish/cluster/version"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-v", "--version":
			fmt.Printf("pause (kindish) %s\n", version.Version)
			return
		default:
			fmt.Fprintf(os.Stderr, "usage: %s [-v]\n", os.Args[0])
			os.Exit(2)
		}
	}
	if os.Getpid() != 1 {
		// Still useful (tests, a pod without a shared PID namespace looks
		// the same from inside), but orphans are not ours to reap then.
		fmt.Fprintln(os.Stderr, "pause: warning: not PID 1")
	}

	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "pause: shutting down on %v\n", sig)
		os.Exit(0)
	}
}

// reap collects every child that has exited and returns how many it
// collected. Signals coalesce, so one SIGCHLD may stand for many exits: loop
// until nothing is left.
func reap() int {
	n := 0
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return n
		}
		n++
	}
}
