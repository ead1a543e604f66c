package statefulset

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

const testNamespace = "default"

// startController runs the controller against a fresh API server as
// upstream's controller manager does with
// --use-service-account-credentials: informers as
// system:kube-controller-manager, writes as statefulset-controller, so
// RBAC's role for it applies.
func startController(t *testing.T) (*apiservertest.Env, *cluster) {
	t.Helper()
	env := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	informerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:kube-controller-manager"))
	controllerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t,
		"system:serviceaccount:kube-system:statefulset-controller",
		"system:serviceaccounts", "system:serviceaccounts:kube-system"))
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: controllerClient.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: EventComponent})

	factory := informers.NewSharedInformerFactory(informerClient, 0)
	c := New(controllerClient, factory, recorder, Config{})
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 2) }()
	t.Cleanup(func() { cancel(); <-done; factory.Shutdown(); broadcaster.Shutdown() })
	return env, &cluster{t: t, ctx: ctx, client: env.Client}
}

// TestOrderedReadyAgainstAPIServer follows an OrderedReady set through
// its life with the real API server, the test playing the kubelet
// (pods are reported Running and Ready by status updates): creation one
// ordinal at a time, each waiting for the one before to be ready; claims
// made from the claim template; a rolling update from the highest
// ordinal down; a scale down from the highest ordinal, claims kept; and
// kubectl's rollout status and history.
func TestOrderedReadyAgainstAPIServer(t *testing.T) {
	env, k := startController(t)
	set := newSet("web", 3, appsv1.OrderedReadyPodManagement)
	set.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{
		ObjectMeta: metav1.ObjectMeta{Name: "www"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}}
	k.create(set)

	t.Log("pods are created one at a time, each once the previous is ready")
	for ordinal := range 3 {
		name := fmt.Sprintf("web-%d", ordinal)
		eventually(t, name+" created", func() bool { return slices.Contains(k.podNames("web"), name) })
		consistently(t, "no pod after "+name+" while it is not ready", func() bool {
			return len(k.podNames("web")) == ordinal+1
		})
		k.makeReady(name)
	}
	eventually(t, "status of three ready pods", func() bool {
		s := k.statefulSet("web").Status
		return s.ObservedGeneration == 1 && s.Replicas == 3 && s.ReadyReplicas == 3 && s.AvailableReplicas == 3 &&
			s.CurrentReplicas == 3 && s.UpdatedReplicas == 3 && s.CurrentRevision != "" && s.CurrentRevision == s.UpdateRevision
	})
	revision1 := k.statefulSet("web").Status.UpdateRevision

	pod := k.pod("web-1")
	if pod.Spec.Hostname != "web-1" || pod.Spec.Subdomain != "web" {
		t.Errorf("web-1: hostname %q subdomain %q, want web-1 and web", pod.Spec.Hostname, pod.Spec.Subdomain)
	}
	wantLabels := map[string]string{"app": "web", appsv1.StatefulSetPodNameLabel: "web-1", appsv1.PodIndexLabel: "1", appsv1.StatefulSetRevisionLabel: revision1}
	for key, want := range wantLabels {
		if pod.Labels[key] != want {
			t.Errorf("web-1 label %s = %q, want %q", key, pod.Labels[key], want)
		}
	}
	if !slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool {
		return v.Name == "www" && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "www-web-1"
	}) {
		t.Errorf("web-1 does not mount claim www-web-1: %+v", pod.Spec.Volumes)
	}
	if ref := metav1.GetControllerOf(pod); ref == nil || ref.Kind != "StatefulSet" || ref.Name != "web" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("web-1 controller reference %+v", ref)
	}
	if got := k.claimNames(); !slices.Equal(got, []string{"www-web-0", "www-web-1", "www-web-2"}) {
		t.Errorf("claims %v", got)
	}
	eventually(t, "creation events", func() bool {
		return k.hasEvent("SuccessfulCreate", "create Pod web-0 in StatefulSet web successful") &&
			k.hasEvent("SuccessfulCreate", "create Claim www-web-0 Pod web-0 in StatefulSet web success")
	})

	kubectl := env.Kubectl(t)
	out := kubectl.MustRun("rollout", "status", "statefulset/web", "--timeout=60s")
	if !strings.Contains(out.Stdout, "partitioned roll out complete: 3 new pods have been updated...") {
		t.Fatalf("rollout status:\n%s", out)
	}

	t.Log("a rolling update replaces pods from the highest ordinal down, one at a time")
	cur := k.statefulSet("web")
	cur.Spec.Template.Spec.Containers[0].Image = "web:v2"
	k.update(cur)
	for updated := 1; updated <= 3; updated++ {
		eventually(t, fmt.Sprintf("%d pods at the new revision", updated), func() bool {
			return len(k.podsNotAt("web", revision1)) == updated
		})
		got := k.podsNotAt("web", revision1)
		want := []string{"web-0", "web-1", "web-2"}[3-updated:]
		if !slices.Equal(got, want) {
			t.Fatalf("pods at the new revision %v, want %v", got, want)
		}
		consistently(t, "no further pod replaced while the new one is not ready", func() bool {
			return len(k.podsNotAt("web", revision1)) == updated
		})
		k.makeReady(want[0])
	}
	eventually(t, "the update revision becomes current", func() bool {
		s := k.statefulSet("web").Status
		return s.ObservedGeneration == 2 && s.UpdateRevision != revision1 && s.CurrentRevision == s.UpdateRevision &&
			s.UpdatedReplicas == 3 && s.CurrentReplicas == 3 && s.ReadyReplicas == 3
	})
	out = kubectl.MustRun("rollout", "status", "statefulset/web", "--timeout=60s")
	if !strings.Contains(out.Stdout, "partitioned roll out complete: 3 new pods have been updated...") {
		t.Fatalf("rollout status after the update:\n%s", out)
	}
	out = kubectl.MustRun("rollout", "history", "statefulset/web")
	t.Logf("kubectl rollout history:\n%s", out.Stdout)
	if !historyLists(out.Stdout, "1", "2") {
		t.Fatalf("rollout history:\n%s", out)
	}

	t.Log("scale down removes the highest ordinal first and keeps the claims")
	deleted := k.watchDeletions("web")
	cur = k.statefulSet("web")
	cur.Spec.Replicas = new(int32(1))
	k.update(cur)
	eventually(t, "only web-0 left", func() bool { return slices.Equal(k.podNames("web"), []string{"web-0"}) })
	eventually(t, "two deletions seen", func() bool { return len(deleted()) == 2 })
	if got := deleted(); !slices.Equal(got, []string{"web-2", "web-1"}) {
		t.Fatalf("deleted in order %v, want web-2 then web-1", got)
	}
	if got := k.claimNames(); !slices.Equal(got, []string{"www-web-0", "www-web-1", "www-web-2"}) {
		t.Errorf("claims after scale down %v, want all kept", got)
	}
	eventually(t, "status of one pod", func() bool {
		s := k.statefulSet("web").Status
		return s.ObservedGeneration == 3 && s.Replicas == 1 && s.ReadyReplicas == 1
	})
}

// TestParallelAgainstAPIServer checks that a Parallel set creates and
// deletes all its pods without waiting for any to be ready.
func TestParallelAgainstAPIServer(t *testing.T) {
	_, k := startController(t)
	k.create(newSet("db", 3, appsv1.ParallelPodManagement))
	eventually(t, "all three pods, none ready", func() bool {
		return slices.Equal(k.podNames("db"), []string{"db-0", "db-1", "db-2"})
	})
	eventually(t, "status of three unready pods", func() bool {
		s := k.statefulSet("db").Status
		return s.Replicas == 3 && s.ReadyReplicas == 0 && s.UpdatedReplicas == 3
	})
	cur := k.statefulSet("db")
	cur.Spec.Replicas = new(int32(0))
	k.update(cur)
	eventually(t, "all pods gone", func() bool { return len(k.podNames("db")) == 0 })
}

func newSet(name string, replicas int32, policy appsv1.PodManagementPolicyType) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            &replicas,
			ServiceName:         name,
			PodManagementPolicy: policy,
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: name + ":v1"}}},
			},
		},
	}
}

// cluster is the test's view of the API server, and its kubelet.
type cluster struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
}

func (k *cluster) create(set *appsv1.StatefulSet) {
	k.t.Helper()
	if _, err := k.client.AppsV1().StatefulSets(set.Namespace).Create(k.ctx, set, metav1.CreateOptions{}); err != nil {
		k.t.Fatal(err)
	}
}

func (k *cluster) update(set *appsv1.StatefulSet) {
	k.t.Helper()
	if _, err := k.client.AppsV1().StatefulSets(set.Namespace).Update(k.ctx, set, metav1.UpdateOptions{}); err != nil {
		k.t.Fatal(err)
	}
}

func (k *cluster) statefulSet(name string) *appsv1.StatefulSet {
	k.t.Helper()
	set, err := k.client.AppsV1().StatefulSets(testNamespace).Get(k.ctx, name, metav1.GetOptions{})
	if err != nil {
		k.t.Fatal(err)
	}
	return set
}

func (k *cluster) pods(app string) []corev1.Pod {
	k.t.Helper()
	list, err := k.client.CoreV1().Pods(testNamespace).List(k.ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		k.t.Fatal(err)
	}
	return list.Items
}

func (k *cluster) pod(name string) *corev1.Pod {
	k.t.Helper()
	pod, err := k.client.CoreV1().Pods(testNamespace).Get(k.ctx, name, metav1.GetOptions{})
	if err != nil {
		k.t.Fatal(err)
	}
	return pod
}

// podNames are the live pods' names, sorted.
func (k *cluster) podNames(app string) []string {
	var names []string
	for _, pod := range k.pods(app) {
		if pod.DeletionTimestamp == nil {
			names = append(names, pod.Name)
		}
	}
	slices.Sort(names)
	return names
}

// podsNotAt are the live pods of another revision than revision, sorted.
func (k *cluster) podsNotAt(app, revision string) []string {
	var names []string
	for _, pod := range k.pods(app) {
		if pod.DeletionTimestamp == nil && pod.Labels[appsv1.StatefulSetRevisionLabel] != revision {
			names = append(names, pod.Name)
		}
	}
	slices.Sort(names)
	return names
}

// makeReady reports the pod Running and Ready, as its kubelet would.
func (k *cluster) makeReady(name string) {
	k.t.Helper()
	pod := k.pod(name)
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	if _, err := k.client.CoreV1().Pods(testNamespace).UpdateStatus(k.ctx, pod, metav1.UpdateOptions{}); err != nil {
		k.t.Fatalf("report %s ready: %v", name, err)
	}
}

func (k *cluster) claimNames() []string {
	k.t.Helper()
	list, err := k.client.CoreV1().PersistentVolumeClaims(testNamespace).List(k.ctx, metav1.ListOptions{})
	if err != nil {
		k.t.Fatal(err)
	}
	var names []string
	for _, c := range list.Items {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}

func (k *cluster) hasEvent(reason, message string) bool {
	k.t.Helper()
	events, err := k.client.CoreV1().Events(testNamespace).List(k.ctx, metav1.ListOptions{})
	if err != nil {
		k.t.Fatal(err)
	}
	return slices.ContainsFunc(events.Items, func(e corev1.Event) bool {
		return e.Reason == reason && e.Message == message && e.InvolvedObject.Kind == "StatefulSet" && e.Source.Component == EventComponent
	})
}

// watchDeletions records the names of the app's pods as they are
// deleted, in order.
func (k *cluster) watchDeletions(app string) func() []string {
	k.t.Helper()
	w, err := k.client.CoreV1().Pods(testNamespace).Watch(k.ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		k.t.Fatal(err)
	}
	k.t.Cleanup(w.Stop)
	var mu sync.Mutex
	var names []string
	go func() {
		for e := range w.ResultChan() {
			if pod, ok := e.Object.(*corev1.Pod); ok && e.Type == watch.Deleted {
				mu.Lock()
				names = append(names, pod.Name)
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(names)
	}
}

// historyLists reports whether kubectl rollout history listed exactly
// the revisions.
func historyLists(out string, revisions ...string) bool {
	var got []string
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, line := range lines {
		if i < 2 || strings.TrimSpace(line) == "" {
			continue // the object's name and the header
		}
		got = append(got, strings.Fields(line)[0])
	}
	return len(lines) >= 2 && strings.HasPrefix(lines[1], "REVISION") && slices.Equal(got, revisions)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// consistently checks cond for a while: what the controller must not do
// is only seen by giving it time to do it.
func consistently(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if !cond() {
			t.Fatalf("%s: no longer true", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
