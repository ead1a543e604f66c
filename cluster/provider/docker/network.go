package docker

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/errdefs"

	"github.com/kindish/kindish/cluster/provider"
)

// EnsureNetwork returns the kindish network, creating it when missing.
//
// The network gets an explicit subnet because Docker only accepts static
// container addresses on such networks, and nodes need static addresses: the
// certificates name them, and they must survive `docker restart` of every
// node at once (kind's clusters famously lose theirs).
func (p *Provider) EnsureNetwork(ctx context.Context) (provider.Network, error) {
	nw, err := p.inspectNetwork(ctx)
	if err == nil {
		return nw, nil
	}
	if !errdefs.IsNotFound(err) {
		return provider.Network{}, err
	}
	subnet, err := p.freeSubnet(ctx)
	if err != nil {
		return provider.Network{}, err
	}
	gateway := subnet.Addr().Next()
	_, err = p.docker.NetworkCreate(ctx, NetworkName, network.CreateOptions{
		Driver: "bridge",
		IPAM: &network.IPAM{Config: []network.IPAMConfig{{
			Subnet:  subnet.String(),
			Gateway: gateway.String(),
		}}},
		Options: map[string]string{
			// Nodes reach the outside (and each other's published ports)
			// through the host, like on Docker's default bridge.
			"com.docker.network.bridge.enable_ip_masquerade": "true",
		},
		Labels: map[string]string{"io.kindish.network": "true"},
	})
	if err != nil && !errdefs.IsConflict(err) {
		return provider.Network{}, fmt.Errorf("create network %s: %w", NetworkName, err)
	}
	// A concurrent kindish may have won the race: read back what exists.
	return p.inspectNetwork(ctx)
}

func (p *Provider) inspectNetwork(ctx context.Context) (provider.Network, error) {
	res, err := p.docker.NetworkInspect(ctx, NetworkName, network.InspectOptions{})
	if err != nil {
		return provider.Network{}, err
	}
	for _, cfg := range res.IPAM.Config {
		subnet, err := netip.ParsePrefix(cfg.Subnet)
		if err != nil || !subnet.Addr().Is4() {
			continue
		}
		gw, err := netip.ParseAddr(cfg.Gateway)
		if err != nil {
			gw = subnet.Addr().Next()
		}
		return provider.Network{Name: NetworkName, Subnet: subnet, Gateway: gw}, nil
	}
	return provider.Network{}, fmt.Errorf("network %s has no IPv4 subnet; remove it (docker network rm %s) and kindish recreates it", NetworkName, NetworkName)
}

// freeSubnet picks the first /16 of Docker's default pool that neither
// another Docker network nor a host interface uses.
func (p *Provider) freeSubnet(ctx context.Context) (netip.Prefix, error) {
	var used []netip.Prefix
	networks, err := p.docker.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range networks {
		for _, cfg := range n.IPAM.Config {
			if pfx, err := netip.ParsePrefix(cfg.Subnet); err == nil {
				used = append(used, pfx)
			}
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if pfx, err := netip.ParsePrefix(a.String()); err == nil {
				used = append(used, pfx.Masked())
			}
		}
	}
	return pickSubnet(used)
}

func pickSubnet(used []netip.Prefix) (netip.Prefix, error) {
	for second := 18; second <= 31; second++ {
		candidate := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(second), 0, 0}), 16)
		if !overlapsAny(candidate, used) {
			return candidate, nil
		}
	}
	for third := 0; third < 256; third += 16 {
		candidate := netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(third), 0}), 20)
		if !overlapsAny(candidate, used) {
			return candidate, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free private subnet for network %s: every 172.18-31.0.0/16 and 192.168.x.0/20 is in use", NetworkName)
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if p.Overlaps(u) {
			return true
		}
	}
	return false
}

// AllocateIPs returns n addresses of the network that no container claims,
// running or stopped: a stopped node keeps its static address and must get
// it back when it starts again.
func (p *Provider) AllocateIPs(ctx context.Context, nw provider.Network, n int) ([]netip.Addr, error) {
	containers, err := p.docker.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("network", nw.Name)),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers on network %s: %w", nw.Name, err)
	}
	taken := map[netip.Addr]bool{nw.Gateway: true}
	for _, c := range containers {
		if c.NetworkSettings == nil {
			continue
		}
		if ep := c.NetworkSettings.Networks[nw.Name]; ep != nil {
			for _, s := range []string{ep.IPAddress, ipamAddress(ep)} {
				if a, err := netip.ParseAddr(s); err == nil {
					taken[a] = true
				}
			}
		}
	}
	return freeAddrs(nw, taken, n)
}

func ipamAddress(ep *network.EndpointSettings) string {
	if ep.IPAMConfig == nil {
		return ""
	}
	return ep.IPAMConfig.IPv4Address
}

func freeAddrs(nw provider.Network, taken map[netip.Addr]bool, n int) ([]netip.Addr, error) {
	var out []netip.Addr
	// Skip the network address itself; stop before the broadcast address.
	for a := nw.Subnet.Addr().Next(); nw.Subnet.Contains(a.Next()) && len(out) < n; a = a.Next() {
		if !taken[a] {
			out = append(out, a)
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("network %s (%s) has no %d free addresses", nw.Name, nw.Subnet, n)
	}
	return out, nil
}
