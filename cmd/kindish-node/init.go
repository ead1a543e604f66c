package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	nodeinit "github.com/kindish/kindish/nodeagent/init"
)

// runInit is PID 1 of a node container.
func runInit(ctx context.Context, args []string) error {
	cfg := nodeinit.DefaultConfig()
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.StringVar(&cfg.LogDir, "log-dir", cfg.LogDir, "directory for the services' logs and init.log")
	fs.StringVar(&cfg.Images.Dir, "images-dir", cfg.Images.Dir, "image archives (*.tar) to import into containerd at boot; empty skips the import")
	fs.DurationVar(&cfg.StopTimeout, "stop-timeout", cfg.StopTimeout, "time to stop everything after SIGTERM; keep it below docker stop's timeout")
	notPID1 := fs.Bool("not-pid1", false, "run although this is not PID 1, e.g. to debug a node (it still mounts and starts containerd)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: init [flags]\n\nPID 1 of a kindish node: prepares the container, runs containerd and the node's services, reaps orphans.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// A second init in a running node would fight the first over
	// containerd's socket and state.
	if pid := os.Getpid(); pid != 1 && !*notPID1 {
		return fmt.Errorf("init runs as PID 1 of a node container, and this is PID %d (see -not-pid1)", pid)
	}
	// The kubelet's flags are among the files the host copies in once
	// the node runs.
	cfg.NeedFiles = func() ([]nodeinit.Service, error) {
		kubeletArgs, ok, err := nodeinit.ReadKubeletFlags(nodeinit.KubeletFlagsFile)
		if err != nil || !ok {
			return nil, err
		}
		return []nodeinit.Service{nodeinit.KubeletService(kubeletArgs)}, nil
	}
	return nodeinit.New(cfg).Run(ctx)
}
