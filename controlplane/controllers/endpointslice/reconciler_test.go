package endpointslice

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"github.com/kindish/kindish/controlplane/controllers/endpointslice/managedslices"
)

const testNode = "node-1"

// newFakeClient is a fake clientset that, unlike the stock one, names
// slices from generateName and gives them a uid and resource versions,
// as the API server does.
func newFakeClient() *fake.Clientset {
	client := fake.NewClientset()
	var n, version int
	client.PrependReactor("create", "endpointslices", func(a k8stesting.Action) (bool, runtime.Object, error) {
		s := a.(k8stesting.CreateAction).GetObject().(*discoveryv1.EndpointSlice)
		if s.Name == "" {
			n++
			s.Name = fmt.Sprintf("%s%05d", s.GenerateName, n)
		}
		s.UID = types.UID("uid-" + s.Name)
		version++
		s.ResourceVersion = fmt.Sprint(version)
		return false, nil, nil
	})
	client.PrependReactor("update", "endpointslices", func(a k8stesting.Action) (bool, runtime.Object, error) {
		version++
		a.(k8stesting.UpdateAction).GetObject().(*discoveryv1.EndpointSlice).ResourceVersion = fmt.Sprint(version)
		return false, nil, nil
	})
	return client
}

func newTestReconciler(t *testing.T, maxPerSlice int) (*reconciler, *fake.Clientset) {
	t.Helper()
	client := newFakeClient()
	nodes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := nodes.Add(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode, Labels: map[string]string{corev1.LabelTopologyZone: "z1"}}}); err != nil {
		t.Fatal(err)
	}
	return &reconciler{
		client:      client,
		nodeLister:  corelisters.NewNodeLister(nodes),
		maxPerSlice: maxPerSlice,
		tracker:     managedslices.NewTracker(),
	}, client
}

func testService(mods ...func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "svc-uid", Labels: map[string]string{"tier": "web"}, CreationTimestamp: metav1.Now()},
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

func testPod(i int, mods ...func(*corev1.Pod)) *corev1.Pod {
	ip := fmt.Sprintf("10.244.%d.%d", i/200, i%200+2)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("pod-%04d", i), UID: types.UID(fmt.Sprintf("pod-uid-%d", i)), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			NodeName:   testNode,
			Containers: []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}},
		},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			PodIP:      ip,
			PodIPs:     []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, m := range mods {
		m(pod)
	}
	return pod
}

func testPods(n int) []*corev1.Pod {
	pods := make([]*corev1.Pod, n)
	for i := range pods {
		pods[i] = testPod(i)
	}
	return pods
}

func storedSlices(t *testing.T, client *fake.Clientset) []*discoveryv1.EndpointSlice {
	t.Helper()
	list, err := client.DiscoveryV1().EndpointSlices("ns").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*discoveryv1.EndpointSlice, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	slices.SortFunc(out, func(a, b *discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func sizes(slices []*discoveryv1.EndpointSlice) []int {
	out := make([]int, len(slices))
	for i, s := range slices {
		out[i] = len(s.Endpoints)
	}
	return out
}

// writes counts the create, update and delete calls made since the
// fake's actions were last cleared.
func writes(client *fake.Clientset) (creates, updates, deletes int) {
	for _, a := range client.Actions() {
		switch a.GetVerb() {
		case "create":
			creates++
		case "update":
			updates++
		case "delete":
			deletes++
		}
	}
	return creates, updates, deletes
}

func mustReconcile(t *testing.T, r *reconciler, svc *corev1.Service, pods []*corev1.Pod, existing []*discoveryv1.EndpointSlice) {
	t.Helper()
	if err := r.reconcile(context.Background(), svc, pods, existing, time.Time{}); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
}

// TestReconcileFromScratch pins down the slices made for a Service that
// has none yet.
func TestReconcileFromScratch(t *testing.T) {
	for _, tc := range []struct {
		name        string
		pods        int
		maxPerSlice int
		wantSizes   []int
	}{
		{"no pods make one empty placeholder", 0, 100, []int{0}},
		{"a few pods make one slice", 3, 100, []int{3}},
		{"exactly the cap makes one full slice", 100, 100, []int{100}},
		{"more than the cap fills slices to it", 250, 100, []int{100, 100, 50}},
		{"a smaller cap splits sooner", 5, 2, []int{2, 2, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, client := newTestReconciler(t, tc.maxPerSlice)
			mustReconcile(t, r, testService(), testPods(tc.pods), nil)
			got := storedSlices(t, client)
			if !slices.Equal(sizes(got), tc.wantSizes) {
				t.Errorf("slice sizes %v, want %v", sizes(got), tc.wantSizes)
			}
			seen := map[string]bool{}
			for _, s := range got {
				for _, ep := range s.Endpoints {
					if seen[ep.TargetRef.Name] {
						t.Errorf("pod %s in two slices", ep.TargetRef.Name)
					}
					seen[ep.TargetRef.Name] = true
				}
			}
			if len(seen) != tc.pods {
				t.Errorf("%d pods published, want %d", len(seen), tc.pods)
			}
		})
	}
}

// TestReconcileMinimalChurn pins down that a second reconcile changes
// only what it must, and in place.
func TestReconcileMinimalChurn(t *testing.T) {
	notReady := func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
	for _, tc := range []struct {
		name                      string
		before, after             []*corev1.Pod
		svcAfter                  *corev1.Service
		maxPerSlice               int
		creates, updates, deletes int
		wantSizes                 []int
		wantSameNames             bool
		conditionPod              string
		wantCondition             string
		wantLabel, wantLabelValue string
	}{
		{name: "nothing changed writes nothing", before: testPods(3), after: testPods(3), wantSizes: []int{3}, wantSameNames: true},
		{name: "an empty Service keeps its placeholder", before: nil, after: nil, wantSizes: []int{0}, wantSameNames: true},
		{
			name: "readiness change updates the slice in place", before: testPods(3),
			after:   []*corev1.Pod{testPod(0), testPod(1, notReady), testPod(2)},
			updates: 1, wantSizes: []int{3}, wantSameNames: true,
			conditionPod: "pod-0001", wantCondition: "ready=false serving=false terminating=false",
		},
		{
			name: "a new pod joins the existing slice", before: testPods(3), after: testPods(4),
			updates: 1, wantSizes: []int{4}, wantSameNames: true,
		},
		{
			name: "a removed pod leaves its slice", before: testPods(3), after: testPods(2),
			updates: 1, wantSizes: []int{2}, wantSameNames: true,
		},
		{
			name: "replaced pods reuse the slice rather than delete and create", before: testPods(3),
			after:   []*corev1.Pod{testPod(10), testPod(11)},
			updates: 1, wantSizes: []int{2}, wantSameNames: true,
		},
		{
			name: "the last pod gone turns the slice into the placeholder", before: testPods(2), after: nil,
			updates: 1, wantSizes: []int{0}, wantSameNames: true,
		},
		{
			name: "pods arriving fill the slice that they fit best", before: testPods(7), after: testPods(9), maxPerSlice: 5,
			updates: 1, wantSizes: []int{5, 4}, wantSameNames: true,
		},
		{
			name: "service labels follow to the slices", before: testPods(2), after: testPods(2),
			svcAfter: testService(func(s *corev1.Service) { s.Labels = map[string]string{"tier": "backend"} }),
			updates:  1, wantSizes: []int{2}, wantSameNames: true, wantLabel: "tier", wantLabelValue: "backend",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.maxPerSlice
			if max == 0 {
				max = 100
			}
			r, client := newTestReconciler(t, max)
			svc := testService()
			mustReconcile(t, r, svc, tc.before, nil)
			before := storedSlices(t, client)
			client.ClearActions()
			if tc.svcAfter != nil {
				svc = tc.svcAfter
			}
			mustReconcile(t, r, svc, tc.after, before)
			c, u, d := writes(client)
			if c != tc.creates || u != tc.updates || d != tc.deletes {
				t.Errorf("wrote %d creates, %d updates, %d deletes; want %d, %d, %d", c, u, d, tc.creates, tc.updates, tc.deletes)
			}
			after := storedSlices(t, client)
			if !slices.Equal(sizes(after), tc.wantSizes) {
				t.Errorf("slice sizes %v, want %v", sizes(after), tc.wantSizes)
			}
			names := func(ss []*discoveryv1.EndpointSlice) (out []string) {
				for _, s := range ss {
					out = append(out, s.Name)
				}
				return out
			}
			if tc.wantSameNames && !slices.Equal(names(before), names(after)) {
				t.Errorf("slices %v became %v, want the same", names(before), names(after))
			}
			if tc.conditionPod != "" {
				if got := conditionsOf(after, tc.conditionPod); got != tc.wantCondition {
					t.Errorf("pod %s: %s, want %s", tc.conditionPod, got, tc.wantCondition)
				}
			}
			if tc.wantLabel != "" {
				for _, s := range after {
					if s.Labels[tc.wantLabel] != tc.wantLabelValue || s.Labels[discoveryv1.LabelManagedBy] != ManagedBy {
						t.Errorf("slice labels %v, want %s=%s and the manager's", s.Labels, tc.wantLabel, tc.wantLabelValue)
					}
				}
			}
		})
	}
}

func conditionsOf(slices []*discoveryv1.EndpointSlice, pod string) string {
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			if ep.TargetRef.Name == pod {
				return fmt.Sprintf("ready=%v serving=%v terminating=%v", *ep.Conditions.Ready, *ep.Conditions.Serving, *ep.Conditions.Terminating)
			}
		}
	}
	return "absent"
}

// TestReconcileOwnership pins down what happens to slices that are not
// this Service's.
func TestReconcileOwnership(t *testing.T) {
	r, client := newTestReconciler(t, 100)
	old := testService(func(s *corev1.Service) { s.UID = "old-uid" })
	mustReconcile(t, r, old, testPods(2), nil)
	stale := storedSlices(t, client)
	client.ClearActions()

	// A new Service of the same name writes its own slice; the old one's
	// is not reused, but deleted.
	mustReconcile(t, r, testService(), testPods(2), stale)
	got := storedSlices(t, client)
	if len(got) != 1 || got[0].Name == stale[0].Name || !ownedBy(got[0], testService()) {
		t.Fatalf("slices %v after a new Service replaced %s, want one new slice owned by it", sizes(got), stale[0].Name)
	}
	if c, _, d := writes(client); c != 1 || d != 1 {
		t.Errorf("%d creates and %d deletes, want one of each", c, d)
	}
}

// TestReconcileUnknownNode pins down that pods on nodes the cache lacks
// are skipped, and the Service retried, unless it publishes every
// address.
func TestReconcileUnknownNode(t *testing.T) {
	onGhost := func(p *corev1.Pod) { p.Spec.NodeName = "ghost" }
	for _, tc := range []struct {
		name            string
		publishNotReady bool
		wantErr         bool
		wantPods        int
	}{
		{"skipped and reported", false, true, 1},
		{"published with publishNotReadyAddresses", true, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, client := newTestReconciler(t, 100)
			svc := testService(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = tc.publishNotReady })
			err := r.reconcile(context.Background(), svc, []*corev1.Pod{testPod(0), testPod(1, onGhost)}, nil, time.Time{})
			if (err != nil) != tc.wantErr {
				t.Errorf("reconcile error %v, want error %v", err, tc.wantErr)
			}
			if got := sizes(storedSlices(t, client)); !slices.Equal(got, []int{tc.wantPods}) {
				t.Errorf("slice sizes %v, want [%d]", got, tc.wantPods)
			}
		})
	}
}

// TestReconcileAddressTypes pins down one group of slices per IP family.
func TestReconcileAddressTypes(t *testing.T) {
	dual := func(p *corev1.Pod) {
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: "fd00::" + strings.TrimPrefix(p.Name, "pod-")})
	}
	r, client := newTestReconciler(t, 100)
	svc := testService(func(s *corev1.Service) {
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	})
	pods := []*corev1.Pod{testPod(1, dual), testPod(2, dual)}
	mustReconcile(t, r, svc, pods, nil)
	got := map[discoveryv1.AddressType][]string{}
	for _, s := range storedSlices(t, client) {
		for _, ep := range s.Endpoints {
			got[s.AddressType] = append(got[s.AddressType], ep.Addresses...)
		}
	}
	slices.Sort(got[discoveryv1.AddressTypeIPv4])
	slices.Sort(got[discoveryv1.AddressTypeIPv6])
	if want := []string{"10.244.0.3", "10.244.0.4"}; !slices.Equal(got[discoveryv1.AddressTypeIPv4], want) {
		t.Errorf("IPv4 addresses %v, want %v", got[discoveryv1.AddressTypeIPv4], want)
	}
	if want := []string{"fd00::1", "fd00::2"}; !slices.Equal(got[discoveryv1.AddressTypeIPv6], want) {
		t.Errorf("IPv6 addresses %v, want %v", got[discoveryv1.AddressTypeIPv6], want)
	}

	// Back to single stack: the IPv6 slices go.
	client.ClearActions()
	mustReconcile(t, r, testService(), pods, storedSlices(t, client))
	for _, s := range storedSlices(t, client) {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			t.Errorf("slice %s of %s left after the family was dropped", s.Name, s.AddressType)
		}
	}
}

// TestReconcileDeletingService pins down that a Service being deleted
// gets no new slices, which would race the garbage collector.
func TestReconcileDeletingService(t *testing.T) {
	r, client := newTestReconciler(t, 100)
	svc := testService(func(s *corev1.Service) { s.DeletionTimestamp = &metav1.Time{Time: time.Now()} })
	mustReconcile(t, r, svc, testPods(3), nil)
	if c, _, _ := writes(client); c != 0 {
		t.Errorf("%d slices created for a Service being deleted", c)
	}
}

// TestReconcileTriggerTime pins down the annotation on written slices.
func TestReconcileTriggerTime(t *testing.T) {
	r, client := newTestReconciler(t, 100)
	at := time.Date(2024, 5, 6, 7, 8, 9, 123000000, time.FixedZone("x", 3600))
	if err := r.reconcile(context.Background(), testService(), testPods(1), nil, at); err != nil {
		t.Fatal(err)
	}
	got := storedSlices(t, client)[0].Annotations[corev1.EndpointsLastChangeTriggerTime]
	if want := "2024-05-06T06:08:09.123Z"; got != want {
		t.Errorf("trigger time annotation %q, want %q", got, want)
	}
}
