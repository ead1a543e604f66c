// Command testbox is the test server of the kindish/testbox image, in the
// spirit of Kubernetes' agnhost: testbox serve (alias netexec), hostname,
// dns-lookup, dial, wait-for, kube-pods, sleep, exit, env, cat. Everything but the process
// itself lives in images/testbox; main only hands it the signals,
// standard streams and exit status.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kindish/kindish/images/testbox"
)

func main() {
	// The container's PID 1 gets no default action for SIGTERM: without
	// this handler, the kubelet's stop would wait out the grace period and
	// kill. With it, serve shuts down and sleep returns, both with status 0.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := testbox.Run(ctx, testbox.Process{Stdout: os.Stdout, Stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}
