package create

import (
	"fmt"
	"maps"
	"net/netip"
	"path"
	"slices"
	"strings"

	"github.com/kindish/kindish/cluster/manifests"
	"github.com/kindish/kindish/cluster/pki"
	nodeinit "github.com/kindish/kindish/nodeagent/init"
)

// Cluster addresses every kubelet is told about, as kind's kubeadm config
// sets them.
const (
	clusterDomain = "cluster.local"
	// kubeletPort is upstream's kubelet API port.
	kubeletPort = 10250
	// manifestsDir holds a control-plane node's static pods.
	manifestsDir = "/etc/kubernetes/manifests"
)

const (
	controlPlaneRoleLabel = "node-role.kubernetes.io/control-plane"
	controlPlaneTaint     = controlPlaneRoleLabel + ":NoSchedule"
)

// kubeletFlags are node n's kubelet flags, upstream's, in the order
// kubeadm writes them. The node's init reads them from
// nodeinit.KubeletFlagsFile.
func kubeletFlags(c *Context, n PlannedNode) ([]string, error) {
	dns, err := clusterDNSAddress(c.Options.Config.Networking.ServiceSubnet)
	if err != nil {
		return nil, err
	}
	labels := maps.Clone(n.Config.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	if n.ControlPlane() {
		labels[controlPlaneRoleLabel] = ""
	}
	var labelList []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		labelList = append(labelList, k+"="+labels[k])
	}
	flags := []string{
		"--kubeconfig=/etc/kubernetes/kubelet.conf",
		"--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
		"--hostname-override=" + n.Name,
		"--node-ip=" + n.IP.String(),
		"--node-labels=" + strings.Join(labelList, ","),
		"--pod-manifest-path=" + manifestsDir,
		"--cluster-dns=" + dns,
		"--cluster-domain=" + clusterDomain,
		"--client-ca-file=" + pki.CACertPath,
		"--tls-cert-file=" + pki.KubeletServingCertPath,
		"--tls-private-key-file=" + pki.KubeletServingKeyPath,
		fmt.Sprintf("--port=%d", kubeletPort),
	}
	// As kubeadm: control planes take no workloads while workers exist.
	if n.ControlPlane() && hasWorkers(c.Nodes) {
		flags = append(flags, "--register-with-taints="+controlPlaneTaint)
	}
	return flags, nil
}

func hasWorkers(nodes []PlannedNode) bool {
	for _, n := range nodes {
		if !n.ControlPlane() {
			return true
		}
	}
	return false
}

// kubeletFiles is the flags file of node n's kubelet.
func kubeletFiles(c *Context, n PlannedNode) (map[string]pki.File, error) {
	flags, err := kubeletFlags(c, n)
	if err != nil {
		return nil, fmt.Errorf("kubelet flags for node %s: %w", n.Name, err)
	}
	files := map[string]pki.File{nodeinit.KubeletFlagsFile: {Mode: 0o644, Data: nodeinit.FormatKubeletFlags(flags)}}
	if n.ControlPlane() {
		static, err := controlPlaneManifests(c, n)
		if err != nil {
			return nil, err
		}
		maps.Copy(files, static)
	}
	return files, nil
}

// clusterDNSAddress is kubeadm's choice for the DNS Service: the tenth
// address of the service range (10.96.0.10). Validation made sure the
// range holds it.
func clusterDNSAddress(serviceSubnet string) (string, error) {
	prefix, err := netip.ParsePrefix(serviceSubnet)
	if err != nil {
		return "", fmt.Errorf("service subnet %q: %w", serviceSubnet, err)
	}
	addr := prefix.Masked().Addr()
	for range 10 {
		addr = addr.Next()
	}
	if !prefix.Contains(addr) {
		return "", fmt.Errorf("service subnet %q has no tenth address for the cluster DNS", serviceSubnet)
	}
	return addr.String(), nil
}

// controlPlaneManifests are the static pods of control-plane node n, at
// /etc/kubernetes/manifests: its kubelet starts the control plane from
// them.
func controlPlaneManifests(c *Context, n PlannedNode) (map[string]pki.File, error) {
	cfg := c.Options.Config
	// The components' extraArgs from the config's kubeadm patches.
	extraArgs, err := cfg.ControlPlaneExtraArgs(n.Name)
	if err != nil {
		return nil, fmt.Errorf("control-plane manifests for node %s: %w", n.Name, err)
	}
	rendered, err := manifests.ControlPlane(manifests.Params{
		NodeName:      n.Name,
		NodeIP:        n.IP.String(),
		APIServerPort: APIServerPort,
		ServiceCIDR:   cfg.Networking.ServiceSubnet,
		PodCIDR:       cfg.Networking.PodSubnet,
		ClusterName:   cfg.Name,
		ExtraArgs:     extraArgs,
	})
	if err != nil {
		return nil, fmt.Errorf("control-plane manifests for node %s: %w", n.Name, err)
	}
	files := map[string]pki.File{}
	for name, data := range rendered {
		files[path.Join(manifestsDir, name)] = pki.File{Mode: 0o600, Data: data}
	}
	return files, nil
}
