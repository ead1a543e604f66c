package endpoints

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func testService(mods ...func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", Labels: map[string]string{"tier": "web"}, CreationTimestamp: metav1.Now()},
		Spec: corev1.ServiceSpec{
			Selector:   map[string]string{"app": "web"},
			ClusterIP:  "10.96.0.20",
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Ports:      []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}},
		},
	}
	for _, m := range mods {
		m(svc)
	}
	return svc
}

func testPod(name string, mods ...func(*corev1.Pod)) *corev1.Pod {
	n := 0
	for _, c := range name {
		n = n*31 + int(c)
	}
	ip := fmt.Sprintf("10.244.%d.%d", n%200, n%250+2)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			NodeName:   "node-1",
			Containers: []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}},
		},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			PodIP:      ip,
			PodIPs:     []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}},
		},
	}
	for _, m := range mods {
		m(pod)
	}
	return pod
}

var (
	notReady    = func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
	terminating = func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Now()} }
	noHTTPPort  = func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil }
)

// describe summarizes subsets as "ports: ready | not ready" by pod name,
// in the order given.
func describe(subsets []corev1.EndpointSubset) []string {
	var out []string
	for _, s := range subsets {
		var ports, ready, notReady []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol))
		}
		for _, a := range s.Addresses {
			ready = append(ready, a.TargetRef.Name)
		}
		for _, a := range s.NotReadyAddresses {
			notReady = append(notReady, a.TargetRef.Name)
		}
		sort.Strings(ready)
		sort.Strings(notReady)
		out = append(out, strings.Join(ports, ",")+": "+strings.Join(ready, ",")+" | "+strings.Join(notReady, ","))
	}
	sort.Strings(out)
	return out
}

func TestDesiredSubsets(t *testing.T) {
	twoPorts := func(s *corev1.Service) {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9100)})
	}
	headlessNoPorts := func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.Ports = corev1.ClusterIPNone, nil }
	for _, tc := range []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []string
	}{
		{"ready and not ready pods", testService(), []*corev1.Pod{testPod("a"), testPod("b", notReady)}, []string{"http:8080/TCP: a | b"}},
		{"terminating pods are left out", testService(), []*corev1.Pod{testPod("a"), testPod("b", terminating)}, []string{"http:8080/TCP: a | "}},
		{
			"publishNotReadyAddresses publishes not ready and terminating pods as ready",
			testService(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			[]*corev1.Pod{testPod("a", notReady), testPod("b", terminating)},
			[]string{"http:8080/TCP: a,b | "},
		},
		{
			"pods without an IP and terminal pods are left out", testService(),
			[]*corev1.Pod{
				testPod("a"),
				testPod("noip", func(p *corev1.Pod) { p.Status.PodIP, p.Status.PodIPs = "", nil }),
				testPod("done", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
			},
			[]string{"http:8080/TCP: a | "},
		},
		{
			"a pod lacking a named port is left out of that port only", testService(twoPorts),
			[]*corev1.Pod{testPod("a"), testPod("b", noHTTPPort)},
			[]string{"http:8080/TCP: a | ", "metrics:9100/TCP: a,b | "},
		},
		{
			"ports shared by the same pods share a subset", testService(twoPorts),
			[]*corev1.Pod{testPod("a"), testPod("b", notReady)},
			[]string{"http:8080/TCP,metrics:9100/TCP: a | b"},
		},
		{
			"pods resolving a named port differently get their own subsets", testService(),
			[]*corev1.Pod{testPod("a"), testPod("b", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 8081 })},
			[]string{"http:8080/TCP: a | ", "http:8081/TCP: b | "},
		},
		{"a headless service without ports lists its pods", testService(headlessNoPorts), []*corev1.Pod{testPod("a"), testPod("b", notReady)}, []string{": a | b"}},
		{"a service with a cluster IP and no ports lists nothing", testService(func(s *corev1.Service) { s.Spec.Ports = nil }), []*corev1.Pod{testPod("a")}, nil},
		{
			"an IPv6 service takes the pods' IPv6 addresses, and leaves out pods without one",
			testService(func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} }),
			[]*corev1.Pod{testPod("a", func(p *corev1.Pod) { p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: "fd00::a"}) }), testPod("b")},
			[]string{"http:8080/TCP: a | "},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describe(desiredSubsets(tc.svc, tc.pods)); !slices.Equal(got, tc.want) {
				t.Errorf("subsets %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEndpointAddress(t *testing.T) {
	headless := testService(func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone })
	for _, tc := range []struct {
		name         string
		pod          *corev1.Pod
		wantHostname string
	}{
		{"hostname when the subdomain is the service", testPod("a", func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "web-0", "web" }), "web-0"},
		{"no hostname for another subdomain", testPod("a", func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "web-0", "db" }), ""},
		{"no hostname without one", testPod("a", func(p *corev1.Pod) { p.Spec.Subdomain = "web" }), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, ok := endpointAddress(headless, tc.pod)
			if !ok {
				t.Fatal("no address")
			}
			if addr.Hostname != tc.wantHostname {
				t.Errorf("hostname %q, want %q", addr.Hostname, tc.wantHostname)
			}
			if addr.NodeName == nil || *addr.NodeName != "node-1" || addr.IP != tc.pod.Status.PodIP {
				t.Errorf("address %+v, want the pod's IP on node-1", addr)
			}
			if ref := addr.TargetRef; ref == nil || ref.Kind != "Pod" || ref.Name != "a" || ref.UID != "uid-a" || ref.ResourceVersion != "" {
				t.Errorf("target ref %+v, want the pod without a resource version", ref)
			}
		})
	}
}

func TestRepackSubsetsNotReadyWins(t *testing.T) {
	addr := corev1.EndpointAddress{IP: "10.244.0.2", TargetRef: &corev1.ObjectReference{UID: "u", Name: "a"}}
	http := corev1.EndpointPort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}
	metrics := corev1.EndpointPort{Name: "metrics", Port: 90, Protocol: corev1.ProtocolTCP}
	got := RepackSubsets([]corev1.EndpointSubset{
		{Addresses: []corev1.EndpointAddress{addr}, Ports: []corev1.EndpointPort{http}},
		{NotReadyAddresses: []corev1.EndpointAddress{addr}, Ports: []corev1.EndpointPort{http}},
		{NotReadyAddresses: []corev1.EndpointAddress{addr}, Ports: []corev1.EndpointPort{metrics}},
	})
	if want := []string{"http:80/TCP,metrics:90/TCP:  | a"}; !slices.Equal(describe(got), want) {
		t.Errorf("repacked %q, want %q", describe(got), want)
	}
}

func TestRepackSubsetsIsCanonical(t *testing.T) {
	pods := []*corev1.Pod{testPod("a"), testPod("b", notReady), testPod("c"), testPod("d", noHTTPPort)}
	svc := testService(func(s *corev1.Service) {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9100)})
	})
	want := desiredSubsets(svc, pods)
	reversed := slices.Clone(pods)
	slices.Reverse(reversed)
	if got := desiredSubsets(svc, reversed); !subsetsEqual(got, want) {
		t.Errorf("pod order changes the subsets:\n%v\n%v", got, want)
	}
}

func addresses(n int, prefix string) []corev1.EndpointAddress {
	out := make([]corev1.EndpointAddress, n)
	for i := range out {
		out[i] = corev1.EndpointAddress{IP: fmt.Sprintf("10.%d.%d.%d", len(prefix), i/250, i%250+1)}
	}
	return out
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name          string
		subsets       []corev1.EndpointSubset
		wantTruncated bool
		// want is each subset's ready and not ready counts.
		want [][2]int
	}{
		{"at capacity nothing is cut", []corev1.EndpointSubset{{Addresses: addresses(600, "a"), NotReadyAddresses: addresses(400, "b")}}, false, [][2]int{{600, 400}}},
		{"not ready addresses go first", []corev1.EndpointSubset{{Addresses: addresses(900, "a"), NotReadyAddresses: addresses(300, "b")}}, true, [][2]int{{900, 100}}},
		{
			"ready addresses over capacity are shared in proportion, not ready ones dropped",
			[]corev1.EndpointSubset{
				{Addresses: addresses(1200, "a"), NotReadyAddresses: addresses(10, "b")},
				{Addresses: addresses(300, "c")},
			},
			true, [][2]int{{800, 0}, {200, 0}},
		},
		{
			"subsets cut to nothing are dropped",
			[]corev1.EndpointSubset{
				{Addresses: addresses(1001, "a")},
				{NotReadyAddresses: addresses(5, "b")},
			},
			true, [][2]int{{1000, 0}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, truncated := truncate(tc.subsets)
			if truncated != tc.wantTruncated {
				t.Errorf("truncated %v, want %v", truncated, tc.wantTruncated)
			}
			var counts [][2]int
			for _, s := range got {
				counts = append(counts, [2]int{len(s.Addresses), len(s.NotReadyAddresses)})
			}
			if !slices.Equal(counts, tc.want) {
				t.Errorf("counts %v, want %v", counts, tc.want)
			}
		})
	}
}

func TestCapacityAnnotationCorrect(t *testing.T) {
	over := []corev1.EndpointSubset{{Addresses: addresses(1001, "a")}}
	under := []corev1.EndpointSubset{{Addresses: addresses(3, "a")}}
	annotated := map[string]string{corev1.EndpointsOverCapacity: overCapacityTruncated}
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		subsets     []corev1.EndpointSubset
		want        bool
	}{
		{"under capacity without annotation", nil, under, true},
		{"under capacity with a stale annotation", annotated, under, false},
		{"over capacity always needs rewriting", annotated, over, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := capacityAnnotationCorrect(tc.annotations, tc.subsets); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
