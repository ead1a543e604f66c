package kubelet

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Options are the kubelet's settings, named after upstream's flags.
type Options struct {
	// Kubeconfig reaches the API server as system:node:<NodeName>.
	Kubeconfig string
	// RuntimeEndpoint is containerd's CRI socket (unix:///run/containerd/containerd.sock).
	RuntimeEndpoint string
	// NodeName is the Node's name; empty is the hostname.
	NodeName string
	// NodeIP is the node's InternalIP, and hostNetwork pods' IP.
	NodeIP string
	// NodeLabels and RegisterWithTaints are set when the Node is registered.
	NodeLabels         map[string]string
	RegisterWithTaints []corev1.Taint
	// PodManifestPath holds the static pods' manifests.
	PodManifestPath string
	// RootDir holds the pods' volumes (/var/lib/kubelet).
	RootDir string
	// PodLogsDir holds the containers' logs (/var/log/pods).
	PodLogsDir string
	// ClusterDNS and ClusterDomain configure the pods' DNS.
	ClusterDNS    []string
	ClusterDomain string
	// ResolvConf is the node's resolver configuration, which pods with
	// dnsPolicy Default (and hostNetwork pods) get.
	ResolvConf string
	// The kubelet API: its address and port, serving certificate, and the
	// CA of the clients (the API server) it accepts.
	Address      string
	Port         int
	TLSCertFile  string
	TLSKeyFile   string
	ClientCAFile string
	MaxPods      int

	Log *slog.Logger
}

// Defaults are upstream's defaults, at kubeadm's paths.
func Defaults() Options {
	return Options{
		Kubeconfig:      "/etc/kubernetes/kubelet.conf",
		RuntimeEndpoint: "unix:///run/containerd/containerd.sock",
		PodManifestPath: "/etc/kubernetes/manifests",
		RootDir:         "/var/lib/kubelet",
		PodLogsDir:      "/var/log/pods",
		ClusterDomain:   "cluster.local",
		ResolvConf:      "/etc/resolv.conf",
		Address:         "0.0.0.0",
		Port:            10250,
		MaxPods:         110,
	}
}

func (o Options) validate() error {
	if o.NodeIP != "" {
		if _, err := netip.ParseAddr(o.NodeIP); err != nil {
			return fmt.Errorf("--node-ip %q: %w", o.NodeIP, err)
		}
	}
	for _, s := range o.ClusterDNS {
		if _, err := netip.ParseAddr(s); err != nil {
			return fmt.Errorf("--cluster-dns %q: %w", s, err)
		}
	}
	if !strings.HasPrefix(o.RuntimeEndpoint, "unix://") && !strings.HasPrefix(o.RuntimeEndpoint, "/") {
		return fmt.Errorf("--container-runtime-endpoint %q: only unix sockets are supported", o.RuntimeEndpoint)
	}
	if o.MaxPods <= 0 {
		return fmt.Errorf("--max-pods %d: must be positive", o.MaxPods)
	}
	return nil
}

// ParseLabels reads --node-labels: k=v pairs separated by commas.
func ParseLabels(s string) (map[string]string, error) {
	labels := map[string]string{}
	if s == "" {
		return labels, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--node-labels: %q is not key=value", kv)
		}
		labels[k] = v
	}
	return labels, nil
}

// ParseTaints reads --register-with-taints: key[=value]:Effect, separated
// by commas.
func ParseTaints(s string) ([]corev1.Taint, error) {
	var taints []corev1.Taint
	if s == "" {
		return nil, nil
	}
	for _, spec := range strings.Split(s, ",") {
		kv, effect, ok := strings.Cut(spec, ":")
		if !ok {
			return nil, fmt.Errorf("--register-with-taints: %q has no effect (key[=value]:Effect)", spec)
		}
		switch corev1.TaintEffect(effect) {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return nil, fmt.Errorf("--register-with-taints: %q: unknown effect %q", spec, effect)
		}
		key, value, _ := strings.Cut(kv, "=")
		if key == "" {
			return nil, fmt.Errorf("--register-with-taints: %q has no key", spec)
		}
		taints = append(taints, corev1.Taint{Key: key, Value: value, Effect: corev1.TaintEffect(effect)})
	}
	return taints, nil
}
