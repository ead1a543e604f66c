// Package servicemap turns Services and EndpointSlices into what a proxy
// programs: one entry per service port, with the endpoints that back it.
// It follows upstream's pkg/proxy ServicePortMap and EndpointSliceCache:
// the same keys, the same endpoint conditions, the same ordering, so that
// chain names and rule order come out as upstream's.
package servicemap

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// DefaultStickyMaxAgeSeconds is sessionAffinity ClientIP's timeout when the
// Service does not set one: the API server's default, three hours.
const DefaultStickyMaxAgeSeconds = 10800

// ServicePortName names one port of one Service. Protocol is part of the
// key, as upstream's, because a Service may expose the same port name only
// once but EndpointSlices are matched to it by name and protocol.
type ServicePortName struct {
	types.NamespacedName
	Port     string
	Protocol corev1.Protocol
}

// String is upstream's ServicePortName.String: "ns/name" or "ns/name:port".
// It is hashed into chain names and written into rule comments.
func (n ServicePortName) String() string {
	if n.Port == "" {
		return n.NamespacedName.String()
	}
	return n.NamespacedName.String() + ":" + n.Port
}

// ServicePort is what a proxy needs of one port of a Service.
type ServicePort struct {
	Name      ServicePortName
	ClusterIP netip.Addr
	Port      int
	// NodePort is zero for ClusterIP services.
	NodePort int
	// StickyMaxAgeSeconds is sessionAffinity ClientIP's timeout, zero for
	// services without session affinity.
	StickyMaxAgeSeconds int
}

// Protocol is the port's protocol, TCP when the Service left it empty.
func (p ServicePort) Protocol() corev1.Protocol { return p.Name.Protocol }

// Endpoint is one backend of a service port, from an EndpointSlice.
type Endpoint struct {
	IP   netip.Addr
	Port int
	// The EndpointSlice conditions, with upstream's defaults for unset
	// ones: ready and serving unless said otherwise, not terminating.
	Ready, Serving, Terminating bool
	// Local is true when the endpoint runs on this node.
	Local bool
}

// String is "ip:port", as upstream's: it is hashed into KUBE-SEP chain
// names and is the DNAT destination.
func (e Endpoint) String() string {
	return netip.AddrPortFrom(e.IP, uint16(e.Port)).String()
}

// Snapshot is the proxy-relevant state of the cluster at one moment.
type Snapshot struct {
	Services map[ServicePortName]ServicePort
	// Endpoints are per service port, ordered by their String as
	// upstream orders them, and deduplicated by IP.
	Endpoints map[ServicePortName][]Endpoint
}

// SortedServicePorts returns the service ports ordered by name, so that a
// sync writes the same rules in the same order every time (upstream walks
// a map; the order is not part of its contract, stability is ours).
func (s Snapshot) SortedServicePorts() []ServicePort {
	ports := make([]ServicePort, 0, len(s.Services))
	for _, p := range s.Services {
		ports = append(ports, p)
	}
	slices.SortFunc(ports, func(a, b ServicePort) int {
		return cmp.Or(
			strings.Compare(a.Name.String(), b.Name.String()),
			strings.Compare(string(a.Name.Protocol), string(b.Name.Protocol)),
		)
	})
	return ports
}

// Usable returns the endpoints traffic may go to: the ready ones, or, when
// none is ready, the serving ones that are terminating, as upstream's
// CategorizeEndpoints does for the Cluster traffic policy.
func Usable(endpoints []Endpoint) []Endpoint {
	var usable []Endpoint
	for _, ep := range endpoints {
		if ep.Ready {
			usable = append(usable, ep)
		}
	}
	if len(usable) > 0 {
		return usable
	}
	for _, ep := range endpoints {
		if ep.Serving && ep.Terminating {
			usable = append(usable, ep)
		}
	}
	return usable
}

// Skipped says why a Service gets no rules, or "" when it gets some.
// Headless and ExternalName services are DNS-only; services with only an
// IPv6 ClusterIP belong to an IPv6 proxier, which kindish does not run.
func Skipped(svc *corev1.Service) string {
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		return "ExternalName service"
	case svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone:
		return "headless service"
	case !clusterIPv4(svc).IsValid():
		return "no IPv4 cluster IP"
	}
	return ""
}

// clusterIPv4 is the Service's IPv4 ClusterIP, from clusterIPs when set
// (dual-stack services list both families there).
func clusterIPv4(svc *corev1.Service) netip.Addr {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, s := range ips {
		if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() {
			return ip
		}
	}
	return netip.Addr{}
}

// Build computes the snapshot from Services and EndpointSlices; nodeName
// marks the endpoints that are local to this node.
func Build(services []*corev1.Service, endpointSlices []*discoveryv1.EndpointSlice, nodeName string) Snapshot {
	snap := Snapshot{
		Services:  make(map[ServicePortName]ServicePort),
		Endpoints: make(map[ServicePortName][]Endpoint),
	}
	for _, svc := range services {
		if Skipped(svc) != "" {
			continue
		}
		ip := clusterIPv4(svc)
		sticky := 0
		if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
			sticky = DefaultStickyMaxAgeSeconds
			if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
				sticky = int(*c.ClientIP.TimeoutSeconds)
			}
		}
		for _, p := range svc.Spec.Ports {
			name := ServicePortName{
				NamespacedName: types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name},
				Port:           p.Name,
				Protocol:       protocolOrTCP(p.Protocol),
			}
			snap.Services[name] = ServicePort{
				Name:                name,
				ClusterIP:           ip,
				Port:                int(p.Port),
				NodePort:            int(p.NodePort),
				StickyMaxAgeSeconds: sticky,
			}
		}
	}

	byIP := make(map[ServicePortName]map[netip.Addr]Endpoint)
	for _, slice := range endpointSlices {
		serviceName := slice.Labels[discoveryv1.LabelServiceName]
		if serviceName == "" || slice.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		for _, port := range slice.Ports {
			// Upstream ignores unnamed-nil and portless entries: a nil
			// port means "all ports", which no proxy implements.
			if port.Name == nil || port.Port == nil || *port.Port == 0 {
				continue
			}
			protocol := corev1.ProtocolTCP
			if port.Protocol != nil {
				protocol = *port.Protocol
			}
			name := ServicePortName{
				NamespacedName: types.NamespacedName{Namespace: slice.Namespace, Name: serviceName},
				Port:           *port.Name,
				Protocol:       protocol,
			}
			if byIP[name] == nil {
				byIP[name] = make(map[netip.Addr]Endpoint)
			}
			for _, e := range slice.Endpoints {
				ep, ok := endpointOf(e, int(*port.Port), nodeName)
				if !ok {
					continue
				}
				// An endpoint moving between slices may show up twice;
				// upstream keeps one, preferring the local copy.
				if _, seen := byIP[name][ep.IP]; !seen || ep.Local {
					byIP[name][ep.IP] = ep
				}
			}
		}
	}
	for name, eps := range byIP {
		if len(eps) == 0 {
			continue
		}
		list := make([]Endpoint, 0, len(eps))
		for _, ep := range eps {
			list = append(list, ep)
		}
		slices.SortFunc(list, func(a, b Endpoint) int { return strings.Compare(a.String(), b.String()) })
		snap.Endpoints[name] = list
	}
	return snap
}

func endpointOf(e discoveryv1.Endpoint, port int, nodeName string) (Endpoint, bool) {
	if len(e.Addresses) == 0 {
		return Endpoint{}, false
	}
	ip, err := netip.ParseAddr(e.Addresses[0])
	if err != nil || !ip.Is4() {
		return Endpoint{}, false
	}
	c := e.Conditions
	return Endpoint{
		IP:          ip,
		Port:        port,
		Ready:       c.Ready == nil || *c.Ready,
		Serving:     c.Serving == nil || *c.Serving,
		Terminating: c.Terminating != nil && *c.Terminating,
		Local:       nodeName != "" && e.NodeName != nil && *e.NodeName == nodeName,
	}, true
}

func protocolOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}
