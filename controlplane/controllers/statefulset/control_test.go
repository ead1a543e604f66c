package statefulset

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
)

// fixture is a controller on a fake clientset whose informer caches the
// test fills by hand: what the controller sees is exactly what the test
// put there.
type fixture struct {
	c        *Controller
	client   *fake.Clientset
	recorder *record.FakeRecorder
}

func newFixture(t *testing.T, objects ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objects...)
	factory := informers.NewSharedInformerFactory(client, 0)
	f := &fixture{client: client, recorder: record.NewFakeRecorder(100)}
	f.c = New(client, factory, f.recorder, Config{})
	for _, obj := range objects {
		var err error
		switch o := obj.(type) {
		case *appsv1.StatefulSet:
			err = factory.Apps().V1().StatefulSets().Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			err = factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *corev1.PersistentVolumeClaim:
			err = factory.Core().V1().PersistentVolumeClaims().Informer().GetIndexer().Add(o)
		case *appsv1.ControllerRevision:
			err = factory.Apps().V1().ControllerRevisions().Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) sync(t *testing.T) {
	t.Helper()
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
}

// writes lists the writes as verb/resource/name, in order.
func (f *fixture) writes() []string {
	var out []string
	for _, a := range f.client.Actions() {
		resource := a.GetResource().Resource
		if a.GetSubresource() != "" {
			resource += "/" + a.GetSubresource()
		}
		switch a := a.(type) {
		case clienttesting.CreateAction:
			out = append(out, "create/"+resource+"/"+a.GetObject().(metav1.Object).GetName())
		case clienttesting.DeleteAction:
			out = append(out, "delete/"+resource+"/"+a.GetName())
		case clienttesting.UpdateAction:
			out = append(out, "update/"+resource+"/"+a.GetObject().(metav1.Object).GetName())
		}
	}
	return out
}

// podWrites are the pod creations and deletions, as verb/name.
func (f *fixture) podWrites() []string {
	var out []string
	for _, w := range f.writes() {
		if verb, name, ok := strings.Cut(w, "/pods/"); ok && verb != "update" {
			out = append(out, verb+"/"+name)
		}
	}
	return out
}

func (f *fixture) lastStatus() *appsv1.StatefulSetStatus {
	var status *appsv1.StatefulSetStatus
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			status = &a.(clienttesting.UpdateAction).GetObject().(*appsv1.StatefulSet).Status
		}
	}
	return status
}

// testSet is a set as the API server stores it: defaulted, with a UID
// and a generation.
func testSet(replicas int32, policy appsv1.PodManagementPolicyType, image string) *appsv1.StatefulSet {
	set := newSet("web", replicas, policy)
	set.UID = "set-uid"
	set.Generation = 1
	set.Spec.Template.Spec.Containers[0].Image = image
	set.Spec.RevisionHistoryLimit = new(int32(10))
	set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{
		Type:          appsv1.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: new(int32(0))},
	}
	return set
}

// revisionOf is the revision the controller records for set's template.
func revisionOf(t *testing.T, set *appsv1.StatefulSet, number int64) *appsv1.ControllerRevision {
	t.Helper()
	r, err := newRevision(set, number, new(int32))
	if err != nil {
		t.Fatal(err)
	}
	r.Namespace = set.Namespace
	r.CreationTimestamp = metav1.NewTime(time.Now().Add(time.Duration(number) * time.Second))
	return r
}

// member is set's pod with ordinal at revision, Running and Ready or
// just created.
func member(set *appsv1.StatefulSet, ordinal int, revision string, ready bool) *corev1.Pod {
	pod := newStatefulSetPod(set, ordinal)
	setPodRevision(pod, revision)
	pod.UID = types.UID(pod.Name + "-uid")
	pod.Status.Phase = corev1.PodPending
	if ready {
		pod.Status.Phase = corev1.PodRunning
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(time.Now().Add(-time.Hour))}}
	}
	return pod
}

// TestSyncStep pins the one step a sync makes from a given state.
func TestSyncStep(t *testing.T) {
	type state struct {
		set  *appsv1.StatefulSet
		objs []runtime.Object
	}
	// at builds a set whose template is image, whose current revision
	// is v1's, with pods at the given readiness, all at revision v1.
	at := func(t *testing.T, replicas int32, policy appsv1.PodManagementPolicyType, image string, ready ...bool) state {
		v1 := testSet(replicas, policy, "web:v1")
		rev1 := revisionOf(t, v1, 1)
		set := testSet(replicas, policy, image)
		set.Status.CurrentRevision, set.Status.UpdateRevision = rev1.Name, rev1.Name
		objs := []runtime.Object{rev1}
		for i, r := range ready {
			objs = append(objs, member(v1, i, rev1.Name, r))
		}
		return state{set: set, objs: objs}
	}
	failed := func(s state, ordinal int) state {
		s.objs[ordinal+1].(*corev1.Pod).Status.Phase = corev1.PodFailed
		return s
	}
	strategy := func(s state, mutate func(*appsv1.StatefulSetUpdateStrategy)) state {
		mutate(&s.set.Spec.UpdateStrategy)
		return s
	}
	ordered, parallel := appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement
	tests := []struct {
		name  string
		state func(t *testing.T) state
		want  []string
	}{
		{name: "ordered set creates its first pod only",
			state: func(t *testing.T) state { return at(t, 3, ordered, "web:v1") },
			want:  []string{"create/web-0"}},
		{name: "ordered set waits for an unready pod",
			state: func(t *testing.T) state { return at(t, 3, ordered, "web:v1", false) }},
		{name: "ordered set creates the next pod once the previous is ready",
			state: func(t *testing.T) state { return at(t, 3, ordered, "web:v1", true) },
			want:  []string{"create/web-1"}},
		{name: "ordered set fills a gap before going on",
			state: func(t *testing.T) state {
				s := at(t, 3, ordered, "web:v1", true, true, true)
				s.objs = slices.Delete(s.objs, 2, 3) // web-1
				return s
			},
			want: []string{"create/web-1"}},
		{name: "parallel set creates every pod at once",
			state: func(t *testing.T) state { return at(t, 3, parallel, "web:v1") },
			want:  []string{"create/web-0", "create/web-1", "create/web-2"}},
		{name: "ordered scale down deletes the highest ordinal only",
			state: func(t *testing.T) state { return at(t, 1, ordered, "web:v1", true, true, true) },
			want:  []string{"delete/web-2"}},
		{name: "ordered scale down waits while a kept pod is unready",
			state: func(t *testing.T) state { return at(t, 1, ordered, "web:v1", false, true, true) }},
		{name: "parallel scale down deletes every extra pod",
			state: func(t *testing.T) state { return at(t, 1, parallel, "web:v1", true, false, true) },
			want:  []string{"delete/web-1", "delete/web-2"}},
		{name: "a failed pod is deleted, to be recreated by the next sync",
			state: func(t *testing.T) state { return failed(at(t, 3, ordered, "web:v1", true, true, true), 1) },
			want:  []string{"delete/web-1"}},
		{name: "rolling update deletes the highest ordinal not at the update revision",
			state: func(t *testing.T) state { return at(t, 3, ordered, "web:v2", true, true, true) },
			want:  []string{"delete/web-2"}},
		{name: "rolling update leaves the ordinals below the partition",
			state: func(t *testing.T) state {
				return strategy(at(t, 3, ordered, "web:v2", true, true, true), func(s *appsv1.StatefulSetUpdateStrategy) {
					s.RollingUpdate.Partition = new(int32(3))
				})
			}},
		{name: "OnDelete replaces no pod by itself",
			state: func(t *testing.T) state {
				return strategy(at(t, 3, ordered, "web:v2", true, true, true), func(s *appsv1.StatefulSetUpdateStrategy) {
					*s = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
				})
			}},
		{name: "a set being deleted only reports",
			state: func(t *testing.T) state {
				s := at(t, 3, ordered, "web:v1")
				s.set.DeletionTimestamp = &metav1.Time{Time: time.Now()}
				return s
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.state(t)
			f := newFixture(t, append(s.objs, s.set)...)
			f.sync(t)
			// A Parallel set's writes race each other; an ordered set's
			// step is a single write.
			got := f.podWrites()
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("pod writes %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSyncCreatesClaimsBeforeThePodAndKeepsExistingOnes(t *testing.T) {
	set := withClaims(testSet(2, appsv1.ParallelPodManagement, "web:v1"), "www")
	existing := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "www-web-1"}}
	f := newFixture(t, set, existing)
	f.sync(t)
	var got []string
	for _, w := range f.writes() {
		if strings.HasPrefix(w, "create/pods/web-0") || strings.HasPrefix(w, "create/persistentvolumeclaims/") {
			got = append(got, w)
		}
	}
	if want := []string{"create/persistentvolumeclaims/www-web-0", "create/pods/web-0"}; !slices.Equal(got, want) {
		t.Fatalf("writes %v, want %v", got, want)
	}
	var events []string
	for len(f.recorder.Events) > 0 {
		events = append(events, <-f.recorder.Events)
	}
	for _, want := range []string{
		"Normal SuccessfulCreate create Claim www-web-0 Pod web-0 in StatefulSet web success",
		"Normal SuccessfulCreate create Pod web-0 in StatefulSet web successful",
		"Normal SuccessfulCreate create Pod web-1 in StatefulSet web successful",
	} {
		if !slices.Contains(events, want) {
			t.Errorf("no event %q in %q", want, events)
		}
	}
}

func TestSyncRecordsRevisions(t *testing.T) {
	v1 := testSet(1, appsv1.OrderedReadyPodManagement, "web:v1")
	v2 := testSet(1, appsv1.OrderedReadyPodManagement, "web:v2")
	rev1, rev2 := revisionOf(t, v1, 1), revisionOf(t, v2, 2)

	t.Run("a new template gets the next revision", func(t *testing.T) {
		set := v2.DeepCopy()
		set.Status.CurrentRevision = rev1.Name
		f := newFixture(t, set, rev1, member(v1, 0, rev1.Name, true))
		f.sync(t)
		if !slices.Contains(f.writes(), "create/controllerrevisions/"+rev2.Name) {
			t.Fatalf("writes %v, want revision %s created", f.writes(), rev2.Name)
		}
		if s := f.lastStatus(); s == nil || s.CurrentRevision != rev1.Name || s.UpdateRevision != rev2.Name || s.ObservedGeneration != 1 {
			t.Fatalf("status %+v", s)
		}
	})
	t.Run("going back to an old template renumbers its revision as the newest", func(t *testing.T) {
		set := v1.DeepCopy()
		set.Status.CurrentRevision, set.Status.UpdateRevision = rev2.Name, rev2.Name
		f := newFixture(t, set, rev1, rev2, member(v2, 0, rev2.Name, true))
		f.sync(t)
		stored, err := f.client.AppsV1().ControllerRevisions("default").Get(context.Background(), rev1.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if stored.Revision != 3 {
			t.Fatalf("revision of the old template %d, want 3", stored.Revision)
		}
		if s := f.lastStatus(); s == nil || s.UpdateRevision != rev1.Name {
			t.Fatalf("status %+v, want update revision %s", s, rev1.Name)
		}
	})
	t.Run("a finished rolling update makes the update revision current", func(t *testing.T) {
		set := v2.DeepCopy()
		set.Status.CurrentRevision, set.Status.UpdateRevision = rev1.Name, rev2.Name
		f := newFixture(t, set, rev1, rev2, member(v2, 0, rev2.Name, true))
		f.sync(t)
		want := appsv1.StatefulSetStatus{
			ObservedGeneration: 1, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, CurrentReplicas: 1, UpdatedReplicas: 1,
			CurrentRevision: rev2.Name, UpdateRevision: rev2.Name, CollisionCount: new(int32),
		}
		if s := f.lastStatus(); s == nil || s.CurrentRevision != want.CurrentRevision || s.CurrentReplicas != 1 || s.UpdatedReplicas != 1 ||
			s.ReadyReplicas != 1 || s.AvailableReplicas != 1 || s.Replicas != 1 {
			t.Fatalf("status %+v, want %+v", s, want)
		}
	})
}

func TestTruncateHistoryKeepsLiveRevisionsAndTheLimit(t *testing.T) {
	set := testSet(1, appsv1.OrderedReadyPodManagement, "web:v1")
	set.Spec.RevisionHistoryLimit = new(int32(1))
	var revisions []*appsv1.ControllerRevision
	objs := []runtime.Object{set}
	for i := range 5 {
		r := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-r" + string(rune('1'+i))}, Revision: int64(i + 1)}
		revisions = append(revisions, r)
		objs = append(objs, r)
	}
	pod := member(set, 0, "web-r2", true)
	f := newFixture(t, objs...)
	// r5 is the update revision, r4 the current one, r2 a pod's; of
	// r1 and r3, one is kept.
	if err := f.c.truncateHistory(context.Background(), set, []*corev1.Pod{pod}, revisions, revisions[3], revisions[4]); err != nil {
		t.Fatal(err)
	}
	if got, want := f.writes(), []string{"delete/controllerrevisions/web-r1"}; !slices.Equal(got, want) {
		t.Fatalf("writes %v, want %v", got, want)
	}
}
