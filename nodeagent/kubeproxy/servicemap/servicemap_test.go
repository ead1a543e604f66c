package servicemap

import (
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func service(name string, mutate func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: "10.96.0.20",
			Ports:     []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	if mutate != nil {
		mutate(svc)
	}
	return svc
}

func slice(service, name string, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
		Endpoints:   eps,
	}
}

func port(name string, number int32, protocol corev1.Protocol) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr.To(name), Port: ptr.To(number), Protocol: ptr.To(protocol)}
}

func spn(name, port string, protocol corev1.Protocol) ServicePortName {
	return ServicePortName{NamespacedName: types.NamespacedName{Namespace: "default", Name: name}, Port: port, Protocol: protocol}
}

func TestServicePortNameStringIsUpstreams(t *testing.T) {
	if got := spn("web", "http", corev1.ProtocolTCP).String(); got != "default/web:http" {
		t.Errorf("named port: %q", got)
	}
	if got := spn("web", "", corev1.ProtocolTCP).String(); got != "default/web" {
		t.Errorf("unnamed port: %q", got)
	}
}

func TestBuildSkipsServicesWithoutAVirtualIP(t *testing.T) {
	snap := Build([]*corev1.Service{
		service("headless", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }),
		service("external", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ClusterIP = ""
			s.Spec.ExternalName = "example.com"
		}),
		service("ipv6-only", func(s *corev1.Service) { s.Spec.ClusterIP = "fd00::10"; s.Spec.ClusterIPs = []string{"fd00::10"} }),
		service("kept", nil),
	}, nil, "node-a")
	if len(snap.Services) != 1 {
		t.Fatalf("services = %v, want only default/kept", snap.Services)
	}
	if _, ok := snap.Services[spn("kept", "http", corev1.ProtocolTCP)]; !ok {
		t.Errorf("default/kept:http missing from %v", snap.Services)
	}
}

func TestBuildMatchesNamedPortsByNameAndProtocol(t *testing.T) {
	svc := service("dns", func(s *corev1.Service) {
		s.Spec.ClusterIP = "10.96.0.10"
		s.Spec.ClusterIPs = []string{"fd00::a", "10.96.0.10"}
		s.Spec.Ports = []corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
			{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
			{Name: "metrics", Port: 9153}, // protocol left to the defaults
		}
	})
	// The target ports are named in the pod; the slice carries the
	// resolved numbers.
	s := slice("dns", "dns-abcde",
		[]discoveryv1.EndpointPort{port("dns", 5353, corev1.ProtocolUDP), port("dns-tcp", 5353, corev1.ProtocolTCP), port("metrics", 9153, corev1.ProtocolTCP)},
		discoveryv1.Endpoint{Addresses: []string{"10.244.1.5"}},
	)
	snap := Build([]*corev1.Service{svc}, []*discoveryv1.EndpointSlice{s}, "node-a")

	udp := snap.Services[spn("dns", "dns", corev1.ProtocolUDP)]
	if udp.ClusterIP != netip.MustParseAddr("10.96.0.10") || udp.Port != 53 {
		t.Errorf("dns/udp = %+v, want the IPv4 ClusterIP and port 53", udp)
	}
	if _, ok := snap.Services[spn("dns", "metrics", corev1.ProtocolTCP)]; !ok {
		t.Error("a port without protocol is not TCP")
	}
	for _, name := range []ServicePortName{spn("dns", "dns", corev1.ProtocolUDP), spn("dns", "dns-tcp", corev1.ProtocolTCP)} {
		eps := snap.Endpoints[name]
		if len(eps) != 1 || eps[0].String() != "10.244.1.5:5353" {
			t.Errorf("endpoints of %s = %v, want 10.244.1.5:5353", name, eps)
		}
	}
}

func TestBuildEndpointConditionsAndOrder(t *testing.T) {
	ports := []discoveryv1.EndpointPort{port("http", 8080, corev1.ProtocolTCP)}
	snap := Build([]*corev1.Service{service("web", nil)}, []*discoveryv1.EndpointSlice{
		slice("web", "web-1", ports,
			discoveryv1.Endpoint{Addresses: []string{"10.244.1.9"}},
			discoveryv1.Endpoint{Addresses: []string{"10.244.1.10"}, Conditions: discoveryv1.EndpointConditions{
				Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(true)}},
		),
		// The same endpoint in a second slice, this time with the node
		// name: one copy is kept, the local one.
		slice("web", "web-2", ports,
			discoveryv1.Endpoint{Addresses: []string{"10.244.1.9"}, NodeName: ptr.To("node-a")},
		),
		// IPv6 slices belong to an IPv6 proxier.
		func() *discoveryv1.EndpointSlice {
			s := slice("web", "web-v6", ports, discoveryv1.Endpoint{Addresses: []string{"fd00::9"}})
			s.AddressType = discoveryv1.AddressTypeIPv6
			return s
		}(),
		// Slices without the service label are nobody's.
		func() *discoveryv1.EndpointSlice {
			s := slice("web", "orphan", ports, discoveryv1.Endpoint{Addresses: []string{"10.244.9.9"}})
			s.Labels = nil
			return s
		}(),
	}, "node-a")

	got := snap.Endpoints[spn("web", "http", corev1.ProtocolTCP)]
	want := []Endpoint{
		// Ordered as strings, as upstream orders them: "10.244.1.10:8080" < "10.244.1.9:8080".
		{IP: netip.MustParseAddr("10.244.1.10"), Port: 8080, Ready: false, Serving: true, Terminating: true},
		{IP: netip.MustParseAddr("10.244.1.9"), Port: 8080, Ready: true, Serving: true, Local: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("endpoints = %+v\nwant %+v", got, want)
	}
}

func TestBuildSessionAffinityTimeout(t *testing.T) {
	snap := Build([]*corev1.Service{
		service("default-timeout", func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP }),
		service("short-timeout", func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}
		}),
		service("none", nil),
	}, nil, "")
	for name, want := range map[string]int{"default-timeout": 10800, "short-timeout": 60, "none": 0} {
		if got := snap.Services[spn(name, "http", corev1.ProtocolTCP)].StickyMaxAgeSeconds; got != want {
			t.Errorf("%s: sticky max age %d, want %d", name, got, want)
		}
	}
}

func TestUsable(t *testing.T) {
	ready := Endpoint{IP: netip.MustParseAddr("10.244.0.1"), Port: 80, Ready: true, Serving: true}
	terminating := Endpoint{IP: netip.MustParseAddr("10.244.0.2"), Port: 80, Serving: true, Terminating: true}
	notServing := Endpoint{IP: netip.MustParseAddr("10.244.0.3"), Port: 80, Terminating: true}
	unready := Endpoint{IP: netip.MustParseAddr("10.244.0.4"), Port: 80}
	cases := []struct {
		name string
		in   []Endpoint
		want []Endpoint
	}{
		{"ready endpoints win over terminating ones", []Endpoint{ready, terminating, unready}, []Endpoint{ready}},
		{"serving terminating endpoints when none is ready", []Endpoint{terminating, notServing, unready}, []Endpoint{terminating}},
		{"nothing when no endpoint serves", []Endpoint{notServing, unready}, nil},
	}
	for _, c := range cases {
		if got := Usable(c.in); !slices.Equal(got, c.want) {
			t.Errorf("%s: Usable() = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSortedServicePortsIsStable(t *testing.T) {
	snap := Build([]*corev1.Service{service("b", nil), service("a", func(s *corev1.Service) {
		s.Spec.Ports = []corev1.ServicePort{{Name: "z", Port: 1}, {Name: "y", Port: 2, Protocol: corev1.ProtocolUDP}}
	})}, nil, "")
	var got []string
	for _, p := range snap.SortedServicePorts() {
		got = append(got, p.Name.String())
	}
	if want := []string{"default/a:y", "default/a:z", "default/b:http"}; !slices.Equal(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
}
