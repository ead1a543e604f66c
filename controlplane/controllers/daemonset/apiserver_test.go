package daemonset

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

const testNamespace = "default"

// TestAgainstAPIServer runs the controller as upstream's controller
// manager does with --use-service-account-credentials (informers as
// system:kube-controller-manager, writes as daemon-set-controller, so
// RBAC's role for it applies) on three nodes: a plain one, one tainted
// NoSchedule that the daemon does not tolerate, and a NotReady one whose
// not-ready NoExecute taint the daemon tolerates by default. The test
// plays the scheduler and the kubelets: it binds pods, reports them
// ready, and completes graceful deletions.
func TestAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := env.Client

	informerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:kube-controller-manager"))
	controllerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t,
		"system:serviceaccount:kube-system:daemon-set-controller",
		"system:serviceaccounts", "system:serviceaccounts:kube-system"))
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: controllerClient.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: EventComponent})

	createNode(ctx, t, admin, "node-a", corev1.ConditionTrue)
	createNode(ctx, t, admin, "node-b", corev1.ConditionTrue,
		corev1.Taint{Key: "dedicated", Value: "infra", Effect: corev1.TaintEffectNoSchedule})
	createNode(ctx, t, admin, "node-c", corev1.ConditionFalse,
		corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute})

	factory := informers.NewSharedInformerFactory(informerClient, 0)
	c := New(controllerClient, factory, recorder, Config{})
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 2) }()
	defer func() { cancel(); <-done; factory.Shutdown() }()

	k := &fakeNodes{t: t, ctx: ctx, client: admin}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "agent:v1"}}},
			},
		},
	}
	if _, err := admin.AppsV1().DaemonSets(testNamespace).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Log("one pod on each eligible node, pinned there by node affinity")
	eventually(t, "a pod on node-a and node-c", func() bool {
		k.step(true)
		return slices.Equal(k.podNodes(), []string{"node-a", "node-c"})
	})
	for _, pod := range k.pods() {
		if node, err := targetNodeName(&pod); err != nil || node != pod.Spec.NodeName {
			t.Errorf("pod %s: affinity pins %q (%v), bound to %q", pod.Name, node, err, pod.Spec.NodeName)
		}
		ref := metav1.GetControllerOf(&pod)
		if ref == nil || ref.Kind != "DaemonSet" || ref.Name != "agent" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Errorf("pod %s: controller reference %+v", pod.Name, ref)
		}
		if !strings.HasPrefix(pod.Name, "agent-") || pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == "" {
			t.Errorf("pod %s: labels %v", pod.Name, pod.Labels)
		}
		if !slices.ContainsFunc(pod.Spec.Tolerations, func(tol corev1.Toleration) bool {
			return tol.Key == corev1.TaintNodeNotReady && tol.Operator == corev1.TolerationOpExists && tol.Effect == corev1.TaintEffectNoExecute && tol.TolerationSeconds == nil
		}) {
			t.Errorf("pod %s lacks the not-ready toleration: %+v", pod.Name, pod.Spec.Tolerations)
		}
	}
	v1Hash := k.pods()[0].Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	eventually(t, "status of a rolled out daemon set", func() bool {
		k.step(true)
		s := k.daemonSet("agent").Status
		return s.ObservedGeneration == 1 && s.DesiredNumberScheduled == 2 && s.CurrentNumberScheduled == 2 &&
			s.NumberReady == 2 && s.NumberAvailable == 2 && s.UpdatedNumberScheduled == 2 &&
			s.NumberMisscheduled == 0 && s.NumberUnavailable == 0
	})
	eventually(t, "SuccessfulCreate events", func() bool {
		return k.eventCount("SuccessfulCreate", "Created pod: agent-") == 2
	})

	kubectl := env.Kubectl(t)
	out := kubectl.MustRun("rollout", "status", "daemonset/agent", "--timeout=60s")
	if !strings.Contains(out.Stdout, `daemon set "agent" successfully rolled out`) {
		t.Fatalf("rollout status:\n%s", out)
	}

	t.Log("a rolling update replaces one node's pod at a time (maxUnavailable 1)")
	cur := k.daemonSet("agent")
	cur.Spec.Template.Spec.Containers[0].Image = "agent:v2"
	if _, err := admin.AppsV1().DaemonSets(testNamespace).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var v2Hash string
	eventually(t, "one node's pod replaced by a new one", func() bool {
		k.step(false)
		newPods, oldPods := k.podsByHash(v1Hash)
		if len(newPods) == 1 {
			v2Hash = newPods[0].Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
		}
		return len(newPods) == 1 && len(oldPods) == 1
	})
	// While the new pod is not ready, the other node keeps its old pod.
	consistently(t, "the old pod stays while the new one is unready", func() bool {
		k.step(false)
		newPods, oldPods := k.podsByHash(v1Hash)
		return len(newPods) == 1 && len(oldPods) == 1 && isPodReady(&oldPods[0])
	})
	eventually(t, "both nodes updated once the new pods are ready", func() bool {
		k.step(true)
		newPods, oldPods := k.podsByHash(v1Hash)
		return len(newPods) == 2 && len(oldPods) == 0
	})
	eventually(t, "status of the updated daemon set", func() bool {
		k.step(true)
		s := k.daemonSet("agent").Status
		return s.ObservedGeneration == 2 && s.UpdatedNumberScheduled == 2 && s.NumberAvailable == 2
	})
	out = kubectl.MustRun("rollout", "status", "daemonset/agent", "--timeout=60s")
	if !strings.Contains(out.Stdout, `daemon set "agent" successfully rolled out`) {
		t.Fatalf("rollout status after the update:\n%s", out)
	}

	revisions, err := admin.AppsV1().ControllerRevisions(testNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=agent"})
	if err != nil {
		t.Fatal(err)
	}
	gotRevisions := map[string]int64{}
	for _, r := range revisions.Items {
		gotRevisions[r.Name] = r.Revision
	}
	if want := map[string]int64{"agent-" + v1Hash: 1, "agent-" + v2Hash: 2}; !mapsEqual(gotRevisions, want) {
		t.Fatalf("controller revisions %v, want %v", gotRevisions, want)
	}
	out = kubectl.MustRun("rollout", "history", "daemonset/agent")
	t.Logf("kubectl rollout history:\n%s", out.Stdout)
	if !historyLists(out.Stdout, "1", "2") {
		t.Fatalf("rollout history:\n%s", out)
	}
	out = kubectl.MustRun("rollout", "history", "daemonset/agent", "--revision=1")
	if !strings.Contains(out.Stdout, "agent:v1") {
		t.Fatalf("rollout history of revision 1 should show its image:\n%s", out)
	}

	t.Log("a failed pod is deleted and replaced")
	failed := k.podOn("node-a")
	failed.Status.Phase = corev1.PodFailed
	if _, err := admin.CoreV1().Pods(testNamespace).UpdateStatus(ctx, &failed, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a new pod on node-a", func() bool {
		k.step(true)
		p := k.podOn("node-a")
		return p.Name != "" && p.Name != failed.Name && p.Status.Phase == corev1.PodRunning
	})
	eventually(t, "FailedDaemonPod event", func() bool {
		return k.eventCount("FailedDaemonPod", "Found failed daemon pod default/"+failed.Name+" on node node-a, will try to kill it") == 1
	})

	t.Log("a node whose taint goes gets a pod")
	nodeB, err := admin.CoreV1().Nodes().Get(ctx, "node-b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodeB.Spec.Taints = nil
	if _, err := admin.CoreV1().Nodes().Update(ctx, nodeB, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a pod on every node", func() bool {
		k.step(true)
		return slices.Equal(k.podNodes(), []string{"node-a", "node-b", "node-c"}) && k.daemonSet("agent").Status.NumberAvailable == 3
	})
}

func createNode(ctx context.Context, t *testing.T, client kubernetes.Interface, name string, ready corev1.ConditionStatus, taints ...corev1.Taint) {
	t.Helper()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: ready, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(),
		}}},
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// fakeNodes plays the scheduler and the kubelets of the test's nodes.
type fakeNodes struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
}

// step binds unbound pods to the node their affinity pins, completes
// graceful deletions, and, if ready, reports bound pods Running and
// Ready.
func (k *fakeNodes) step(ready bool) {
	k.t.Helper()
	for _, pod := range k.pods() {
		switch {
		case pod.DeletionTimestamp != nil:
			err := k.client.CoreV1().Pods(pod.Namespace).Delete(k.ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
			if err != nil && !apierrors.IsNotFound(err) {
				k.t.Fatalf("finish deleting pod %s: %v", pod.Name, err)
			}
		case pod.Spec.NodeName == "":
			node, err := targetNodeName(&pod)
			if err != nil {
				k.t.Fatalf("pod %s: %v", pod.Name, err)
			}
			binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod.Name}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}
			if err := k.client.CoreV1().Pods(pod.Namespace).Bind(k.ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				k.t.Fatalf("bind pod %s: %v", pod.Name, err)
			}
		case ready && pod.Status.Phase == corev1.PodPending:
			pod.Status.Phase = corev1.PodRunning
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
			if _, err := k.client.CoreV1().Pods(pod.Namespace).UpdateStatus(k.ctx, &pod, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				k.t.Fatalf("report pod %s ready: %v", pod.Name, err)
			}
		}
	}
}

func (k *fakeNodes) pods() []corev1.Pod {
	k.t.Helper()
	list, err := k.client.CoreV1().Pods(testNamespace).List(k.ctx, metav1.ListOptions{LabelSelector: "app=agent"})
	if err != nil {
		k.t.Fatal(err)
	}
	return list.Items
}

// podNodes are the nodes of the live pods, sorted; "" for a pod not
// bound yet.
func (k *fakeNodes) podNodes() []string {
	var nodes []string
	for _, pod := range k.pods() {
		if pod.DeletionTimestamp == nil {
			nodes = append(nodes, pod.Spec.NodeName)
		}
	}
	slices.Sort(nodes)
	return nodes
}

func (k *fakeNodes) podOn(node string) corev1.Pod {
	for _, pod := range k.pods() {
		if pod.Spec.NodeName == node && pod.DeletionTimestamp == nil {
			return pod
		}
	}
	return corev1.Pod{}
}

// podsByHash splits the live pods into those not of oldHash and those of
// it.
func (k *fakeNodes) podsByHash(oldHash string) (newPods, oldPods []corev1.Pod) {
	for _, pod := range k.pods() {
		if pod.DeletionTimestamp != nil {
			continue
		}
		if pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == oldHash {
			oldPods = append(oldPods, pod)
		} else {
			newPods = append(newPods, pod)
		}
	}
	return newPods, oldPods
}

func (k *fakeNodes) daemonSet(name string) *appsv1.DaemonSet {
	k.t.Helper()
	ds, err := k.client.AppsV1().DaemonSets(testNamespace).Get(k.ctx, name, metav1.GetOptions{})
	if err != nil {
		k.t.Fatal(err)
	}
	return ds
}

// eventCount counts the DaemonSet's events of reason whose message
// starts with prefix, occurrences included.
func (k *fakeNodes) eventCount(reason, prefix string) int {
	k.t.Helper()
	events, err := k.client.CoreV1().Events(testNamespace).List(k.ctx, metav1.ListOptions{})
	if err != nil {
		k.t.Fatal(err)
	}
	n := 0
	for _, e := range events.Items {
		if e.Reason == reason && e.InvolvedObject.Kind == "DaemonSet" && strings.HasPrefix(e.Message, prefix) && e.Source.Component == EventComponent {
			n += int(max(e.Count, 1))
		}
	}
	return n
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

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
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
