package endpointslice

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func describeEndpoint(ep discoveryv1.Endpoint) string {
	s := fmt.Sprintf("%v ready=%v serving=%v terminating=%v", ep.Addresses, *ep.Conditions.Ready, *ep.Conditions.Serving, *ep.Conditions.Terminating)
	if ep.NodeName != nil {
		s += " node=" + *ep.NodeName
	}
	if ep.Zone != nil {
		s += " zone=" + *ep.Zone
	}
	if ep.Hostname != nil {
		s += " hostname=" + *ep.Hostname
	}
	return s
}

func TestPodToEndpoint(t *testing.T) {
	zoned := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode, Labels: map[string]string{corev1.LabelTopologyZone: "z1"}}}
	terminating := func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Now()} }
	notReady := func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
	publishAll := func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		svc  *corev1.Service
		node *corev1.Node
		want string
	}{
		{"ready pod", testPod(0), testService(), zoned, "[10.244.0.2] ready=true serving=true terminating=false node=node-1 zone=z1"},
		{"not ready pod", testPod(0, notReady), testService(), zoned, "[10.244.0.2] ready=false serving=false terminating=false node=node-1 zone=z1"},
		{"terminating ready pod still serves", testPod(0, terminating), testService(), nil, "[10.244.0.2] ready=false serving=true terminating=true node=node-1"},
		{"terminating not ready pod", testPod(0, terminating, notReady), testService(), nil, "[10.244.0.2] ready=false serving=false terminating=true node=node-1"},
		{"publishNotReadyAddresses makes every pod ready", testPod(0, terminating, notReady), testService(publishAll), nil, "[10.244.0.2] ready=true serving=false terminating=true node=node-1"},
		{"node without zone", testPod(0), testService(), &corev1.Node{}, "[10.244.0.2] ready=true serving=true terminating=false node=node-1"},
		{
			"hostname when the subdomain is the service",
			testPod(0, func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "web-0", "web" }), testService(), nil,
			"[10.244.0.2] ready=true serving=true terminating=false node=node-1 hostname=web-0",
		},
		{
			"no hostname for another subdomain",
			testPod(0, func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "web-0", "other" }), testService(), nil,
			"[10.244.0.2] ready=true serving=true terminating=false node=node-1",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := podToEndpoint(tc.pod, tc.node, tc.svc, discoveryv1.AddressTypeIPv4)
			if got := describeEndpoint(ep); got != tc.want {
				t.Errorf("endpoint %s, want %s", got, tc.want)
			}
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || ep.TargetRef.Name != tc.pod.Name || ep.TargetRef.UID != tc.pod.UID {
				t.Errorf("target ref %+v, want the pod", ep.TargetRef)
			}
		})
	}
}

func TestEndpointPorts(t *testing.T) {
	svc := testService(func(s *corev1.Service) {
		s.Spec.Ports = []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")},
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")},
			{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9100), AppProtocol: ptr.To("http")},
		}
	})
	describe := func(ports []discoveryv1.EndpointPort) string {
		var parts []string
		for _, p := range ports {
			parts = append(parts, fmt.Sprintf("%s:%d/%s", *p.Name, *p.Port, *p.Protocol))
		}
		return strings.Join(parts, ",")
	}
	sidecar := corev1.Container{
		Name:          "sidecar",
		RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
		Ports:         []corev1.ContainerPort{{Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP}},
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"named port found, other named port missing", testPod(0), "http:8080/TCP,metrics:9100/TCP"},
		{"named port in a sidecar", testPod(0, func(p *corev1.Pod) { p.Spec.InitContainers = []corev1.Container{sidecar} }), "http:8080/TCP,dns:5353/UDP,metrics:9100/TCP"},
		{
			"named port in a plain init container does not count",
			testPod(0, func(p *corev1.Pod) {
				c := sidecar
				c.RestartPolicy = nil
				p.Spec.InitContainers = []corev1.Container{c}
			}),
			"http:8080/TCP,metrics:9100/TCP",
		},
		{"no named ports leaves only numbers", testPod(0, func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil }), "metrics:9100/TCP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describe(endpointPorts(svc, tc.pod)); got != tc.want {
				t.Errorf("ports %s, want %s", got, tc.want)
			}
		})
	}
	if got := endpointPorts(svc, testPod(0))[1].AppProtocol; got == nil || *got != "http" {
		t.Errorf("appProtocol %v, want the service port's", got)
	}
}

func TestSliceLabels(t *testing.T) {
	for _, tc := range []struct {
		name        string
		svc         *corev1.Service
		have        map[string]string
		want        map[string]string
		wantChanged bool
	}{
		{
			name: "a new slice takes the service's labels and the controller's",
			svc:  testService(),
			want: map[string]string{"tier": "web", discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ManagedBy},
			// A new slice has none of the Service's labels yet.
			wantChanged: true,
		},
		{
			name: "a headless service's slices say so",
			svc:  testService(func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }),
			have: map[string]string{"tier": "web"},
			want: map[string]string{"tier": "web", corev1.IsHeadlessService: "", discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ManagedBy},
		},
		{
			name: "the service cannot override the reserved labels",
			svc: testService(func(s *corev1.Service) {
				s.Labels = map[string]string{"tier": "web", discoveryv1.LabelManagedBy: "someone", discoveryv1.LabelServiceName: "other"}
			}),
			have: map[string]string{"tier": "web", discoveryv1.LabelManagedBy: ManagedBy},
			want: map[string]string{"tier": "web", discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ManagedBy},
		},
		{
			name:        "labels added to the slice by hand are dropped",
			svc:         testService(),
			have:        map[string]string{"tier": "web", "extra": "x"},
			want:        map[string]string{"tier": "web", discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ManagedBy},
			wantChanged: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := sliceLabels(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Labels: tc.have}}, tc.svc)
			if !maps.Equal(got, tc.want) || changed != tc.wantChanged {
				t.Errorf("labels %v changed %v, want %v changed %v", got, changed, tc.want, tc.wantChanged)
			}
		})
	}
}

func TestSlicePrefix(t *testing.T) {
	// Service names are DNS labels (63 characters at most), so the
	// dash always fits.
	if got := slicePrefix("web"); got != "web-" {
		t.Errorf("prefix %q, want web-", got)
	}
}
