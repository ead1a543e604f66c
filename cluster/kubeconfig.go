package cluster

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kindish/kindish/cluster/create"
	"github.com/kindish/kindish/cluster/kubeconfig"
	"github.com/kindish/kindish/cluster/provider"
)

// adminKubeconfigPath is where every control-plane node keeps the admin's
// kubeconfig, as kubeadm does.
const adminKubeconfigPath = "/etc/kubernetes/admin.conf"

// Kubeconfig returns the cluster's admin kubeconfig, read from its control
// plane. It points at the port published on the host, or with internal at
// the control plane's name on the kindish network (for clients in other
// containers on that network).
func (m *Manager) Kubeconfig(ctx context.Context, name string, internal bool) ([]byte, error) {
	name = m.ResolveName(name)
	cp, err := m.controlPlane(ctx, name)
	if err != nil {
		return nil, err
	}
	raw, err := m.provider.ReadFile(ctx, cp.Name, adminKubeconfigPath)
	if err != nil {
		return nil, err
	}
	cfg, err := clientcmd.Load(raw)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of cluster %s: %w", name, err)
	}
	server := "https://" + net.JoinHostPort(cp.Name, strconv.Itoa(create.APIServerPort))
	if !internal {
		host, port, err := m.provider.HostPort(ctx, cp.Name, create.APIServerPort)
		if err != nil {
			return nil, err
		}
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		server = "https://" + net.JoinHostPort(host, strconv.Itoa(port))
	}
	for _, c := range cfg.Clusters {
		c.Server = server
	}
	return kubeconfig.Bytes(cfg)
}

// ExportKubeconfig merges the cluster's kubeconfig into the user's file and
// returns the file's path.
func (m *Manager) ExportKubeconfig(ctx context.Context, name, path string, internal bool) (string, error) {
	data, err := m.Kubeconfig(ctx, name, internal)
	if err != nil {
		return "", err
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return "", err
	}
	path = kubeconfig.Path(path)
	return path, kubeconfig.Merge(path, cfg)
}

func (m *Manager) controlPlane(ctx context.Context, name string) (provider.Node, error) {
	nodes, err := m.provider.ListNodes(ctx, name)
	if err != nil {
		return provider.Node{}, err
	}
	if len(nodes) == 0 {
		return provider.Node{}, fmt.Errorf("no cluster named %q (kindish get clusters lists them)", name)
	}
	for _, n := range nodes {
		if n.Role == "control-plane" {
			return n, nil
		}
	}
	return provider.Node{}, fmt.Errorf("cluster %q has no control-plane node", name)
}
