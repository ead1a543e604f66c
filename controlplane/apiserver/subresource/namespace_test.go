package subresource_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

func TestNamespaceDeletionWaitsForFinalize(t *testing.T) {
	env := apiservertest.Start(t)
	namespaces := env.Client.CoreV1().Namespaces()
	must[*corev1.Namespace](t)(namespaces.Create(ctx(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}))

	if err := namespaces.Delete(ctx(t), "team", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns := must[*corev1.Namespace](t)(namespaces.Get(ctx(t), "team", metav1.GetOptions{}))
	if ns.DeletionTimestamp == nil || ns.Status.Phase != corev1.NamespaceTerminating || len(ns.Spec.Finalizers) != 1 {
		t.Fatalf("deleted namespace: deletionTimestamp %v phase %q finalizers %v", ns.DeletionTimestamp, ns.Status.Phase, ns.Spec.Finalizers)
	}
	// Nothing new goes into a terminating namespace.
	_, err := env.Client.CoreV1().ConfigMaps("team").Create(ctx(t), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "because it is being terminated") {
		t.Fatalf("create in a terminating namespace: want Forbidden, got %v", err)
	}
	// Deleting again, or updating it, does not finish the deletion.
	if err := namespaces.Delete(ctx(t), "team", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns.Labels = map[string]string{"touched": "yes"}
	ns = must[*corev1.Namespace](t)(namespaces.Update(ctx(t), ns, metav1.UpdateOptions{}))

	// A finalize that keeps a finalizer keeps the namespace.
	ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes, "example.com/last"}
	ns = must[*corev1.Namespace](t)(namespaces.Finalize(ctx(t), ns, metav1.UpdateOptions{}))
	if len(ns.Spec.Finalizers) != 2 {
		t.Fatalf("finalizers after finalize: %v", ns.Spec.Finalizers)
	}

	ns.Spec.Finalizers = nil
	must[*corev1.Namespace](t)(namespaces.Finalize(ctx(t), ns, metav1.UpdateOptions{}))
	if _, err := namespaces.Get(ctx(t), "team", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("namespace after the last finalizer: want NotFound, got %v", err)
	}
}

func TestFinalizeOfALiveNamespaceOnlySetsItsFinalizers(t *testing.T) {
	env := apiservertest.Start(t)
	namespaces := env.Client.CoreV1().Namespaces()
	ns := must[*corev1.Namespace](t)(namespaces.Create(ctx(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}))
	ns.Spec.Finalizers = nil
	ns.Labels = map[string]string{"ignored": "yes"}
	got := must[*corev1.Namespace](t)(namespaces.Finalize(ctx(t), ns, metav1.UpdateOptions{}))
	if len(got.Spec.Finalizers) != 0 || got.Labels["ignored"] != "" || got.Status.Phase != corev1.NamespaceActive {
		t.Fatalf("finalized live namespace: %+v", got)
	}
	// Without finalizers, a deletion is immediate.
	if err := namespaces.Delete(ctx(t), "team", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := namespaces.Get(ctx(t), "team", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("want NotFound, got %v", err)
	}

	ns = must[*corev1.Namespace](t)(namespaces.Create(ctx(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{}))
	ns.Spec.Finalizers = []corev1.FinalizerName{"unqualified"}
	if _, err := namespaces.Finalize(ctx(t), ns, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "name is neither a standard finalizer name nor is it fully qualified") {
		t.Fatalf("unqualified finalizer: want Invalid, got %v", err)
	}
}
