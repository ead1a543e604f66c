package nodelifecycle

import (
	"context"
	"slices"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

// TestAgainstAPIServer runs the whole controller, as upstream's
// node-controller account, against the real API server, with a fake
// clock stepped in monitor periods: a worker node falls silent, is marked
// Unknown and tainted and its pod marked not ready, then comes back.
func TestAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := env.Client
	clock := testingclock.NewFakeClock(time.Now())

	informerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:kube-controller-manager"))
	controllerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t,
		"system:serviceaccount:kube-system:node-controller",
		"system:serviceaccounts", "system:serviceaccounts:kube-system"))
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: controllerClient.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: EventComponent})

	// The kubelets register before the controller starts.
	for _, name := range []string{"control-plane", "worker"} {
		if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		postStatus(ctx, t, admin, name, clock.Now())
		renewTime := metav1.NewMicroTime(clock.Now())
		lease := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: corev1.NamespaceNodeLease, Name: name},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: &name, RenewTime: &renewTime},
		}
		if _, err := admin.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec:       corev1.PodSpec{NodeName: "worker", Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
	}
	pod, err := admin.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := admin.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	factory := informers.NewSharedInformerFactory(informerClient, 0)
	c := New(controllerClient, factory, recorder, Config{Clock: clock})
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 2) }()
	defer func() { cancel(); <-done; factory.Shutdown() }()

	// Only the control plane's kubelet keeps renewing.
	beat := func(names ...string) {
		clock.Step(DefaultMonitorPeriod)
		for _, name := range names {
			renew(ctx, t, admin, name, clock.Now())
		}
	}
	wantTaints := []string{"node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"}
	eventually(t, func() bool {
		beat("control-plane")
		worker, err := admin.CoreV1().Nodes().Get(ctx, "worker", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := admin.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ready := nodeCondition(&worker.Status, corev1.NodeReady)
		return ready.Status == corev1.ConditionUnknown && ready.Reason == "NodeStatusUnknown" &&
			slices.Equal(taintsOf(worker), wantTaints) && podReady(p) == corev1.ConditionFalse
	}, "worker Unknown, tainted unreachable, its pod not ready")

	cp, err := admin.CoreV1().Nodes().Get(ctx, "control-plane", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := taintsOf(cp); len(got) != 0 || nodeCondition(&cp.Status, corev1.NodeReady).Status != corev1.ConditionTrue {
		t.Fatalf("healthy control plane: taints %v, Ready %s", got, nodeCondition(&cp.Status, corev1.NodeReady).Status)
	}
	eventually(t, func() bool {
		events, err := admin.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(events.Items, func(e corev1.Event) bool {
			return e.Reason == "NodeNotReady" && e.InvolvedObject.Name == "web" && e.Message == "Node is not ready" && e.Source.Component == EventComponent
		})
	}, "NodeNotReady event on the pod")

	// The worker's kubelet comes back.
	postStatus(ctx, t, admin, "worker", clock.Now())
	eventually(t, func() bool {
		beat("control-plane", "worker")
		worker, err := admin.CoreV1().Nodes().Get(ctx, "worker", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(worker.Spec.Taints) == 0
	}, "worker untainted once Ready again")
}

// postStatus posts Ready=True with the heartbeat at now, as a kubelet.
func postStatus(ctx context.Context, t *testing.T, client kubernetes.Interface, name string, now time.Time) {
	t.Helper()
	node, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	at := metav1.NewTime(now)
	node.Status.Conditions = []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		Message: "kubelet is posting ready status", LastHeartbeatTime: at, LastTransitionTime: at,
	}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func renew(ctx context.Context, t *testing.T, client kubernetes.Interface, name string, now time.Time) {
	t.Helper()
	lease, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	renewTime := metav1.NewMicroTime(now)
	lease.Spec.RenewTime = &renewTime
	if _, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond in real time; cond may step the fake clock.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
