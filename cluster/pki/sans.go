package pki

import (
	"fmt"
	"net"
	"net/netip"
)

// apiServerDNSNames are the names pods and the host use for the API server;
// the cluster domain is fixed to cluster.local, as CoreDNS is configured.
var apiServerDNSNames = []string{
	"kubernetes",
	"kubernetes.default",
	"kubernetes.default.svc",
	"kubernetes.default.svc.cluster.local",
	"localhost",
}

// apiServerSANs returns the API server certificate's names and addresses.
// One certificate serves every control-plane node, so it names all of them:
// kubeadm issues one per node only because it learns of nodes one at a time.
func apiServerSANs(opts Options, serviceIP net.IP) ([]string, []net.IP) {
	dns := append([]string(nil), apiServerDNSNames...)
	ips := []net.IP{net.IPv4(127, 0, 0, 1), serviceIP}
	for _, n := range opts.Nodes {
		if n.ControlPlane {
			dns = append(dns, n.Name)
			ips = append(ips, n.IP)
		}
	}
	if addr := opts.APIServerAddress; addr != "" {
		if ip := net.ParseIP(addr); ip == nil {
			dns = append(dns, addr)
		} else if !ip.IsUnspecified() {
			ips = append(ips, ip)
		}
	}
	return uniqueStrings(dns), uniqueIPs(ips)
}

// nodeSANs are etcd's: clients reach it on loopback, peers on the node IP.
func nodeSANs(n Node) ([]string, []net.IP) {
	return uniqueStrings([]string{"localhost", n.Name}),
		uniqueIPs([]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, n.IP})
}

// firstIP returns the first usable address of cidr, which Kubernetes gives
// to the "kubernetes" Service.
func firstIP(cidr string) (net.IP, error) {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("service subnet %q: %w", cidr, err)
	}
	prefix = prefix.Masked()
	first := prefix.Addr().Next()
	if !first.IsValid() || !prefix.Contains(first) {
		return nil, fmt.Errorf("service subnet %q: too small", cidr)
	}
	return net.IP(first.AsSlice()), nil
}

func uniqueStrings(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// uniqueIPs drops repeats, comparing 4-byte and 16-byte forms as equal, and
// stores IPv4 addresses in 4 bytes as certificates usually carry them.
func uniqueIPs(in []net.IP) []net.IP {
	seen := make(map[netip.Addr]bool, len(in))
	var out []net.IP
	for _, ip := range in {
		addr, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		addr = addr.Unmap()
		if !seen[addr] {
			seen[addr] = true
			out = append(out, net.IP(addr.AsSlice()))
		}
	}
	return out
}
