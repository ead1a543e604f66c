package podendpoint

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func pod(mods ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", ResourceVersion: "1", Labels: map[string]string{"app": "a"}},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			PodIP:      "10.244.0.5",
			PodIPs:     []corev1.PodIP{{IP: "10.244.0.5"}, {IP: "fd00::5"}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func TestInclude(t *testing.T) {
	deleting := func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Now()} }
	for _, tc := range []struct {
		name                string
		pod                 *corev1.Pod
		includeTerminating  bool
		want                bool
		wantWithTerminating bool
	}{
		{"running pod with an IP", pod(), false, true, true},
		{"pod without an IP yet", pod(func(p *corev1.Pod) { p.Status.PodIP, p.Status.PodIPs = "", nil }), false, false, false},
		{"pod with only the legacy podIP", pod(func(p *corev1.Pod) { p.Status.PodIPs = nil }), false, true, true},
		{"succeeded pod", pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }), false, false, false},
		{"failed pod", pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }), false, false, false},
		{"terminating pod", pod(deleting), false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Include(tc.pod, false); got != tc.want {
				t.Errorf("Include without terminating = %v, want %v", got, tc.want)
			}
			if got := Include(tc.pod, true); got != tc.wantWithTerminating {
				t.Errorf("Include with terminating = %v, want %v", got, tc.wantWithTerminating)
			}
		})
	}
}

func TestIPsAndFamilies(t *testing.T) {
	p := pod()
	if got := IPs(p, corev1.IPv4Protocol); !slices.Equal(got, []string{"10.244.0.5"}) {
		t.Errorf("IPv4 %v", got)
	}
	if got := IPs(p, corev1.IPv6Protocol); !slices.Equal(got, []string{"fd00::5"}) {
		t.Errorf("IPv6 %v", got)
	}
	for _, tc := range []struct {
		name string
		spec corev1.ServiceSpec
		want []corev1.IPFamily
	}{
		{"spec.ipFamilies decide", corev1.ServiceSpec{IPFamilies: []corev1.IPFamily{corev1.IPv6Protocol}, ClusterIP: "10.96.0.1"}, []corev1.IPFamily{corev1.IPv6Protocol}},
		{"else the cluster IP", corev1.ServiceSpec{ClusterIP: "fd00:96::1"}, []corev1.IPFamily{corev1.IPv6Protocol}},
		{"headless without families gets both", corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}, []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Families(&corev1.Service{Spec: tc.spec}); !slices.Equal(got, tc.want) {
				t.Errorf("families %v, want %v", got, tc.want)
			}
		})
	}
}

func serviceLister(t *testing.T, services ...*corev1.Service) corelisters.ServiceLister {
	t.Helper()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, s := range services {
		if err := idx.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	return corelisters.NewServiceLister(idx)
}

func TestServicesToSyncOnPodUpdate(t *testing.T) {
	lister := serviceLister(t,
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "svc-a"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "a"}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "svc-b"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "b"}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "svc-all"}, Spec: corev1.ServiceSpec{Selector: map[string]string{}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "no-selector"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "svc-a"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "a"}}},
	)
	bump := func(p *corev1.Pod) { p.ResourceVersion = "2" }
	for _, tc := range []struct {
		name string
		new  *corev1.Pod
		want []string
	}{
		{"resync (same version) syncs nothing", pod(), nil},
		{"a change endpoints do not show syncs nothing", pod(bump, func(p *corev1.Pod) { p.Annotations = map[string]string{"x": "y"} }), nil},
		{"readiness change syncs the pod's services", pod(bump, func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }), []string{"ns/svc-a", "ns/svc-all"}},
		{"IP change syncs the pod's services", pod(bump, func(p *corev1.Pod) { p.Status.PodIPs = p.Status.PodIPs[:1] }), []string{"ns/svc-a", "ns/svc-all"}},
		{"deletion syncs the pod's services", pod(bump, func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Now()} }), []string{"ns/svc-a", "ns/svc-all"}},
		{"turning terminal syncs the pod's services", pod(bump, func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }), []string{"ns/svc-a", "ns/svc-all"}},
		{"relabelling syncs the services left and joined only", pod(bump, func(p *corev1.Pod) { p.Labels = map[string]string{"app": "b"} }), []string{"ns/svc-a", "ns/svc-b"}},
		{
			"relabelling with another change syncs every service before and after",
			pod(bump, func(p *corev1.Pod) { p.Labels = map[string]string{"app": "b"}; p.Status.PodIPs = nil }),
			[]string{"ns/svc-a", "ns/svc-all", "ns/svc-b"},
		},
		{"hostname change syncs the pod's services", pod(bump, func(p *corev1.Pod) { p.Spec.Hostname = "h" }), []string{"ns/svc-a", "ns/svc-all"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ServicesToSyncOnPodUpdate(lister, pod(), tc.new)
			if err != nil {
				t.Fatal(err)
			}
			if gotList := sets.List(got); !slices.Equal(gotList, tc.want) {
				t.Errorf("services %v, want %v", gotList, tc.want)
			}
		})
	}
}

func TestTriggerTimeTracker(t *testing.T) {
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "svc", CreationTimestamp: metav1.Time{Time: created}}}
	readyAt := func(name string, at time.Time) *corev1.Pod {
		return pod(func(p *corev1.Pod) {
			p.Name = name
			p.Status.Conditions[0].LastTransitionTime = metav1.Time{Time: at}
		})
	}
	t1, t2, t3 := created.Add(time.Minute), created.Add(2*time.Minute), created.Add(3*time.Minute)
	tr := NewTriggerTimeTracker()
	steps := []struct {
		name string
		pods []*corev1.Pod
		want time.Time
	}{
		{"a new Service takes its creation", []*corev1.Pod{readyAt("a", t1)}, created},
		{"nothing moved: no trigger time", []*corev1.Pod{readyAt("a", t1)}, time.Time{}},
		{"the earliest of the changes since", []*corev1.Pod{readyAt("a", t3), readyAt("b", t2)}, t2},
		{"a pod gone is no trigger", []*corev1.Pod{readyAt("b", t2)}, time.Time{}},
	}
	for _, s := range steps {
		if got := tr.Compute(svc, s.pods); !got.Equal(s.want) {
			t.Errorf("%s: %v, want %v", s.name, got, s.want)
		}
	}
	tr.Forget("ns", "svc")
	if got := tr.Compute(svc, nil); !got.Equal(created) {
		t.Errorf("after Forget: %v, want the creation time again", got)
	}
}
