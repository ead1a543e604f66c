package subresource_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

func eviction(name string) *policyv1.Eviction {
	return &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
}

// runningPod creates a pod that is running: evictions of pending pods
// ignore their budget.
func runningPod(t *testing.T, client kubernetes.Interface, name string) *corev1.Pod {
	t.Helper()
	pods := client.CoreV1().Pods("default")
	p := must[*corev1.Pod](t)(pods.Create(ctx(t), pod(name), metav1.CreateOptions{}))
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	return must[*corev1.Pod](t)(pods.UpdateStatus(ctx(t), p, metav1.UpdateOptions{}))
}

// budget creates a PodDisruptionBudget over app=web whose status, as the
// disruption controller would write it, allows allowed disruptions.
func budget(t *testing.T, client kubernetes.Interface, allowed int32) *policyv1.PodDisruptionBudget {
	t.Helper()
	pdbs := client.PolicyV1().PodDisruptionBudgets("default")
	minAvailable := intstr.FromInt32(1)
	pdb := must[*policyv1.PodDisruptionBudget](t)(pdbs.Create(ctx(t), &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable, Selector: &metav1.LabelSelector{MatchLabels: webLabels}},
	}, metav1.CreateOptions{}))
	pdb.Status = policyv1.PodDisruptionBudgetStatus{
		ObservedGeneration: pdb.Generation,
		DisruptionsAllowed: allowed,
		CurrentHealthy:     1 + allowed,
		DesiredHealthy:     1,
		ExpectedPods:       1 + allowed,
	}
	return must[*policyv1.PodDisruptionBudget](t)(pdbs.UpdateStatus(ctx(t), pdb, metav1.UpdateOptions{}))
}

func TestEvictionWithoutABudgetDeletesThePod(t *testing.T) {
	env := apiservertest.Start(t)
	runningPod(t, env.Client, "web")
	if err := env.Client.PolicyV1().Evictions("default").Evict(ctx(t), eviction("web")); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.CoreV1().Pods("default").Get(ctx(t), "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod after eviction: want NotFound, got %v", err)
	}
}

func TestEvictionBlockedByABudgetIsTooManyRequests(t *testing.T) {
	env := apiservertest.Start(t)
	runningPod(t, env.Client, "web")
	budget(t, env.Client, 0)

	err := env.Client.PolicyV1().Evictions("default").Evict(ctx(t), eviction("web"))
	if !apierrors.IsTooManyRequests(err) || err.Error() != "Cannot evict pod as it would violate the pod's disruption budget." {
		t.Fatalf("want 429, got %v", err)
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) || len(status.Status().Details.Causes) != 1 ||
		status.Status().Details.Causes[0].Type != policyv1.DisruptionBudgetCause ||
		status.Status().Details.Causes[0].Message != "The disruption budget web needs 1 healthy pods and has 1 currently" {
		t.Fatalf("429 without the budget's cause: %#v", err)
	}
	p := must[*corev1.Pod](t)(env.Client.CoreV1().Pods("default").Get(ctx(t), "web", metav1.GetOptions{}))
	if p.DeletionTimestamp != nil {
		t.Fatal("a refused eviction deleted the pod")
	}
}

func TestEvictionSpendsTheBudgetsDisruption(t *testing.T) {
	env := apiservertest.Start(t)
	runningPod(t, env.Client, "web")
	budget(t, env.Client, 1)

	if err := env.Client.PolicyV1().Evictions("default").Evict(ctx(t), eviction("web")); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.CoreV1().Pods("default").Get(ctx(t), "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod after eviction: want NotFound, got %v", err)
	}
	pdb := must[*policyv1.PodDisruptionBudget](t)(env.Client.PolicyV1().PodDisruptionBudgets("default").Get(ctx(t), "web", metav1.GetOptions{}))
	if pdb.Status.DisruptionsAllowed != 0 {
		t.Fatalf("disruptionsAllowed %d after the eviction, want 0", pdb.Status.DisruptionsAllowed)
	}
	if _, ok := pdb.Status.DisruptedPods["web"]; !ok {
		t.Fatalf("the evicted pod is not in disruptedPods: %v", pdb.Status.DisruptedPods)
	}

	// The budget is spent: the next running pod stays.
	runningPod(t, env.Client, "web-2")
	if err := env.Client.PolicyV1().Evictions("default").Evict(ctx(t), eviction("web-2")); !apierrors.IsTooManyRequests(err) {
		t.Fatalf("second eviction: want 429, got %v", err)
	}
}

func TestEvictionDryRunChangesNothing(t *testing.T) {
	env := apiservertest.Start(t)
	runningPod(t, env.Client, "web")
	budget(t, env.Client, 1)
	ev := eviction("web")
	ev.DeleteOptions = &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}
	if err := env.Client.PolicyV1().Evictions("default").Evict(ctx(t), ev); err != nil {
		t.Fatal(err)
	}
	must[*corev1.Pod](t)(env.Client.CoreV1().Pods("default").Get(ctx(t), "web", metav1.GetOptions{}))
	pdb := must[*policyv1.PodDisruptionBudget](t)(env.Client.PolicyV1().PodDisruptionBudgets("default").Get(ctx(t), "web", metav1.GetOptions{}))
	if pdb.Status.DisruptionsAllowed != 1 {
		t.Fatalf("a dry run spent the budget: %d allowed", pdb.Status.DisruptionsAllowed)
	}
}

func TestEvictionOfAPendingPodIgnoresTheBudget(t *testing.T) {
	env := apiservertest.Start(t)
	must[*corev1.Pod](t)(env.Client.CoreV1().Pods("default").Create(ctx(t), pod("web"), metav1.CreateOptions{}))
	budget(t, env.Client, 0)
	if err := env.Client.PolicyV1().Evictions("default").Evict(ctx(t), eviction("web")); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.CoreV1().Pods("default").Get(ctx(t), "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod after eviction: want NotFound, got %v", err)
	}
}

func TestEvictionNameMustMatchTheURL(t *testing.T) {
	env := apiservertest.Start(t)
	runningPod(t, env.Client, "web")
	result := env.Client.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("web").SubResource("eviction").
		Body(eviction("other")).Do(ctx(t))
	var code int
	result.StatusCode(&code)
	if err := result.Error(); code != http.StatusBadRequest || !strings.Contains(err.Error(), "name in URL does not match name in Eviction object") {
		t.Fatalf("want 400, got %d %v", code, err)
	}
}
