package tainteviction

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

// TestAgainstAPIServer evicts pods from an unreachable node through the
// real API server, whose admission gave them upstream's 300 s
// tolerations, with the rights of upstream's node-controller account.
func TestAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := env.Client
	clock := testingclock.NewFakeClock(time.Now())

	if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	create := func(name string, tolerations ...corev1.Toleration) *corev1.Pod {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			Spec: corev1.PodSpec{
				NodeName:    "worker",
				Containers:  []corev1.Container{{Name: "c", Image: "busybox"}},
				Tolerations: tolerations,
			},
		}
		pod, err := admin.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return pod
	}
	defaulted := create("defaulted")
	if !hasTolerationFor(defaulted, corev1.TaintNodeUnreachable, 300) {
		t.Fatalf("admission gave no 300 s unreachable toleration: %+v", defaulted.Spec.Tolerations)
	}
	create("patient", tolerate(corev1.TaintNodeUnreachable, seconds(60)))
	create("stubborn", corev1.Toleration{Operator: corev1.TolerationOpExists})

	controllerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t,
		"system:serviceaccount:kube-system:node-controller",
		"system:serviceaccounts", "system:serviceaccounts:kube-system"))
	factory := informers.NewSharedInformerFactory(kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:kube-controller-manager")), 0)
	c := New(controllerClient, factory, record.NewFakeRecorder(100), Config{Clock: clock})
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 2) }()
	defer func() { cancel(); <-done; factory.Shutdown() }()

	node, err := admin.CoreV1().Nodes().Get(ctx, "worker", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Spec.Taints = []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: clock.Now()}}}
	if _, err := admin.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	evicted := func(name string) bool {
		p, err := admin.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true
		}
		if err != nil {
			t.Fatal(err)
		}
		return p.DeletionTimestamp != nil
	}
	// Let the controller see the taint before time moves.
	time.Sleep(500 * time.Millisecond)
	if evicted("patient") || evicted("defaulted") {
		t.Fatal("pods evicted before their tolerations ran out")
	}
	waitFor(t, func() bool { clock.Step(10 * time.Second); return evicted("patient") }, "patient evicted after 60 s")
	if evicted("defaulted") {
		t.Fatalf("defaulted pod evicted before 300 s (clock moved %v)", clock.Since(node.Spec.Taints[0].TimeAdded.Time))
	}
	p, err := admin.CoreV1().Pods("default").Get(ctx, "patient", metav1.GetOptions{})
	if err == nil && !hasCondition(p, corev1.DisruptionTarget, "DeletionByTaintManager") {
		t.Errorf("evicted pod's conditions %+v, want DisruptionTarget", p.Status.Conditions)
	}
	waitFor(t, func() bool { clock.Step(10 * time.Second); return evicted("defaulted") }, "defaulted evicted after 300 s")
	if evicted("stubborn") {
		t.Fatal("pod tolerating every taint forever was evicted")
	}
}

func hasTolerationFor(pod *corev1.Pod, key string, secs int64) bool {
	for _, tol := range pod.Spec.Tolerations {
		if tol.Key == key && tol.TolerationSeconds != nil && *tol.TolerationSeconds == secs {
			return true
		}
	}
	return false
}

func hasCondition(pod *corev1.Pod, t corev1.PodConditionType, reason string) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t && c.Reason == reason && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
