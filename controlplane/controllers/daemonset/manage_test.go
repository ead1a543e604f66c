package daemonset

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
)

// fixture is a controller on a fake clientset whose informer caches the
// test fills by hand: what the controller sees is exactly what the test
// put there.
type fixture struct {
	c        *Controller
	client   *fake.Clientset
	factory  informers.SharedInformerFactory
	recorder *record.FakeRecorder
	clock    *testingclock.FakeClock
}

func newFixture(t *testing.T, objects ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objects...)
	factory := informers.NewSharedInformerFactory(client, 0)
	f := &fixture{client: client, factory: factory, recorder: record.NewFakeRecorder(100), clock: testingclock.NewFakeClock(time.Now())}
	// The fake clientset does not generate names, as the API server does.
	generated := 0
	client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		pod := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		if pod.Name == "" && pod.GenerateName != "" {
			generated++
			pod.Name = fmt.Sprintf("%s%d", pod.GenerateName, generated)
		}
		return false, nil, nil
	})
	f.c = New(client, factory, f.recorder, Config{Clock: f.clock})
	for _, obj := range objects {
		var err error
		switch o := obj.(type) {
		case *appsv1.DaemonSet:
			err = factory.Apps().V1().DaemonSets().Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			err = factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *corev1.Node:
			err = factory.Core().V1().Nodes().Informer().GetIndexer().Add(o)
		case *appsv1.ControllerRevision:
			err = factory.Apps().V1().ControllerRevisions().Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// actions returns the verbs and names of the writes made on resource.
func (f *fixture) actions(verb, resource string) []string {
	var out []string
	for _, a := range f.client.Actions() {
		if a.GetVerb() != verb || a.GetResource().Resource != resource || a.GetSubresource() != "" {
			continue
		}
		switch a := a.(type) {
		case clienttesting.CreateAction:
			pod, ok := a.GetObject().(*corev1.Pod)
			if ok {
				node, _ := targetNodeName(pod)
				out = append(out, node)
				continue
			}
			out = append(out, a.GetObject().(metav1.Object).GetName())
		case clienttesting.DeleteAction:
			out = append(out, a.GetName())
		}
	}
	slices.Sort(out)
	return out
}

func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// daemonPod is a pod of ds on node, at revision hash, created age ago.
func daemonPod(ds *appsv1.DaemonSet, name, node, hash string, age time.Duration, phase corev1.PodPhase, ready bool) *corev1.Pod {
	template := newPodTemplate(ds, hash)
	pod := newPodForNode(ds, &template, node)
	pod.Name = name
	pod.UID = types.UID(name + "-uid")
	pod.CreationTimestamp = metav1.NewTime(time.Now().Add(-age))
	pod.Spec.NodeName = node
	pod.Status.Phase = phase
	if ready {
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(time.Now().Add(-time.Hour))}}
	}
	return pod
}

func withSurge(ds *appsv1.DaemonSet, surge, unavailable int32) *appsv1.DaemonSet {
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{
		Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{
			MaxSurge: new(intstr.FromInt32(surge)), MaxUnavailable: new(intstr.FromInt32(unavailable)),
		},
	}
	return ds
}

func TestPodsShouldBeOnNode(t *testing.T) {
	ds := testDaemonSet()
	surge := withSurge(testDaemonSet(), 1, 0)
	node := testNode("n", nil)
	deleting := daemonPod(ds, "deleting", "n", "new", time.Hour, corev1.PodRunning, true)
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	tests := []struct {
		name       string
		ds         *appsv1.DaemonSet
		node       *corev1.Node
		pods       []*corev1.Pod
		wantCreate bool
		wantDelete []string
		wantEvent  string
	}{
		{name: "node without a pod gets one", ds: ds, node: node, wantCreate: true},
		{name: "node with a running pod keeps it", ds: ds, node: node,
			pods: []*corev1.Pod{daemonPod(ds, "a", "n", "new", time.Hour, corev1.PodRunning, true)}},
		{name: "extra pods go, the oldest stays", ds: ds, node: node,
			pods: []*corev1.Pod{
				daemonPod(ds, "young", "n", "new", time.Minute, corev1.PodRunning, true),
				daemonPod(ds, "old", "n", "new", time.Hour, corev1.PodRunning, true),
			},
			wantDelete: []string{"young"}},
		{name: "failed pod is deleted, with an event", ds: ds, node: node,
			pods:       []*corev1.Pod{daemonPod(ds, "failed", "n", "new", time.Hour, corev1.PodFailed, false)},
			wantDelete: []string{"failed"},
			wantEvent:  "Warning FailedDaemonPod Found failed daemon pod default/failed on node n, will try to kill it"},
		{name: "succeeded pod is deleted, with an event", ds: ds, node: node,
			pods:       []*corev1.Pod{daemonPod(ds, "done", "n", "new", time.Hour, corev1.PodSucceeded, false)},
			wantDelete: []string{"done"},
			wantEvent:  "Normal SucceededDaemonPod Found succeeded daemon pod default/done on node n, will try to delete it"},
		{name: "terminating pod is not deleted again nor replaced yet", ds: ds, node: node, pods: []*corev1.Pod{deleting}},
		{name: "node the daemon no longer suits loses its pods", ds: ds,
			node:       testNode("n", nil, corev1.Taint{Key: "dedicated", Effect: corev1.TaintEffectNoExecute}),
			pods:       []*corev1.Pod{daemonPod(ds, "a", "n", "new", time.Hour, corev1.PodRunning, true)},
			wantDelete: []string{"a"}},
		{name: "untolerated NoSchedule keeps the running pod", ds: ds,
			node: testNode("n", nil, corev1.Taint{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}),
			pods: []*corev1.Pod{daemonPod(ds, "a", "n", "new", time.Hour, corev1.PodRunning, true)}},
		{name: "with surge, the old pod stays until the new one is available", ds: surge, node: node,
			pods: []*corev1.Pod{
				daemonPod(surge, "old", "n", "old", time.Hour, corev1.PodRunning, true),
				daemonPod(surge, "new", "n", "new", time.Minute, corev1.PodPending, false),
			}},
		{name: "with surge, the old pod goes once the new one is available", ds: surge, node: node,
			pods: []*corev1.Pod{
				daemonPod(surge, "old", "n", "old", time.Hour, corev1.PodRunning, true),
				daemonPod(surge, "new", "n", "new", time.Minute, corev1.PodRunning, true),
			},
			wantDelete: []string{"old"}},
		{name: "with surge, an unready old pod goes at once", ds: surge, node: node,
			pods: []*corev1.Pod{
				daemonPod(surge, "old", "n", "old", time.Hour, corev1.PodRunning, false),
				daemonPod(surge, "new", "n", "new", time.Minute, corev1.PodPending, false),
			},
			wantDelete: []string{"old"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			byNode := map[string][]*corev1.Pod{}
			if len(tt.pods) > 0 {
				byNode["n"] = tt.pods
			}
			create, del := f.c.podsShouldBeOnNode(tt.node, byNode, tt.ds, "new")
			if (len(create) > 0) != tt.wantCreate {
				t.Errorf("create %v, want a pod: %v", create, tt.wantCreate)
			}
			slices.Sort(del)
			if !slices.Equal(del, tt.wantDelete) {
				t.Errorf("delete %v, want %v", del, tt.wantDelete)
			}
			events := f.events()
			if tt.wantEvent != "" && !slices.Contains(events, tt.wantEvent) {
				t.Errorf("events %q, want %q", events, tt.wantEvent)
			}
		})
	}
}

func TestFailedPodsAreDeletedWithBackoff(t *testing.T) {
	ds := testDaemonSet()
	node := testNode("n", nil)
	f := newFixture(t)
	byNode := map[string][]*corev1.Pod{"n": {daemonPod(ds, "failed", "n", "h", time.Hour, corev1.PodFailed, false)}}
	if _, del := f.c.podsShouldBeOnNode(node, byNode, ds, "h"); len(del) != 1 {
		t.Fatalf("first failure: delete %v, want the pod", del)
	}
	byNode["n"][0].Name = "failed-again"
	if _, del := f.c.podsShouldBeOnNode(node, byNode, ds, "h"); len(del) != 0 {
		t.Fatalf("failure within the backoff: delete %v, want none", del)
	}
	f.clock.Step(failedPodBackoffInitial + time.Millisecond)
	if _, del := f.c.podsShouldBeOnNode(node, byNode, ds, "h"); len(del) != 1 {
		t.Fatalf("failure after the backoff: delete %v, want the pod", del)
	}
}

func TestRollingUpdate(t *testing.T) {
	nodes := []*corev1.Node{testNode("n1", nil), testNode("n2", nil), testNode("n3", nil)}
	tests := []struct {
		name       string
		ds         *appsv1.DaemonSet
		pods       func(ds *appsv1.DaemonSet) []*corev1.Pod
		wantDelete []string
		wantCreate []string
	}{
		{
			name: "maxUnavailable 2 replaces two available old pods at once",
			ds:   withSurge(testDaemonSet(), 0, 2),
			pods: func(ds *appsv1.DaemonSet) []*corev1.Pod {
				return []*corev1.Pod{
					daemonPod(ds, "p1", "n1", "old", time.Hour, corev1.PodRunning, true),
					daemonPod(ds, "p2", "n2", "old", time.Hour, corev1.PodRunning, true),
					daemonPod(ds, "p3", "n3", "old", time.Hour, corev1.PodRunning, true),
				}
			},
			wantDelete: []string{"p1", "p2"},
		},
		{
			name: "an unavailable new pod uses up maxUnavailable 1",
			ds:   withSurge(testDaemonSet(), 0, 1),
			pods: func(ds *appsv1.DaemonSet) []*corev1.Pod {
				return []*corev1.Pod{
					daemonPod(ds, "p1", "n1", "new", time.Minute, corev1.PodPending, false),
					daemonPod(ds, "p2", "n2", "old", time.Hour, corev1.PodRunning, true),
					daemonPod(ds, "p3", "n3", "old", time.Hour, corev1.PodRunning, true),
				}
			},
		},
		{
			name: "unavailable old pods are replaced whatever maxUnavailable",
			ds:   withSurge(testDaemonSet(), 0, 1),
			pods: func(ds *appsv1.DaemonSet) []*corev1.Pod {
				return []*corev1.Pod{
					daemonPod(ds, "p1", "n1", "old", time.Hour, corev1.PodRunning, false),
					daemonPod(ds, "p2", "n2", "old", time.Hour, corev1.PodRunning, false),
					daemonPod(ds, "p3", "n3", "old", time.Hour, corev1.PodRunning, true),
				}
			},
			wantDelete: []string{"p1", "p2"},
		},
		{
			name: "maxSurge 1 starts one new pod beside an old one and deletes nothing",
			ds:   withSurge(testDaemonSet(), 1, 0),
			pods: func(ds *appsv1.DaemonSet) []*corev1.Pod {
				return []*corev1.Pod{
					daemonPod(ds, "p1", "n1", "old", time.Hour, corev1.PodRunning, true),
					daemonPod(ds, "p2", "n2", "old", time.Hour, corev1.PodRunning, true),
					daemonPod(ds, "p3", "n3", "old", time.Hour, corev1.PodRunning, true),
				}
			},
			wantCreate: []string{"n1"},
		},
		{
			name: "with surge, an available new pod retires its old one and the next node surges",
			ds:   withSurge(testDaemonSet(), 1, 0),
			pods: func(ds *appsv1.DaemonSet) []*corev1.Pod {
				return []*corev1.Pod{
					daemonPod(ds, "p1", "n1", "old", time.Hour, corev1.PodRunning, true),
					daemonPod(ds, "p1-new", "n1", "new", time.Minute, corev1.PodRunning, true),
					daemonPod(ds, "p2", "n2", "old", time.Hour, corev1.PodRunning, true),
					daemonPod(ds, "p3", "n3", "old", time.Hour, corev1.PodRunning, true),
				}
			},
			wantDelete: []string{"p1"},
			wantCreate: []string{"n2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objects := []runtime.Object{tt.ds}
			for _, n := range nodes {
				objects = append(objects, n)
			}
			for _, p := range tt.pods(tt.ds) {
				objects = append(objects, p)
			}
			f := newFixture(t, objects...)
			f.client.ClearActions()
			if err := f.c.rollingUpdate(context.Background(), tt.ds, nodes, "new"); err != nil {
				t.Fatal(err)
			}
			if got := f.actions("delete", "pods"); !slices.Equal(got, tt.wantDelete) {
				t.Errorf("deleted %v, want %v", got, tt.wantDelete)
			}
			if got := f.actions("create", "pods"); !slices.Equal(got, tt.wantCreate) {
				t.Errorf("created on %v, want %v", got, tt.wantCreate)
			}
		})
	}
}

func TestComputeStatus(t *testing.T) {
	ds := testDaemonSet()
	nodes := []*corev1.Node{
		testNode("ready-new", nil), testNode("ready-old", nil), testNode("pending", nil), testNode("empty", nil),
		testNode("excluded", nil, corev1.Taint{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}),
	}
	byNode := map[string][]*corev1.Pod{
		"ready-new": {daemonPod(ds, "a", "ready-new", "new", time.Hour, corev1.PodRunning, true)},
		"ready-old": {daemonPod(ds, "b", "ready-old", "old", time.Hour, corev1.PodRunning, true)},
		"pending":   {daemonPod(ds, "c", "pending", "new", time.Hour, corev1.PodPending, false)},
		"excluded":  {daemonPod(ds, "d", "excluded", "new", time.Hour, corev1.PodRunning, true)},
	}
	f := newFixture(t)
	got := f.c.computeStatus(ds, nodes, byNode, "new")
	want := appsv1.DaemonSetStatus{
		DesiredNumberScheduled: 4, CurrentNumberScheduled: 3, NumberMisscheduled: 1,
		NumberReady: 2, NumberAvailable: 2, UpdatedNumberScheduled: 2, NumberUnavailable: 2,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("status\n%+v\nwant\n%+v", got, want)
	}
}

// TestSyncCreatesEachPodOnceWhileTheCacheLags pins the expectations: a
// second sync before the cache shows the first one's pods must not
// create them again (their names are generated, so the API server would
// accept duplicates).
func TestSyncCreatesEachPodOnceWhileTheCacheLags(t *testing.T) {
	ds := testDaemonSet()
	ds.Generation = 1
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	f := newFixture(t, ds, testNode("n1", nil), testNode("n2", nil))
	for range 2 {
		if err := f.c.sync(context.Background(), "default/agent"); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.actions("create", "pods"); !slices.Equal(got, []string{"n1", "n2"}) {
		t.Fatalf("pods created on %v, want one on n1 and n2", got)
	}
	revisions := f.actions("create", "controllerrevisions")
	if len(revisions) < 1 || !strings.HasPrefix(revisions[0], "agent-") {
		t.Fatalf("revisions created %v", revisions)
	}
	// The first sync acted on generation 1; the second, still waiting
	// for its pods to show up, must not claim to have.
	var statuses []appsv1.DaemonSetStatus
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			statuses = append(statuses, a.(clienttesting.UpdateAction).GetObject().(*appsv1.DaemonSet).Status)
		}
	}
	if len(statuses) != 2 || statuses[0].DesiredNumberScheduled != 2 || statuses[0].ObservedGeneration != 1 || statuses[1].ObservedGeneration != 0 {
		t.Fatalf("statuses written %+v", statuses)
	}
	created := 0
	for _, e := range f.events() {
		if strings.HasPrefix(e, "Normal SuccessfulCreate Created pod: ") {
			created++
		}
	}
	if created != 2 {
		t.Fatalf("%d SuccessfulCreate events, want 2", created)
	}
}

func TestSyncWarnsAboutASelectorOfEverything(t *testing.T) {
	ds := testDaemonSet()
	ds.Spec.Selector = &metav1.LabelSelector{}
	f := newFixture(t, ds, testNode("n1", nil))
	if err := f.c.sync(context.Background(), "default/agent"); err != nil {
		t.Fatal(err)
	}
	if got := f.actions("create", "pods"); len(got) != 0 {
		t.Fatalf("created pods on %v", got)
	}
	want := "Warning SelectingAll This daemon set is selecting all pods. A non-empty selector is required."
	if events := f.events(); !slices.Contains(events, want) {
		t.Fatalf("events %q", events)
	}
}

func TestExpectations(t *testing.T) {
	clock := testingclock.NewFakeClock(time.Now())
	e := newExpectations(clock)
	steps := []struct {
		name string
		do   func()
		want bool
	}{
		{name: "nothing expected is satisfied", do: func() {}, want: true},
		{name: "expected creations are not", do: func() { e.expect("k", 2, 1) }},
		{name: "some creations seen are not enough", do: func() { e.creationObserved("k") }},
		{name: "creations seen but a deletion outstanding", do: func() { e.creationObserved("k") }},
		{name: "all seen is satisfied", do: func() { e.deletionObserved("k") }, want: true},
		{name: "new expectations replace old ones", do: func() { e.expect("k", 1, 0) }},
		{name: "lowering takes back what will not happen", do: func() { e.lower("k", 1, 0) }, want: true},
		{name: "expectations never seen time out", do: func() { e.expect("k", 1, 0); clock.Step(expectationsTimeout + time.Second) }, want: true},
		{name: "forgetting clears them", do: func() { e.expect("k", 1, 0); e.forget("k") }, want: true},
	}
	for _, s := range steps {
		s.do()
		if got := e.satisfied("k"); got != s.want {
			t.Fatalf("%s: satisfied = %v", s.name, got)
		}
	}
}
