package rules

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/kindish/kindish/nodeagent/kubeproxy/servicemap"
)

// testConfig is a kindish node: pod range 10.244.0.0/16, service range
// 10.96.0.0/16, node IP 172.18.0.3 on the kindish bridge, iptables 1.8.9.
func testConfig() Config {
	return Config{
		ClusterCIDR:   netip.MustParsePrefix("10.244.0.0/16"),
		ServiceCIDR:   netip.MustParsePrefix("10.96.0.0/16"),
		MasqueradeBit: 14,
		NodeIPs:       []netip.Addr{netip.MustParseAddr("172.18.0.3")},
		RandomFully:   true,
	}
}

func svc(name, clusterIP string, mutate func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: clusterIP,
			Ports:     []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if mutate != nil {
		mutate(s)
	}
	return s
}

// endpoints is an EndpointSlice for a service, one endpoint per address,
// all with the given ports.
func endpoints(service string, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: service + "-x7k2p", Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
		Endpoints:   eps,
	}
}

func epPort(name string, port int32, protocol corev1.Protocol) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr.To(name), Port: ptr.To(port), Protocol: ptr.To(protocol)}
}

func httpPorts() []discoveryv1.EndpointPort {
	return []discoveryv1.EndpointPort{epPort("http", 8080, corev1.ProtocolTCP)}
}

func ready(ip string) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)}}
}

func terminating(ip string, serving bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(serving), Terminating: ptr.To(true)}}
}

func snapshotOf(services []*corev1.Service, slices ...*discoveryv1.EndpointSlice) servicemap.Snapshot {
	return servicemap.Build(services, slices, "kindish-worker")
}
