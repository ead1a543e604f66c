package pki

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// DefaultServiceSubnet is used when Options.ServiceSubnet is empty; its first
// address, 10.96.0.1, is the ClusterIP of the "kubernetes" Service.
const DefaultServiceSubnet = "10.96.0.0/16"

// Node is one node of the cluster as the PKI sees it.
type Node struct {
	// Name is the node's name, and the container's hostname.
	Name string
	// IP is the node's address on the cluster network; the API server, etcd
	// and the kubelet are reached on it, so it goes into their certificates.
	IP           net.IP
	ControlPlane bool
}

// Options are the inputs to Generate.
type Options struct {
	Nodes []Node
	// ServiceSubnet is a CIDR; its first address is the API server's
	// in-cluster address. Empty means DefaultServiceSubnet.
	ServiceSubnet string
	// APIServerAddress is where the host reaches the API server. It is added
	// to the API server's certificate unless it is empty or unspecified
	// (0.0.0.0 or ::), which only means "listen everywhere".
	APIServerAddress string
	// Now returns the time certificates start from; nil means time.Now.
	Now func() time.Time
}

func (o Options) validate() error {
	if len(o.Nodes) == 0 {
		return errors.New("no nodes")
	}
	seen := make(map[string]bool, len(o.Nodes))
	controlPlanes := 0
	for i, n := range o.Nodes {
		if n.Name == "" {
			return fmt.Errorf("node %d: empty name", i)
		}
		if seen[n.Name] {
			return fmt.Errorf("node %s: listed twice", n.Name)
		}
		seen[n.Name] = true
		if addr, ok := netip.AddrFromSlice(n.IP); !ok || addr.Unmap().IsUnspecified() {
			return fmt.Errorf("node %s: no valid IP address", n.Name)
		}
		if n.ControlPlane {
			controlPlanes++
		}
	}
	if controlPlanes == 0 {
		return errors.New("no control-plane node")
	}
	return nil
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}
