package envvars

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func service(ns, name, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{ClusterIP: clusterIP, Ports: ports},
	}
}

func port(name string, p int32, proto corev1.Protocol) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: p, Protocol: proto}
}

func flatten(vars []envVar) []string {
	out := make([]string, 0, len(vars))
	for _, v := range vars {
		out = append(out, v.name+"="+v.value)
	}
	return out
}

func TestServiceVariablesNamesAndFormats(t *testing.T) {
	tests := []struct {
		name     string
		services []*corev1.Service
		want     []string
	}{
		{
			name:     "the kubernetes service",
			services: []*corev1.Service{service("default", "kubernetes", "10.96.0.1", port("https", 443, corev1.ProtocolTCP))},
			want: []string{
				"KUBERNETES_SERVICE_HOST=10.96.0.1",
				"KUBERNETES_SERVICE_PORT=443",
				"KUBERNETES_SERVICE_PORT_HTTPS=443",
				"KUBERNETES_PORT=tcp://10.96.0.1:443",
				"KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443",
				"KUBERNETES_PORT_443_TCP_PROTO=tcp",
				"KUBERNETES_PORT_443_TCP_PORT=443",
				"KUBERNETES_PORT_443_TCP_ADDR=10.96.0.1",
			},
		},
		{
			name: "a multi-port service with dashes in its names",
			services: []*corev1.Service{service("ns", "kube-dns", "10.96.0.10",
				port("dns", 53, corev1.ProtocolUDP),
				port("dns-tcp", 53, corev1.ProtocolTCP),
				port("metrics", 9153, corev1.ProtocolTCP))},
			want: []string{
				"KUBE_DNS_SERVICE_HOST=10.96.0.10",
				"KUBE_DNS_SERVICE_PORT=53",
				"KUBE_DNS_SERVICE_PORT_DNS=53",
				"KUBE_DNS_SERVICE_PORT_DNS_TCP=53",
				"KUBE_DNS_SERVICE_PORT_METRICS=9153",
				"KUBE_DNS_PORT=udp://10.96.0.10:53",
				"KUBE_DNS_PORT_53_UDP=udp://10.96.0.10:53",
				"KUBE_DNS_PORT_53_UDP_PROTO=udp",
				"KUBE_DNS_PORT_53_UDP_PORT=53",
				"KUBE_DNS_PORT_53_UDP_ADDR=10.96.0.10",
				"KUBE_DNS_PORT_53_TCP=tcp://10.96.0.10:53",
				"KUBE_DNS_PORT_53_TCP_PROTO=tcp",
				"KUBE_DNS_PORT_53_TCP_PORT=53",
				"KUBE_DNS_PORT_53_TCP_ADDR=10.96.0.10",
				"KUBE_DNS_PORT_9153_TCP=tcp://10.96.0.10:9153",
				"KUBE_DNS_PORT_9153_TCP_PROTO=tcp",
				"KUBE_DNS_PORT_9153_TCP_PORT=9153",
				"KUBE_DNS_PORT_9153_TCP_ADDR=10.96.0.10",
			},
		},
		{
			name:     "an unnamed port with no protocol is TCP and has no named variable",
			services: []*corev1.Service{service("ns", "web", "10.96.3.4", port("", 8080, ""))},
			want: []string{
				"WEB_SERVICE_HOST=10.96.3.4",
				"WEB_SERVICE_PORT=8080",
				"WEB_PORT=tcp://10.96.3.4:8080",
				"WEB_PORT_8080_TCP=tcp://10.96.3.4:8080",
				"WEB_PORT_8080_TCP_PROTO=tcp",
				"WEB_PORT_8080_TCP_PORT=8080",
				"WEB_PORT_8080_TCP_ADDR=10.96.3.4",
			},
		},
		{
			name:     "SCTP is lower-cased in values and upper-cased in names",
			services: []*corev1.Service{service("ns", "s", "10.96.9.9", port("", 9, corev1.ProtocolSCTP))},
			want: []string{
				"S_SERVICE_HOST=10.96.9.9",
				"S_SERVICE_PORT=9",
				"S_PORT=sctp://10.96.9.9:9",
				"S_PORT_9_SCTP=sctp://10.96.9.9:9",
				"S_PORT_9_SCTP_PROTO=sctp",
				"S_PORT_9_SCTP_PORT=9",
				"S_PORT_9_SCTP_ADDR=10.96.9.9",
			},
		},
		{
			name: "headless and ExternalName services have no variables",
			services: []*corev1.Service{
				service("ns", "headless", corev1.ClusterIPNone, port("", 80, "")),
				service("ns", "external", "", port("", 80, "")),
			},
			want: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := flatten(serviceVariables(tt.services))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
