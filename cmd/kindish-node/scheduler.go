package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/kindish/kindish/controlplane/scheduler"
)

// runScheduler is a control-plane node's kube-scheduler, run as the static
// pod kube-scheduler with kubeadm's flags.
func runScheduler(ctx context.Context, args []string) error {
	var o scheduler.Options
	fs := flag.NewFlagSet("kube-scheduler", flag.ContinueOnError)
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig to reach the API server (default: in-cluster)")
	fs.StringVar(&o.AuthenticationKubeconfig, "authentication-kubeconfig", "", "accepted for kubeadm's manifest; unused")
	fs.StringVar(&o.AuthorizationKubeconfig, "authorization-kubeconfig", "", "accepted for kubeadm's manifest; unused")
	fs.StringVar(&o.BindAddress, "bind-address", "127.0.0.1", "address of the health and metrics endpoints")
	fs.IntVar(&o.SecurePort, "secure-port", 10259, "HTTPS port of the health and metrics endpoints")
	fs.BoolVar(&o.LeaderElect, "leader-elect", true, "take the kube-system/kube-scheduler Lease before scheduling")
	logLevel := fs.String("v", "0", "log verbosity: 0 warnings, 1 info, 2 and more debug")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: kube-scheduler [flags]\n\nAssigns unbound pods to nodes: filter, score, bind.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevelOf(*logLevel)}))
	return scheduler.Run(ctx, o)
}
