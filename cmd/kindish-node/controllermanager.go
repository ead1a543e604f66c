package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/kindish/kindish/controlplane/controllers"
)

// runControllerManager is a control-plane node's kube-controller-manager,
// run as the static pod kube-controller-manager with kubeadm's flags.
func runControllerManager(ctx context.Context, args []string) error {
	o := controllers.DefaultOptions()
	fs := flag.NewFlagSet("kube-controller-manager", flag.ContinueOnError)
	o.AddFlags(fs)
	logLevel := fs.String("v", "0", "log verbosity: 0 warnings, 1 info, 2 and more debug")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: kube-controller-manager [flags]\n\nRuns the controllers that make the cluster's state follow its objects.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevelOf(*logLevel)}))
	return controllers.Run(ctx, o)
}
