package config

import (
	"fmt"
	"maps"
	"net/netip"
	"path"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedRoles        = []NodeRole{ControlPlaneRole, WorkerRole}
	supportedProtocols    = []PortMappingProtocol{PortMappingProtocolTCP, PortMappingProtocolUDP, PortMappingProtocolSCTP}
	supportedPropagations = []MountPropagation{MountPropagationNone, MountPropagationHostToContainer, MountPropagationBidirectional}
)

func validateNode(n *Node, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !slices.Contains(supportedRoles, n.Role) {
		errs = append(errs, field.NotSupported(p.Child("role"), string(n.Role), supportedRoles))
	}
	if n.Image == "" {
		errs = append(errs, field.Required(p.Child("image"), "no image given and no default image"))
	}
	errs = append(errs, validateLabels(n.Labels, p.Child("labels"))...)
	for i := range n.ExtraMounts {
		errs = append(errs, validateMount(&n.ExtraMounts[i], p.Child("extraMounts").Index(i))...)
	}
	for i := range n.ExtraPortMappings {
		errs = append(errs, validatePortMapping(&n.ExtraPortMappings[i], p.Child("extraPortMappings").Index(i))...)
	}
	return errs
}

// validateLabels applies the Kubernetes label rules, since the labels end up
// on the Node object and the API server would refuse them later, with a
// less helpful message.
func validateLabels(labels map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(p, k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(labels[k]) {
			errs = append(errs, field.Invalid(p.Key(k), labels[k], msg))
		}
	}
	return errs
}

// validateMount requires absolute paths: the container engine takes them as
// they are, and a relative host path would depend on where kindish runs.
func validateMount(m *Mount, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name, value string
	}{{"hostPath", m.HostPath}, {"containerPath", m.ContainerPath}} {
		switch {
		case f.value == "":
			errs = append(errs, field.Required(p.Child(f.name), ""))
		case !path.IsAbs(f.value):
			errs = append(errs, field.Invalid(p.Child(f.name), f.value, "must be an absolute path"))
		}
	}
	if m.Propagation != "" && !slices.Contains(supportedPropagations, m.Propagation) {
		errs = append(errs, field.NotSupported(p.Child("propagation"), string(m.Propagation), supportedPropagations))
	}
	return errs
}

// validatePortMapping checks one mapping on its own; conflicts between
// mappings are validatePortConflicts' job.
func validatePortMapping(pm *PortMapping, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsValidPortNum(int(pm.ContainerPort)) {
		errs = append(errs, field.Invalid(p.Child("containerPort"), pm.ContainerPort, msg))
	}
	if !validHostPort(pm.HostPort) {
		errs = append(errs, field.Invalid(p.Child("hostPort"), pm.HostPort, hostPortRule))
	}
	if pm.ListenAddress != "" {
		if _, err := netip.ParseAddr(pm.ListenAddress); err != nil {
			errs = append(errs, field.Invalid(p.Child("listenAddress"), pm.ListenAddress, "must be an IP address"))
		}
	}
	if pm.Protocol != "" && !slices.Contains(supportedProtocols, pm.Protocol) {
		errs = append(errs, field.NotSupported(p.Child("protocol"), string(pm.Protocol), supportedProtocols))
	}
	return errs
}

// hostPortRule explains the range of host ports. kind's -1 is not in it:
// SetDefaults has already turned it into 0.
const hostPortRule = "must be between 0 and 65535, inclusive (0 picks a free port)"

func validHostPort(port int32) bool {
	return port >= 0 && port <= 65535
}

// binding is one host address, port and protocol that something listens on.
type binding struct {
	path  *field.Path
	addr  netip.Addr // the zero Addr means every address
	port  int32
	proto PortMappingProtocol
}

func (b binding) String() string {
	addr := netip.IPv4Unspecified()
	if b.addr.IsValid() {
		addr = b.addr
	}
	return fmt.Sprintf("%s/%s", netip.AddrPortFrom(addr, uint16(b.port)), b.proto)
}

// validatePortConflicts reports host ports that two things would listen on:
// two port mappings (on any nodes), or a port mapping and the API server.
// Docker would refuse the second container much later, halfway through
// creating the cluster. As in kind, 0.0.0.0 (or ::) conflicts with every
// address on the same port and protocol, and picked ports (0) never
// conflict.
func validatePortConflicts(c *Cluster) field.ErrorList {
	var errs field.ErrorList
	var bound []binding
	add := func(b binding) {
		for _, prev := range bound {
			if prev.port != b.port || prev.proto != b.proto {
				continue
			}
			switch {
			case prev.addr == b.addr:
				e := field.Duplicate(b.path, b.String())
				e.Detail = "already mapped by " + prev.path.String()
				errs = append(errs, e)
				return
			case !prev.addr.IsValid() || !b.addr.IsValid():
				errs = append(errs, field.Invalid(b.path, b.String(),
					fmt.Sprintf("conflicts with %s (%s): 0.0.0.0 listens on every host address", prev.path, prev)))
				return
			}
		}
		bound = append(bound, b)
	}

	if api := c.Networking; api.APIServerPort > 0 && validHostPort(api.APIServerPort) {
		if addr, ok := bindAddr(api.APIServerAddress); ok {
			add(binding{path: field.NewPath("networking", "apiServerPort"), addr: addr, port: api.APIServerPort, proto: PortMappingProtocolTCP})
		}
	}
	for i, n := range c.Nodes {
		for j, pm := range n.ExtraPortMappings {
			if pm.HostPort <= 0 || !validHostPort(pm.HostPort) {
				continue
			}
			addr, ok := bindAddr(pm.ListenAddress)
			if !ok {
				continue // reported by validatePortMapping
			}
			proto := pm.Protocol
			if proto == "" {
				proto = PortMappingProtocolTCP
			}
			add(binding{path: field.NewPath("nodes").Index(i).Child("extraPortMappings").Index(j), addr: addr, port: pm.HostPort, proto: proto})
		}
	}
	return errs
}

// bindAddr parses a listen address; "", 0.0.0.0 and :: all mean every
// address and become the zero Addr.
func bindAddr(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	if a.IsUnspecified() {
		return netip.Addr{}, true
	}
	return a.Unmap(), true
}
