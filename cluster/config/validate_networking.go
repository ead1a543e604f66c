package config

import (
	"fmt"
	"math/bits"
	"net/netip"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	// nodePodPrefix is the size of the pod range the controller manager
	// gives each node (kube-controller-manager's --node-cidr-mask-size).
	nodePodPrefix = 24
	// maxServicePrefix keeps the service range big enough for the cluster
	// DNS Service, which takes the range's tenth address (10.96.0.10).
	maxServicePrefix = 28
)

func validateNetworking(n *Networking, nodes int, p *field.Path) field.ErrorList {
	var errs field.ErrorList

	switch n.IPFamily {
	case IPv4Family, "":
	default:
		e := field.NotSupported(p.Child("ipFamily"), string(n.IPFamily), []ClusterIPFamily{IPv4Family})
		if n.IPFamily == IPv6Family || n.IPFamily == DualStackFamily {
			e.Detail += " (kindish supports IPv4 clusters only)"
		}
		errs = append(errs, e)
	}

	switch n.KubeProxyMode {
	case IPTablesProxyMode, NoneProxyMode, "":
	default:
		e := field.NotSupported(p.Child("kubeProxyMode"), string(n.KubeProxyMode), []ProxyMode{IPTablesProxyMode, NoneProxyMode})
		if n.KubeProxyMode == IPVSProxyMode || n.KubeProxyMode == NFTablesProxyMode {
			e.Detail += " (kindish's kube-proxy implements the iptables mode only)"
		}
		errs = append(errs, e)
	}

	switch _, err := netip.ParseAddr(n.APIServerAddress); {
	case n.APIServerAddress == "":
		errs = append(errs, field.Required(p.Child("apiServerAddress"), ""))
	case err != nil:
		errs = append(errs, field.Invalid(p.Child("apiServerAddress"), n.APIServerAddress, "must be an IP address"))
	}
	if !validHostPort(n.APIServerPort) {
		errs = append(errs, field.Invalid(p.Child("apiServerPort"), n.APIServerPort, hostPortRule))
	}

	pods, podErrs := parseIPv4CIDR(n.PodSubnet, p.Child("podSubnet"))
	errs = append(errs, podErrs...)
	services, serviceErrs := parseIPv4CIDR(n.ServiceSubnet, p.Child("serviceSubnet"))
	errs = append(errs, serviceErrs...)

	if pods.IsValid() {
		if longest := maxPodPrefix(nodes); pods.Bits() > longest {
			errs = append(errs, field.Invalid(p.Child("podSubnet"), n.PodSubnet,
				fmt.Sprintf("too small for %d node(s): each node gets a /%d of it, so it must be a /%d or larger",
					max(nodes, 1), nodePodPrefix, longest)))
		}
	}
	if services.IsValid() && services.Bits() > maxServicePrefix {
		errs = append(errs, field.Invalid(p.Child("serviceSubnet"), n.ServiceSubnet,
			fmt.Sprintf("must be a /%d or larger: the cluster DNS Service takes the tenth address of the range", maxServicePrefix)))
	}
	if pods.IsValid() && services.IsValid() && pods.Overlaps(services) {
		errs = append(errs, field.Invalid(p.Child("serviceSubnet"), n.ServiceSubnet,
			fmt.Sprintf("overlaps networking.podSubnet (%s): pod and Service addresses must not be confused", n.PodSubnet)))
	}
	return errs
}

// parseIPv4CIDR returns the masked prefix, or the zero Prefix and the
// problem.
func parseIPv4CIDR(s string, p *field.Path) (netip.Prefix, field.ErrorList) {
	if s == "" {
		return netip.Prefix{}, field.ErrorList{field.Required(p, "")}
	}
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, field.ErrorList{field.Invalid(p, s, "must be a single IPv4 CIDR, such as 10.244.0.0/16")}
	}
	if !prefix.Addr().Is4() {
		return netip.Prefix{}, field.ErrorList{field.Invalid(p, s, "must be an IPv4 CIDR (kindish supports IPv4 clusters only)")}
	}
	return prefix.Masked(), nil
}

// maxPodPrefix is the longest pod subnet prefix that still holds a /24 for
// each of the nodes: 24 - ceil(log2(nodes)).
func maxPodPrefix(nodes int) int {
	if nodes <= 1 {
		return nodePodPrefix
	}
	return nodePodPrefix - bits.Len(uint(nodes-1))
}
