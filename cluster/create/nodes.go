package create

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"

	"github.com/kindish/kindish/cluster/config"
	"github.com/kindish/kindish/cluster/internal/parallel"
	"github.com/kindish/kindish/cluster/kubeconfig"
	"github.com/kindish/kindish/cluster/pki"
	"github.com/kindish/kindish/cluster/provider"
	nodeinit "github.com/kindish/kindish/nodeagent/init"
)

// APIServerPort is the port the API server listens on inside its node.
const APIServerPort = 6443

// PlannedNode is a node of the config with the name and address it gets.
type PlannedNode struct {
	Name   string
	Config config.Node
	IP     netip.Addr
}

// ControlPlane reports whether the node runs the control plane.
func (n PlannedNode) ControlPlane() bool { return n.Config.Role == config.ControlPlaneRole }

// ensureImages makes every node image present, building ours when missing.
func ensureImages(ctx context.Context, c *Context) error {
	seen := map[string]bool{}
	for _, n := range c.Options.Config.Nodes {
		if seen[n.Image] {
			continue
		}
		seen[n.Image] = true
		if err := c.Options.EnsureImage(ctx, n.Image); err != nil {
			return err
		}
	}
	return nil
}

// createNodes plans names and addresses, generates the PKI for them, and
// creates and starts every node container in parallel, its files copied in
// as it boots.
func createNodes(ctx context.Context, c *Context) error {
	cfg := c.Options.Config
	network, err := c.Provider.EnsureNetwork(ctx)
	if err != nil {
		return err
	}
	c.Network = network
	ips, err := c.Provider.AllocateIPs(ctx, network, len(cfg.Nodes))
	if err != nil {
		return err
	}
	names := config.NodeNames(cfg)
	for i, n := range cfg.Nodes {
		c.Nodes = append(c.Nodes, PlannedNode{Name: names[i], Config: n, IP: ips[i]})
	}
	if c.PKI, err = generatePKI(c); err != nil {
		return err
	}
	specs := make([]provider.NodeSpec, len(c.Nodes))
	for i, n := range c.Nodes {
		if specs[i], err = nodeSpec(c, n, i == firstControlPlane(c.Nodes)); err != nil {
			return err
		}
	}
	return parallel.ForEach(specs, func(_ int, spec provider.NodeSpec) error {
		return c.Provider.CreateNode(ctx, spec)
	})
}

func firstControlPlane(nodes []PlannedNode) int {
	for i, n := range nodes {
		if n.ControlPlane() {
			return i
		}
	}
	return -1
}

func generatePKI(c *Context) (*pki.Bundle, error) {
	var nodes []pki.Node
	for _, n := range c.Nodes {
		nodes = append(nodes, pki.Node{Name: n.Name, IP: net.IP(n.IP.AsSlice()), ControlPlane: n.ControlPlane()})
	}
	b, err := pki.Generate(pki.Options{
		Nodes:            nodes,
		ServiceSubnet:    c.Options.Config.Networking.ServiceSubnet,
		APIServerAddress: c.Options.Config.Networking.APIServerAddress,
	})
	if err != nil {
		return nil, fmt.Errorf("generate certificates: %w", err)
	}
	return b, nil
}

// nodeSpec is one node's container: its ports, mounts and files.
func nodeSpec(c *Context, n PlannedNode, publishAPIServer bool) (provider.NodeSpec, error) {
	spec := provider.NodeSpec{
		Name:    n.Name,
		Cluster: c.Options.Config.Name,
		Role:    string(n.Config.Role),
		Image:   n.Config.Image,
		IP:      n.IP,
	}
	if publishAPIServer {
		spec.Ports = append(spec.Ports, provider.PortMapping{
			ListenAddress: c.APIServer.Address,
			HostPort:      c.APIServer.Port,
			ContainerPort: APIServerPort,
			Protocol:      "TCP",
		})
	}
	for _, pm := range n.Config.ExtraPortMappings {
		spec.Ports = append(spec.Ports, provider.PortMapping{
			ListenAddress: pm.ListenAddress,
			HostPort:      int(pm.HostPort),
			ContainerPort: int(pm.ContainerPort),
			Protocol:      string(pm.Protocol),
		})
	}
	for _, m := range n.Config.ExtraMounts {
		spec.Mounts = append(spec.Mounts, provider.Mount{
			HostPath:      m.HostPath,
			ContainerPath: m.ContainerPath,
			ReadOnly:      m.Readonly,
			Propagation:   string(m.Propagation),
		})
	}
	extra, err := nodeKubeconfigs(c, n)
	if err != nil {
		return spec, err
	}
	kubelet, err := kubeletFiles(c, n)
	if err != nil {
		return spec, err
	}
	maps.Copy(extra, kubelet)
	maps.Copy(extra, c.RegistryFiles)
	if spec.Files, err = c.PKI.NodeTar(n.Name, extra); err != nil {
		return spec, fmt.Errorf("files for node %s: %w", n.Name, err)
	}
	spec.FilesCopied = nodeinit.FilesCopiedFile
	return spec, nil
}

// nodeKubeconfigs are the kubeconfigs the node's components use, at
// kubeadm's paths. They reach the API server at the control plane's fixed
// address, which needs no DNS.
func nodeKubeconfigs(c *Context, n PlannedNode) (map[string]pki.File, error) {
	cp := c.Nodes[firstControlPlane(c.Nodes)]
	server := "https://" + net.JoinHostPort(cp.IP.String(), fmt.Sprint(APIServerPort))
	users := map[string]string{"/etc/kubernetes/kubelet.conf": pki.NodeUser(n.Name)}
	if n.ControlPlane() {
		users["/etc/kubernetes/admin.conf"] = pki.AdminUser
		users["/etc/kubernetes/controller-manager.conf"] = pki.ControllerManagerUser
		users["/etc/kubernetes/scheduler.conf"] = pki.SchedulerUser
	}
	files := map[string]pki.File{}
	for path, user := range users {
		cert, key, err := c.PKI.Client(user)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s for node %s: %w", path, n.Name, err)
		}
		data, err := kubeconfig.Bytes(kubeconfig.Build(c.Options.Config.Name, server, c.PKI.CACert(), cert, key))
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s for node %s: %w", path, n.Name, err)
		}
		files[path] = pki.File{Mode: 0o600, Data: data}
	}
	return files, nil
}
