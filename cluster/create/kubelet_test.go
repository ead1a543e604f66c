package create

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/kindish/kindish/cluster/config"
	nodeinit "github.com/kindish/kindish/nodeagent/init"
)

func plannedCluster(t *testing.T, roles ...config.NodeRole) *Context {
	t.Helper()
	cfg := &config.Cluster{Name: "t"}
	for _, r := range roles {
		cfg.Nodes = append(cfg.Nodes, config.Node{Role: r})
	}
	cfg.Nodes[0].Labels = map[string]string{"tier": "front"}
	config.SetDefaults(cfg, "kindish/node:test")
	c := &Context{Options: Options{Config: cfg}}
	addr := netip.MustParseAddr("172.18.0.2")
	for i, name := range config.NodeNames(cfg) {
		c.Nodes = append(c.Nodes, PlannedNode{Name: name, Config: cfg.Nodes[i], IP: addr})
		addr = addr.Next()
	}
	return c
}

func TestKubeletFlags(t *testing.T) {
	c := plannedCluster(t, config.ControlPlaneRole, config.WorkerRole)
	cp, err := kubeletFlags(c, c.Nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	worker, err := kubeletFlags(c, c.Nodes[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"--node-ip=172.18.0.2",
		"--hostname-override=t-control-plane",
		"--node-labels=node-role.kubernetes.io/control-plane=,tier=front",
		"--register-with-taints=node-role.kubernetes.io/control-plane:NoSchedule",
		"--cluster-dns=10.96.0.10",
		"--cluster-domain=cluster.local",
	} {
		if !slices.Contains(cp, want) {
			t.Errorf("control-plane kubelet flags %q lack %s", cp, want)
		}
	}
	for _, flag := range worker {
		if strings.HasPrefix(flag, "--register-with-taints") || strings.Contains(flag, "control-plane") {
			t.Errorf("worker kubelet flag %s belongs to control planes", flag)
		}
	}

	// A lone control plane takes workloads, as kind's does.
	alone := plannedCluster(t, config.ControlPlaneRole)
	flags, err := kubeletFlags(alone, alone.Nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, flag := range flags {
		if strings.HasPrefix(flag, "--register-with-taints") {
			t.Errorf("a single-node cluster's control plane is tainted: %s", flag)
		}
	}
}

func TestKubeletFilesCarryTheControlPlaneManifests(t *testing.T) {
	c := plannedCluster(t, config.ControlPlaneRole, config.WorkerRole)
	cp, err := kubeletFiles(c, c.Nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager"} {
		f, ok := cp["/etc/kubernetes/manifests/"+name+".yaml"]
		if !ok {
			t.Errorf("control plane lacks the %s manifest", name)
			continue
		}
		if usesIP := name == "etcd" || name == "kube-apiserver"; usesIP && !strings.Contains(string(f.Data), "172.18.0.2") {
			t.Errorf("%s manifest does not use the node's IP", name)
		}
	}
	if _, ok := cp[nodeinit.KubeletFlagsFile]; !ok {
		t.Error("control plane lacks the kubelet flags")
	}
	worker, err := kubeletFiles(c, c.Nodes[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(worker) != 1 {
		t.Errorf("worker files = %v, want only the kubelet flags", slices.Sorted(maps.Keys(worker)))
	}
}

func TestClusterDNSAddressIsTheTenthOfTheServiceRange(t *testing.T) {
	for subnet, want := range map[string]string{"10.96.0.0/16": "10.96.0.10", "10.100.0.0/24": "10.100.0.10", "fd00:10:96::/112": "fd00:10:96::a"} {
		if got, err := clusterDNSAddress(subnet); err != nil || got != want {
			t.Errorf("clusterDNSAddress(%s) = %s, %v; want %s", subnet, got, err, want)
		}
	}
}

func TestClusterAddonsFollowTheNetworkingConfig(t *testing.T) {
	names := func(c *Context) []string {
		var out []string
		for _, a := range clusterAddons(c) {
			out = append(out, a.Name)
		}
		return out
	}
	c := plannedCluster(t, config.ControlPlaneRole)
	if got := names(c); !slices.Equal(got, []string{"kindnetd", "kube-proxy", "coredns"}) {
		t.Errorf("default addons = %v, want kindnetd, kube-proxy and coredns, in that order", got)
	}
	c.Options.Config.Networking.DisableDefaultCNI = true
	c.Options.Config.Networking.KubeProxyMode = config.NoneProxyMode
	if got := names(c); !slices.Equal(got, []string{"coredns"}) {
		t.Errorf("with disableDefaultCNI and kubeProxyMode none, addons = %v, want only coredns", got)
	}
}
