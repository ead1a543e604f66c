package endpoints

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kindish/kindish/controlplane/controllers/endpointslice/podendpoint"
)

// MaxCapacity is how many addresses an Endpoints object holds at most;
// beyond it the controller truncates and sets the over-capacity
// annotation, as upstream does. EndpointSlices have them all.
const MaxCapacity = 1000

// overCapacityTruncated is the over-capacity annotation's value.
const overCapacityTruncated = "truncated"

// desiredSubsets are the subsets of svc's Endpoints for the pods its
// selector matches, in canonical form.
func desiredSubsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	publishNotReady := svc.Spec.PublishNotReadyAddresses
	var subsets []corev1.EndpointSubset
	for _, pod := range pods {
		if !podendpoint.Include(pod, publishNotReady) {
			continue
		}
		addr, ok := endpointAddress(svc, pod)
		if !ok {
			// A pod without an IP of the Service's family, as on nodes
			// that are single stack in a dual-stack cluster.
			continue
		}
		ready := publishNotReady || podendpoint.IsReady(pod)
		if len(svc.Spec.Ports) == 0 {
			// Only headless Services may have no ports; their pods are
			// still published for DNS.
			if svc.Spec.ClusterIP == corev1.ClusterIPNone {
				subsets = append(subsets, subsetOf(addr, nil, ready))
			}
			continue
		}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			// A pod without the named target port is not an endpoint of
			// that port; it still is of the others.
			num, err := podendpoint.FindPort(pod, sp)
			if err != nil {
				continue
			}
			port := corev1.EndpointPort{Name: sp.Name, Port: num, Protocol: sp.Protocol, AppProtocol: sp.AppProtocol}
			subsets = append(subsets, subsetOf(addr, &port, ready))
		}
	}
	return RepackSubsets(subsets)
}

func subsetOf(addr corev1.EndpointAddress, port *corev1.EndpointPort, ready bool) corev1.EndpointSubset {
	var s corev1.EndpointSubset
	if port != nil {
		s.Ports = []corev1.EndpointPort{*port}
	}
	if ready {
		s.Addresses = []corev1.EndpointAddress{addr}
	} else {
		s.NotReadyAddresses = []corev1.EndpointAddress{addr}
	}
	return s
}

// endpointAddress is pod's address in svc's Endpoints: its first IP of
// the Service's primary family.
func endpointAddress(svc *corev1.Service, pod *corev1.Pod) (corev1.EndpointAddress, bool) {
	family := podendpoint.Families(svc)[0]
	if len(svc.Spec.IPFamilies) == 0 && podendpoint.IsHeadless(svc) && len(podendpoint.IPs(pod, corev1.IPv4Protocol)) == 0 {
		// A headless Service from before dual stack takes the pod's family.
		family = corev1.IPv6Protocol
	}
	ips := podendpoint.IPs(pod, family)
	if len(ips) == 0 {
		return corev1.EndpointAddress{}, false
	}
	addr := corev1.EndpointAddress{
		IP:        ips[0],
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		addr.NodeName = &pod.Spec.NodeName
	}
	if hostname, ok := podendpoint.Hostname(pod, svc); ok {
		addr.Hostname = hostname
	}
	return addr, true
}

// addressKey identifies an address: the same IP may belong to two pods
// (host-network pods share their node's).
type addressKey struct {
	ip  string
	uid types.UID
}

func keyOf(a *corev1.EndpointAddress) addressKey {
	k := addressKey{ip: a.IP}
	if a.TargetRef != nil {
		k.uid = a.TargetRef.UID
	}
	return k
}

// portKey is an EndpointPort as a map key; noPort stands for the
// port-less subsets of headless Services.
type portKey struct {
	name, protocol, appProtocol string
	hasAppProtocol              bool
	port                        int32
}

var noPort = portKey{port: -1}

func keyOfPort(p corev1.EndpointPort) portKey {
	k := portKey{name: p.Name, protocol: string(p.Protocol), port: p.Port}
	if p.AppProtocol != nil {
		k.appProtocol, k.hasAppProtocol = *p.AppProtocol, true
	}
	return k
}

func (k portKey) endpointPort() corev1.EndpointPort {
	p := corev1.EndpointPort{Name: k.name, Port: k.port, Protocol: corev1.Protocol(k.protocol)}
	if k.hasAppProtocol {
		app := k.appProtocol
		p.AppProtocol = &app
	}
	return p
}

// RepackSubsets rewrites subsets in upstream's canonical layout: one
// subset per distinct set of addresses, holding every port those
// addresses share, each address once and not ready if it is not ready
// on any port. Sorted, so that equal endpoints compare equal.
func RepackSubsets(subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	addrs := map[addressKey]corev1.EndpointAddress{}
	// readyByPort[port][address] is whether the address is ready there.
	readyByPort := map[portKey]map[addressKey]bool{}
	add := func(a *corev1.EndpointAddress, port portKey, ready bool) {
		k := keyOf(a)
		if _, ok := addrs[k]; !ok {
			addrs[k] = *a
		}
		m := readyByPort[port]
		if m == nil {
			m = map[addressKey]bool{}
			readyByPort[port] = m
		}
		if was, ok := m[k]; !ok || was {
			m[k] = ready
		}
	}
	for i := range subsets {
		s := &subsets[i]
		ports := []portKey{noPort}
		if len(s.Ports) > 0 {
			ports = ports[:0]
			for _, p := range s.Ports {
				ports = append(ports, keyOfPort(p))
			}
		}
		for _, port := range ports {
			for j := range s.Addresses {
				add(&s.Addresses[j], port, true)
			}
			for j := range s.NotReadyAddresses {
				add(&s.NotReadyAddresses[j], port, false)
			}
		}
	}

	// Group the ports by the exact set of addresses (and readiness)
	// behind them.
	type group struct {
		members map[addressKey]bool
		ports   []portKey
	}
	groups := map[string]*group{}
	for port, members := range readyByPort {
		sig := signature(members)
		g := groups[sig]
		if g == nil {
			g = &group{members: members}
			groups[sig] = g
		}
		if port != noPort {
			g.ports = append(g.ports, port)
		}
	}

	out := make([]corev1.EndpointSubset, 0, len(groups))
	for _, g := range groups {
		var s corev1.EndpointSubset
		for k, ready := range g.members {
			if ready {
				s.Addresses = append(s.Addresses, addrs[k])
			} else {
				s.NotReadyAddresses = append(s.NotReadyAddresses, addrs[k])
			}
		}
		for _, p := range g.ports {
			s.Ports = append(s.Ports, p.endpointPort())
		}
		out = append(out, s)
	}
	return sortSubsets(out)
}

func signature(members map[addressKey]bool) string {
	parts := make([]string, 0, len(members))
	for k, ready := range members {
		parts = append(parts, k.ip+"/"+string(k.uid)+"/"+strconv.FormatBool(ready))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func compareAddresses(a, b corev1.EndpointAddress) int {
	ka, kb := keyOf(&a), keyOf(&b)
	return cmp.Or(strings.Compare(ka.ip, kb.ip), strings.Compare(string(ka.uid), string(kb.uid)))
}

func comparePorts(a, b corev1.EndpointPort) int {
	return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.Port, b.Port), strings.Compare(string(a.Protocol), string(b.Protocol)))
}

// sortSubsets orders addresses by IP and pod, ports by name, and subsets
// by their first port and address.
func sortSubsets(subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	for i := range subsets {
		slices.SortFunc(subsets[i].Addresses, compareAddresses)
		slices.SortFunc(subsets[i].NotReadyAddresses, compareAddresses)
		slices.SortFunc(subsets[i].Ports, comparePorts)
	}
	first := func(s corev1.EndpointSubset) (corev1.EndpointPort, corev1.EndpointAddress) {
		var p corev1.EndpointPort
		var a corev1.EndpointAddress
		if len(s.Ports) > 0 {
			p = s.Ports[0]
		}
		if len(s.Addresses) > 0 {
			a = s.Addresses[0]
		} else if len(s.NotReadyAddresses) > 0 {
			a = s.NotReadyAddresses[0]
		}
		return p, a
	}
	slices.SortFunc(subsets, func(x, y corev1.EndpointSubset) int {
		px, ax := first(x)
		py, ay := first(y)
		return cmp.Or(comparePorts(px, py), compareAddresses(ax, ay), cmp.Compare(len(x.Ports), len(y.Ports)))
	})
	return subsets
}

// addressCount is the number of addresses, ready or not, in subsets.
func addressCount(subsets []corev1.EndpointSubset) (ready, notReady int) {
	for _, s := range subsets {
		ready += len(s.Addresses)
		notReady += len(s.NotReadyAddresses)
	}
	return ready, notReady
}

// truncate cuts subsets down to MaxCapacity addresses, keeping ready
// addresses before not ready ones and sharing the cut between subsets in
// proportion to their size, as upstream does. It reports whether it cut.
func truncate(subsets []corev1.EndpointSubset) ([]corev1.EndpointSubset, bool) {
	ready, notReady := addressCount(subsets)
	if ready+notReady <= MaxCapacity {
		return subsets, false
	}
	cutReady := ready > MaxCapacity
	budget, total := MaxCapacity-ready, notReady
	if cutReady {
		budget, total = MaxCapacity, ready
	}
	left := budget
	out := subsets[:0]
	for _, s := range subsets {
		n := len(s.NotReadyAddresses)
		if cutReady {
			n = len(s.Addresses)
		}
		take := min(int(math.Ceil(float64(n)/float64(total)*float64(budget))), left)
		if cutReady {
			s.Addresses = s.Addresses[:min(take, len(s.Addresses))]
			s.NotReadyAddresses = nil
			left -= len(s.Addresses)
		} else {
			s.NotReadyAddresses = s.NotReadyAddresses[:min(take, len(s.NotReadyAddresses))]
			left -= len(s.NotReadyAddresses)
		}
		// A subset cut to nothing would fail validation.
		if len(s.Addresses)+len(s.NotReadyAddresses) > 0 {
			out = append(out, s)
		}
	}
	return out, true
}

// capacityAnnotationCorrect reports whether the over-capacity annotation
// is absent from Endpoints that fit, as it must be; Endpoints that do not
// fit always need rewriting.
func capacityAnnotationCorrect(annotations map[string]string, subsets []corev1.EndpointSubset) bool {
	ready, notReady := addressCount(subsets)
	if ready+notReady > MaxCapacity {
		return false
	}
	_, ok := annotations[corev1.EndpointsOverCapacity]
	return !ok
}

// subsetsEqual compares subsets ignoring the pods' resourceVersion in
// target references, which older controllers wrote and which changes on
// every pod update without changing the endpoint.
func subsetsEqual(current, desired []corev1.EndpointSubset) bool {
	clearVersions := func(addrs []corev1.EndpointAddress) {
		for i := range addrs {
			if addrs[i].TargetRef != nil {
				addrs[i].TargetRef.ResourceVersion = ""
			}
		}
	}
	normalized := make([]corev1.EndpointSubset, len(current))
	for i := range current {
		s := *current[i].DeepCopy()
		clearVersions(s.Addresses)
		clearVersions(s.NotReadyAddresses)
		normalized[i] = s
	}
	return equality.Semantic.DeepEqual(normalized, desired)
}
