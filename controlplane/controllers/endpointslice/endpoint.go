package endpointslice

import (
	"cmp"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/controllers/endpointslice/podendpoint"
)

// podToEndpoint is pod's endpoint in svc's slices of addressType. A
// terminating pod stays, not ready but serving as long as it passes its
// readiness probe, so that proxies can drain it.
func podToEndpoint(pod *corev1.Pod, node *corev1.Node, svc *corev1.Service, addressType discoveryv1.AddressType) discoveryv1.Endpoint {
	serving := podendpoint.IsReady(pod)
	terminating := pod.DeletionTimestamp != nil
	// Ready is never true for a terminating pod, for consumers that know
	// nothing of serving and terminating, unless the Service publishes
	// every address anyway.
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses:  podendpoint.IPs(pod, familyOf(addressType)),
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		nodeName := pod.Spec.NodeName
		ep.NodeName = &nodeName
	}
	if node != nil {
		if zone := node.Labels[corev1.LabelTopologyZone]; zone != "" {
			ep.Zone = &zone
		}
	}
	if hostname, ok := podendpoint.Hostname(pod, svc); ok {
		ep.Hostname = &hostname
	}
	return ep
}

// endpointPorts are svc's ports as resolved on pod; a port whose named
// target the pod lacks is left out, so such pods land in slices of
// their own, with fewer ports.
func endpointPorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	ports := []discoveryv1.EndpointPort{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		num, err := podendpoint.FindPort(pod, sp)
		if err != nil {
			continue
		}
		name, protocol := sp.Name, sp.Protocol
		ports = append(ports, discoveryv1.EndpointPort{Name: &name, Port: &num, Protocol: &protocol, AppProtocol: sp.AppProtocol})
	}
	return ports
}

func familyOf(addressType discoveryv1.AddressType) corev1.IPFamily {
	if addressType == discoveryv1.AddressTypeIPv6 {
		return corev1.IPv6Protocol
	}
	return corev1.IPv4Protocol
}

// addressTypes are the address types of svc's slices, one per IP family.
func addressTypes(svc *corev1.Service) []discoveryv1.AddressType {
	var types []discoveryv1.AddressType
	for _, f := range podendpoint.Families(svc) {
		switch f {
		case corev1.IPv4Protocol:
			types = append(types, discoveryv1.AddressTypeIPv4)
		case corev1.IPv6Protocol:
			types = append(types, discoveryv1.AddressTypeIPv6)
		}
	}
	return types
}

// newSlice is an empty slice of svc's for ports and addressType, named
// by the API server after the Service.
func newSlice(svc *corev1.Service, ports []discoveryv1.EndpointPort, addressType discoveryv1.AddressType) *discoveryv1.EndpointSlice {
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       svc.Namespace,
			GenerateName:    slicePrefix(svc.Name),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(svc, corev1.SchemeGroupVersion.WithKind("Service"))},
		},
		AddressType: addressType,
		Ports:       ports,
		Endpoints:   []discoveryv1.Endpoint{},
	}
	slice.Labels, _ = sliceLabels(slice, svc)
	return slice
}

// slicePrefix is "<service>-", or the bare name when the dash would make
// it too long to be a name.
func slicePrefix(service string) string {
	prefix := service + "-"
	if len(validation.NameIsDNSSubdomain(prefix, true)) != 0 {
		return service
	}
	return prefix
}

// sliceLabels are the labels slice should have: the Service's, plus the
// controller's own (service name, manager, headless), and whether the
// Service's part differs from what slice has.
func sliceLabels(slice *discoveryv1.EndpointSlice, svc *corev1.Service) (map[string]string, bool) {
	reserved := func(k string) bool {
		return k == discoveryv1.LabelServiceName || k == discoveryv1.LabelManagedBy || k == corev1.IsHeadlessService
	}
	have := map[string]string{}
	for k, v := range slice.Labels {
		if !reserved(k) {
			have[k] = v
		}
	}
	want := map[string]string{}
	for k, v := range svc.Labels {
		if !reserved(k) {
			want[k] = v
		}
	}
	changed := !maps.Equal(have, want)
	if podendpoint.IsHeadless(svc) {
		want[corev1.IsHeadlessService] = ""
	}
	want[discoveryv1.LabelServiceName] = svc.Name
	want[discoveryv1.LabelManagedBy] = ManagedBy
	return want, changed
}

// ownedBy reports whether slice names svc (this very Service, not an
// older one of the same name) as an owner.
func ownedBy(slice *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	for _, o := range slice.OwnerReferences {
		if o.UID == svc.UID && o.Kind == "Service" && o.APIVersion == "v1" {
			return true
		}
	}
	return false
}

// isPlaceholder reports whether slice is the empty slice a Service
// without endpoints keeps, exactly as newSlice would make it now.
func isPlaceholder(slice, placeholder *discoveryv1.EndpointSlice) bool {
	if slice.Namespace != placeholder.Namespace || slice.AddressType != placeholder.AddressType ||
		len(slice.Endpoints) != 0 || len(slice.Ports) != 0 || !maps.Equal(slice.Labels, placeholder.Labels) ||
		len(slice.OwnerReferences) != len(placeholder.OwnerReferences) {
		return false
	}
	for i := range slice.OwnerReferences {
		if slice.OwnerReferences[i].String() != placeholder.OwnerReferences[i].String() {
			return false
		}
	}
	return true
}

// sliceToFill is the slice among candidates that n more endpoints fill
// most, or nil if none has room for them all.
func sliceToFill(candidates []*discoveryv1.EndpointSlice, n, max int) *discoveryv1.EndpointSlice {
	var best *discoveryv1.EndpointSlice
	bestRoom := max
	for _, s := range candidates {
		room := max - (n + len(s.Endpoints))
		if room >= 0 && room < bestRoom {
			best, bestRoom = s, room
			if room == 0 {
				break
			}
		}
	}
	return best
}

// byFullest orders slices with the most endpoints first, then by name.
func byFullest(a, b *discoveryv1.EndpointSlice) int {
	return cmp.Or(cmp.Compare(len(b.Endpoints), len(a.Endpoints)), strings.Compare(a.Name, b.Name))
}
