package kindnetd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
)

// route is a unicast route of the main table: Dst via Gateway, out of the
// interface LinkIndex (0 when the kernel picks it from the gateway, as
// `ip route replace <dst> via <gateway>` lets it).
type route struct {
	Dst       netip.Prefix
	Gateway   netip.Addr
	LinkIndex int
}

func (r route) String() string {
	if !r.Gateway.IsValid() {
		return fmt.Sprintf("%s dev #%d", r.Dst, r.LinkIndex)
	}
	return fmt.Sprintf("%s via %s", r.Dst, r.Gateway)
}

// routeTable is the node's main routing table, as far as kindnetd needs it.
type routeTable interface {
	// List returns the unicast routes of the main table, of every family.
	List(ctx context.Context) ([]route, error)
	// Replace adds the route, or replaces the one to the same
	// destination: `ip route replace`.
	Replace(ctx context.Context, r route) error
	// Delete removes the route; a route already gone is not an error.
	Delete(ctx context.Context, r route) error
}

// nodeRoutes are the routes this node needs: one to every other node's
// pod ranges, via that node's InternalIP of the range's family. Nodes
// without a range or an address yet get none, until they have them.
func nodeRoutes(log *slog.Logger, nodes []*corev1.Node, self func(*corev1.Node) bool) []route {
	var out []route
	for _, node := range nodes {
		if self(node) {
			continue
		}
		cidrs, err := podCIDRs(node)
		if err != nil {
			log.Warn("ignoring node's pod CIDR", "node", node.Name, "err", err)
			continue
		}
		if len(cidrs) == 0 {
			log.Debug("node has no pod CIDR yet", "node", node.Name)
			continue
		}
		for _, cidr := range cidrs {
			ip, ok := internalIP(node, cidr.Addr().Is4())
			if !ok {
				log.Debug("node has no InternalIP for its pod CIDR yet", "node", node.Name, "podCIDR", cidr)
				continue
			}
			out = append(out, route{Dst: cidr, Gateway: ip})
		}
	}
	return out
}

// podCIDRs are the node's pod ranges: spec.podCIDRs, or spec.podCIDR
// from a writer that only sets the older field.
func podCIDRs(node *corev1.Node) ([]netip.Prefix, error) {
	list := node.Spec.PodCIDRs
	if len(list) == 0 && node.Spec.PodCIDR != "" {
		list = []string{node.Spec.PodCIDR}
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// internalIP is the node's first InternalIP of the family asked for.
func internalIP(node *corev1.Node, is4 bool) (netip.Addr, bool) {
	for _, a := range node.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		ip, err := netip.ParseAddr(a.Address)
		if err != nil {
			continue
		}
		if ip = ip.Unmap(); ip.Is4() == is4 {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

// syncRoutes makes the routes kindnetd owns the wanted ones. It owns the
// routes into the pod ranges that go through a gateway: the ptp plugin's
// routes to this node's own pods have none, so they are never touched,
// and a route left by a node that is gone, or that changed its address,
// is removed.
func syncRoutes(ctx context.Context, log *slog.Logger, table routeTable, have []route, podSubnets []netip.Prefix, want []route) error {
	type key struct {
		dst netip.Prefix
		gw  netip.Addr
	}
	present := map[key]bool{}
	var owned []route
	for _, r := range have {
		if r.Gateway.IsValid() && insideAny(r.Dst, podSubnets) {
			present[key{r.Dst, r.Gateway}] = true
			owned = append(owned, r)
		}
	}
	wanted := map[key]bool{}
	var errs []error
	for _, r := range want {
		k := key{r.Dst, r.Gateway}
		if wanted[k] {
			continue
		}
		wanted[k] = true
		if present[k] {
			continue
		}
		log.Info("adding route", "route", r.String())
		if err := table.Replace(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("replace route %s: %w", r, err))
		}
	}
	for _, r := range owned {
		if wanted[key{r.Dst, r.Gateway}] {
			continue
		}
		log.Info("removing route", "route", r.String())
		if err := table.Delete(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("delete route %s: %w", r, err))
		}
	}
	return errors.Join(errs...)
}

// insideAny says whether p lies within one of the ranges.
func insideAny(p netip.Prefix, ranges []netip.Prefix) bool {
	for _, r := range ranges {
		if p.Addr().Is4() == r.Addr().Is4() && p.Bits() >= r.Bits() && r.Contains(p.Addr()) {
			return true
		}
	}
	return false
}
