package resourcequota

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

// TestAgainstAPIServer fills a quota through the real API server's
// admission, which refuses the object past the limit; once an object is
// deleted (or a pod finishes), the controller's recalculation, as
// upstream's account, lets a new one in.
func TestAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := env.Client
	informerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:kube-controller-manager"))
	controllerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t,
		"system:serviceaccount:kube-system:resourcequota-controller", "system:serviceaccounts", "system:serviceaccounts:kube-system"))
	factory := informers.NewSharedInformerFactory(informerClient, 0)
	c := New(controllerClient, factory, Config{})
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 2) }()
	defer func() { cancel(); <-done; factory.Shutdown() }()

	q := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "compute", Namespace: "default"},
		Spec:       corev1.ResourceQuotaSpec{Hard: list("pods", "2", "requests.cpu", "1", "count/jobs.batch", "1")},
	}
	if _, err := admin.CoreV1().ResourceQuotas("default").Create(ctx, q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool {
		got, err := admin.CoreV1().ResourceQuotas("default").Get(ctx, "compute", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return equalLists(got.Status.Hard, q.Spec.Hard) && equalLists(got.Status.Used, list("pods", "0", "requests.cpu", "0", "count/jobs.batch", "0"))
	}, "the quota's status measured")

	createPod := func(name string) error {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "c", Image: "busybox",
				Resources: corev1.ResourceRequirements{Requests: list("cpu", "400m"), Limits: list("cpu", "400m")},
			}}},
		}
		_, err := admin.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		return err
	}
	for _, name := range []string{"a", "b"} {
		if err := createPod(name); err != nil {
			t.Fatalf("pod %s within the quota: %v", name, err)
		}
	}
	err := createPod("c")
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "exceeded quota: compute, requested: pods=1,requests.cpu=400m, used: pods=2,requests.cpu=800m, limited: pods=2,requests.cpu=1") {
		t.Fatalf("pod past the quota: %v", err)
	}

	if err := admin.CoreV1().Pods("default").Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return createPod("c") == nil }, "a pod admitted once another was deleted")

	// A pod that finishes uses no more quota either.
	b, err := admin.CoreV1().Pods("default").Get(ctx, "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Status.Phase = corev1.PodSucceeded
	if _, err := admin.CoreV1().Pods("default").UpdateStatus(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return createPod("d") == nil }, "a pod admitted once another finished")

	// Counted resources beyond the core ones are watched when a quota
	// names them.
	createJob := func(name string) error {
		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			}}},
		}
		_, err := admin.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{})
		return err
	}
	if err := createJob("first"); err != nil {
		t.Fatal(err)
	}
	if err := createJob("second"); !apierrors.IsForbidden(err) {
		t.Fatalf("job past the quota: %v", err)
	}
	if err := admin.BatchV1().Jobs("default").Delete(ctx, "first", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return createJob("second") == nil }, "a job admitted once another was deleted")
}

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
