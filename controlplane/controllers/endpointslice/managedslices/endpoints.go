package managedslices

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// PortsKey identifies a set of ports regardless of order, with the API
// server's defaults (no name, TCP) filled in.
func PortsKey(ports []discoveryv1.EndpointPort) string {
	parts := make([]string, 0, len(ports))
	for _, p := range ports {
		port := "*"
		if p.Port != nil {
			port = strconv.Itoa(int(*p.Port))
		}
		app := "-"
		if p.AppProtocol != nil {
			app = "=" + *p.AppProtocol
		}
		parts = append(parts, deref(p.Name, "")+"/"+string(deref(p.Protocol, corev1.ProtocolTCP))+"/"+port+"/"+app)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// EndpointKey identifies an endpoint across updates: its addresses,
// hostname and pod. Everything else (conditions, node, zone) may change
// in place.
func EndpointKey(ep *discoveryv1.Endpoint) string {
	addrs := slices.Clone(ep.Addresses)
	slices.Sort(addrs)
	key := strings.Join(addrs, ",") + "|" + deref(ep.Hostname, "")
	if ep.TargetRef != nil {
		key += "|" + ep.TargetRef.Namespace + "/" + ep.TargetRef.Name
	}
	return key
}

// EndpointsEqualBeyondKey compares what EndpointKey leaves out, ignoring
// the pod's resourceVersion, which older controllers wrote.
func EndpointsEqualBeyondKey(a, b *discoveryv1.Endpoint) bool {
	refsEqual := func(x, y *corev1.ObjectReference) bool {
		if x == nil || y == nil {
			return x == y
		}
		xc, yc := *x, *y
		xc.ResourceVersion, yc.ResourceVersion = "", ""
		return xc == yc
	}
	return equality.Semantic.DeepEqual(a.NodeName, b.NodeName) &&
		equality.Semantic.DeepEqual(a.Zone, b.Zone) &&
		equality.Semantic.DeepEqual(a.Conditions, b.Conditions) &&
		// Hints are topology's, which kindish does not compute: any
		// found are cleared.
		equality.Semantic.DeepEqual(a.Hints, b.Hints) &&
		refsEqual(a.TargetRef, b.TargetRef)
}

// EndpointSet holds desired endpoints by EndpointKey.
type EndpointSet map[string]*discoveryv1.Endpoint

// Insert adds ep, replacing an endpoint of the same key.
func (s EndpointSet) Insert(ep *discoveryv1.Endpoint) { s[EndpointKey(ep)] = ep }

// Get returns the endpoint of ep's key, or nil.
func (s EndpointSet) Get(ep *discoveryv1.Endpoint) *discoveryv1.Endpoint { return s[EndpointKey(ep)] }

// Remove drops the endpoint of ep's key.
func (s EndpointSet) Remove(ep *discoveryv1.Endpoint) { delete(s, EndpointKey(ep)) }

// Take removes up to n endpoints, in key order so that the slices'
// contents do not depend on map order.
func (s EndpointSet) Take(n int) []discoveryv1.Endpoint {
	if n <= 0 {
		return nil
	}
	keys := slices.Sorted(maps.Keys(s))
	out := make([]discoveryv1.Endpoint, 0, min(n, len(keys)))
	for _, k := range keys[:min(n, len(keys))] {
		out = append(out, *s[k])
		delete(s, k)
	}
	return out
}
