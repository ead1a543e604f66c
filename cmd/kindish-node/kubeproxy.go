package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/kindish/kindish/nodeagent/kubeproxy"
)

// runKubeProxy is every node's kube-proxy, run by the kube-proxy
// DaemonSet with kubeadm's flags.
func runKubeProxy(ctx context.Context, args []string) error {
	var o kubeproxy.Options
	fs := flag.NewFlagSet("kube-proxy", flag.ContinueOnError)
	fs.StringVar(&o.ConfigFile, "config", "", "KubeProxyConfiguration file (kube-proxy ConfigMap's config.conf)")
	fs.StringVar(&o.HostnameOverride, "hostname-override", "", "the node's name (default: the hostname)")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig to reach the API server (default: the configuration file's)")
	logLevel := fs.String("v", "0", "log verbosity: 0 warnings, 1 info, 2 and more debug")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: kube-proxy [flags]\n\nService virtual IPs through iptables: ClusterIP, NodePort, session affinity.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevelOf(*logLevel)}))
	return kubeproxy.Run(ctx, o)
}
