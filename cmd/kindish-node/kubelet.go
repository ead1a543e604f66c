package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/kindish/kindish/nodeagent/kubelet"
)

// runKubelet is every node's kubelet, started by the init. Its flags are
// upstream's, as kubeadm writes them into kubeadm-flags.env; flags that
// only tune upstream's own machinery are accepted and ignored.
func runKubelet(ctx context.Context, args []string) error {
	o := kubelet.Defaults()
	fs := flag.NewFlagSet("kubelet", flag.ContinueOnError)
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig to reach the API server as system:node:<node>")
	fs.StringVar(&o.RuntimeEndpoint, "container-runtime-endpoint", o.RuntimeEndpoint, "the CRI runtime's socket")
	fs.StringVar(&o.NodeName, "hostname-override", "", "the node's name (default: the hostname)")
	fs.StringVar(&o.NodeIP, "node-ip", "", "the node's InternalIP")
	labels := fs.String("node-labels", "", "labels to register the node with (k=v,...)")
	taints := fs.String("register-with-taints", "", "taints to register the node with (key[=value]:Effect,...)")
	fs.StringVar(&o.PodManifestPath, "pod-manifest-path", o.PodManifestPath, "directory of static pod manifests")
	fs.StringVar(&o.RootDir, "root-dir", o.RootDir, "directory of the pods' volumes")
	clusterDNS := fs.String("cluster-dns", "", "the cluster DNS service's IPs, comma-separated")
	fs.StringVar(&o.ClusterDomain, "cluster-domain", o.ClusterDomain, "the cluster's DNS domain")
	fs.StringVar(&o.ResolvConf, "resolv-conf", o.ResolvConf, "resolver configuration that dnsPolicy Default pods get")
	fs.StringVar(&o.Address, "address", o.Address, "address of the kubelet API")
	fs.IntVar(&o.Port, "port", o.Port, "port of the kubelet API")
	fs.StringVar(&o.TLSCertFile, "tls-cert-file", "", "the kubelet API's serving certificate")
	fs.StringVar(&o.TLSKeyFile, "tls-private-key-file", "", "the serving certificate's key")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", "", "CA of the clients the kubelet API accepts")
	fs.IntVar(&o.MaxPods, "max-pods", o.MaxPods, "pods this node takes")
	logLevel := fs.String("v", "0", "log verbosity: 0 warnings, 1 info, 2 and more debug")
	for _, name := range []string{
		"config", "bootstrap-kubeconfig", "pod-infra-container-image", "provider-id", "fail-swap-on",
		"cgroup-root", "cgroup-driver", "runtime-cgroups", "feature-gates",
	} {
		fs.String(name, "", "accepted for kubeadm-style flags; kindish's kubelet has no such setting")
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: kubelet [flags]\n\nThe node agent: registers the node, runs its pods through containerd's CRI, serves their logs and exec.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var err error
	if o.NodeLabels, err = kubelet.ParseLabels(*labels); err != nil {
		return err
	}
	if o.RegisterWithTaints, err = kubelet.ParseTaints(*taints); err != nil {
		return err
	}
	if *clusterDNS != "" {
		o.ClusterDNS = strings.Split(*clusterDNS, ",")
	}
	if o.NodeName == "" {
		if o.NodeName, err = os.Hostname(); err != nil {
			return fmt.Errorf("node name: %w", err)
		}
	}
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevelOf(*logLevel)}))
	return kubelet.Run(ctx, o)
}
