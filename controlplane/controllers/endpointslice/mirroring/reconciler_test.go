package mirroring

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"github.com/kindish/kindish/controlplane/controllers/endpointslice/managedslices"
)

// newTestReconciler mirrors into a fake clientset that names slices from
// generateName, as the API server does.
func newTestReconciler(t *testing.T, maxPerSubset int) (*reconciler, *fake.Clientset, *record.FakeRecorder) {
	t.Helper()
	client := fake.NewClientset()
	n := 0
	client.PrependReactor("create", "endpointslices", func(a k8stesting.Action) (bool, runtime.Object, error) {
		s := a.(k8stesting.CreateAction).GetObject().(*discoveryv1.EndpointSlice)
		if s.Name == "" {
			n++
			s.Name = fmt.Sprintf("%s%05d", s.GenerateName, n)
		}
		s.UID = types.UID("uid-" + s.Name)
		return false, nil, nil
	})
	recorder := record.NewFakeRecorder(10)
	return &reconciler{client: client, recorder: recorder, maxPerSubset: maxPerSubset, tracker: managedslices.NewTracker()}, client, recorder
}

func stored(t *testing.T, client *fake.Clientset) []*discoveryv1.EndpointSlice {
	t.Helper()
	list, err := client.DiscoveryV1().EndpointSlices("ns").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*discoveryv1.EndpointSlice, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out
}

// describeSlices renders slices as "type ports: address(ready)..." sorted.
func describeSlices(list []*discoveryv1.EndpointSlice) []string {
	var out []string
	for _, s := range list {
		var ports, eps []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d", *p.Name, *p.Port))
		}
		for _, ep := range s.Endpoints {
			eps = append(eps, fmt.Sprintf("%s(%v)", ep.Addresses[0], *ep.Conditions.Ready))
		}
		sort.Strings(ports)
		sort.Strings(eps)
		out = append(out, fmt.Sprintf("%s %s: %s", s.AddressType, strings.Join(ports, ","), strings.Join(eps, " ")))
	}
	sort.Strings(out)
	return out
}

func addrs(ips ...string) []corev1.EndpointAddress {
	out := make([]corev1.EndpointAddress, len(ips))
	for i, ip := range ips {
		out[i] = corev1.EndpointAddress{IP: ip}
	}
	return out
}

func testEndpoints(subsets ...corev1.EndpointSubset) *corev1.Endpoints {
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: "db", UID: "ep-uid",
			Labels:      map[string]string{"team": "data"},
			Annotations: map[string]string{"note": "kept", corev1.EndpointsLastChangeTriggerTime: "dropped"},
		},
		Subsets: subsets,
	}
}

func TestMirror(t *testing.T) {
	pg := []corev1.EndpointPort{{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}}
	for _, tc := range []struct {
		name        string
		endpoints   *corev1.Endpoints
		max         int
		want        []string
		wantReasons []string
	}{
		{
			"ready and not ready addresses",
			testEndpoints(corev1.EndpointSubset{Addresses: addrs("10.1.0.1", "10.1.0.2"), NotReadyAddresses: addrs("10.1.0.3"), Ports: pg}),
			10, []string{"IPv4 pg:5432: 10.1.0.1(true) 10.1.0.2(true) 10.1.0.3(false)"}, nil,
		},
		{
			"one slice per address type",
			testEndpoints(corev1.EndpointSubset{Addresses: addrs("10.1.0.1", "fd00::1"), Ports: pg}),
			10, []string{"IPv4 pg:5432: 10.1.0.1(true)", "IPv6 pg:5432: fd00::1(true)"}, nil,
		},
		{
			"one slice per set of ports",
			testEndpoints(
				corev1.EndpointSubset{Addresses: addrs("10.1.0.1"), Ports: pg},
				corev1.EndpointSubset{Addresses: addrs("10.1.0.2"), Ports: []corev1.EndpointPort{{Name: "http", Port: 80}}},
			),
			10, []string{"IPv4 http:80: 10.1.0.2(true)", "IPv4 pg:5432: 10.1.0.1(true)"}, nil,
		},
		{
			"invalid addresses are skipped with an event",
			testEndpoints(corev1.EndpointSubset{Addresses: addrs("10.1.0.1", "db.example.com"), Ports: pg}),
			10, []string{"IPv4 pg:5432: 10.1.0.1(true)"}, []string{ReasonInvalidIPAddress},
		},
		{
			"addresses beyond the per-subset cap are skipped with an event",
			testEndpoints(corev1.EndpointSubset{Addresses: addrs("10.1.0.1", "10.1.0.2"), NotReadyAddresses: addrs("10.1.0.3"), Ports: pg}),
			2, []string{"IPv4 pg:5432: 10.1.0.1(true) 10.1.0.2(true)"}, []string{ReasonTooManyAddressesToMirror},
		},
		{"no subsets, no slices", testEndpoints(), 10, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, client, recorder := newTestReconciler(t, tc.max)
			if err := r.reconcile(context.Background(), tc.endpoints, nil); err != nil {
				t.Fatal(err)
			}
			list := stored(t, client)
			if got := describeSlices(list); !slices.Equal(got, tc.want) {
				t.Errorf("slices %q, want %q", got, tc.want)
			}
			for _, s := range list {
				if s.Labels[discoveryv1.LabelManagedBy] != ManagedBy || s.Labels[discoveryv1.LabelServiceName] != "db" || s.Labels["team"] != "data" {
					t.Errorf("labels %v, want the mirror's and the endpoints'", s.Labels)
				}
				if s.Annotations["note"] != "kept" || s.Annotations[corev1.EndpointsLastChangeTriggerTime] != "" {
					t.Errorf("annotations %v, want the endpoints' but the trigger time", s.Annotations)
				}
				if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Kind != "Endpoints" || s.OwnerReferences[0].UID != "ep-uid" {
					t.Errorf("owner references %+v, want the endpoints", s.OwnerReferences)
				}
			}
			var reasons []string
			for len(recorder.Events) > 0 {
				reasons = append(reasons, strings.Fields(<-recorder.Events)[1])
			}
			if !slices.Equal(reasons, tc.wantReasons) {
				t.Errorf("event reasons %v, want %v", reasons, tc.wantReasons)
			}
		})
	}
}

func TestMirrorUpdatesInPlace(t *testing.T) {
	pg := []corev1.EndpointPort{{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}}
	r, client, _ := newTestReconciler(t, 10)
	ep := testEndpoints(corev1.EndpointSubset{Addresses: addrs("10.1.0.1"), Ports: pg})
	if err := r.reconcile(context.Background(), ep, nil); err != nil {
		t.Fatal(err)
	}
	before := stored(t, client)

	for _, step := range []struct {
		name      string
		change    func(*corev1.Endpoints)
		wantVerbs []string
	}{
		{"nothing changed", func(*corev1.Endpoints) {}, nil},
		{"an address added", func(e *corev1.Endpoints) { e.Subsets[0].Addresses = addrs("10.1.0.1", "10.1.0.2") }, []string{"update"}},
		{"a label changed", func(e *corev1.Endpoints) { e.Labels["team"] = "storage" }, []string{"update"}},
		{"the port changed: the slice is reused", func(e *corev1.Endpoints) { e.Subsets[0].Ports[0].Port = 5433 }, []string{"update"}},
		{"all addresses gone", func(e *corev1.Endpoints) { e.Subsets = nil }, []string{"delete"}},
	} {
		step.change(ep)
		client.ClearActions()
		if err := r.reconcile(context.Background(), ep, stored(t, client)); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		var verbs []string
		for _, a := range client.Actions() {
			if a.GetVerb() != "list" {
				verbs = append(verbs, a.GetVerb())
			}
		}
		if !slices.Equal(verbs, step.wantVerbs) {
			t.Errorf("%s: calls %v, want %v", step.name, verbs, step.wantVerbs)
		}
		if now := stored(t, client); len(now) == 1 && now[0].Name != before[0].Name {
			t.Errorf("%s: slice %s replaced by %s", step.name, before[0].Name, now[0].Name)
		}
	}
}
