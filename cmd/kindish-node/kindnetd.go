package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/kindish/kindish/nodeagent/kindnetd"
)

// runKindnetd is every node's kindnetd, run by the kindnet DaemonSet: the
// node's CNI config, routes to the other nodes' pods, masquerading. Its
// settings come from the environment, as kind's.
func runKindnetd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("kindnetd", flag.ContinueOnError)
	logLevel := fs.String("v", "0", "log verbosity: 0 warnings, 1 info, 2 and more debug")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: kindnetd [flags]\n\nThe node's pod network: CNI config, routes to the other nodes' pods, masquerade.\nSettings come from NODE_NAME, HOST_IP, POD_IP, POD_SUBNET, SERVICE_SUBNET and CONTROL_PLANE_ENDPOINT.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o := kindnetd.OptionsFromEnv(os.Getenv)
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevelOf(*logLevel)}))
	return kindnetd.Run(ctx, o)
}
