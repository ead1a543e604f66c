package subresource_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

func binding(pod, node string) *corev1.Binding {
	return &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}
}

func TestBindingAssignsThePodOnce(t *testing.T) {
	env := apiservertest.Start(t)
	pods := env.Client.CoreV1().Pods("default")
	must[*corev1.Pod](t)(pods.Create(ctx(t), pod("web"), metav1.CreateOptions{}))

	b := binding("web", "node-1")
	b.Annotations = map[string]string{"scheduler.example.com/score": "7"}
	if err := pods.Bind(ctx(t), b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := must[*corev1.Pod](t)(pods.Get(ctx(t), "web", metav1.GetOptions{}))
	if got.Spec.NodeName != "node-1" || got.Annotations["scheduler.example.com/score"] != "7" {
		t.Fatalf("bound pod: node %q annotations %v", got.Spec.NodeName, got.Annotations)
	}
	scheduled := false
	for _, c := range got.Status.Conditions {
		scheduled = scheduled || c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue && !c.LastTransitionTime.IsZero()
	}
	if !scheduled {
		t.Fatalf("no PodScheduled=True condition: %+v", got.Status.Conditions)
	}

	err := pods.Bind(ctx(t), binding("web", "node-2"), metav1.CreateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `pod web is already assigned to node "node-1"`) {
		t.Fatalf("second binding: want Conflict, got %v", err)
	}
}

func TestBindingsResourceBindsByTheBodysName(t *testing.T) {
	env := apiservertest.Start(t)
	pods := env.Client.CoreV1().Pods("default")
	must[*corev1.Pod](t)(pods.Create(ctx(t), pod("web"), metav1.CreateOptions{}))
	err := env.Client.CoreV1().RESTClient().Post().Namespace("default").Resource("bindings").
		Body(binding("web", "node-1")).Do(ctx(t)).Error()
	if err != nil {
		t.Fatal(err)
	}
	if got := must[*corev1.Pod](t)(pods.Get(ctx(t), "web", metav1.GetOptions{})); got.Spec.NodeName != "node-1" {
		t.Fatalf("node %q after POST bindings", got.Spec.NodeName)
	}
}

func TestBindingRefusals(t *testing.T) {
	env := apiservertest.Start(t)
	pods := env.Client.CoreV1().Pods("default")
	held := pod("held")
	held.Finalizers = []string{"example.com/hold"}
	must[*corev1.Pod](t)(pods.Create(ctx(t), held, metav1.CreateOptions{}))
	if err := pods.Delete(ctx(t), "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	must[*corev1.Pod](t)(pods.Create(ctx(t), pod("web"), metav1.CreateOptions{}))

	tests := []struct {
		name    string
		binding *corev1.Binding
		want    func(error) bool
		message string
	}{
		{"a pod being deleted", binding("held", "node-1"), apierrors.IsConflict, "pod held is being deleted, cannot be assigned to a host"},
		{"a missing pod", binding("nope", "node-1"), apierrors.IsNotFound, `pods "nope" not found`},
		{"no target", binding("web", ""), apierrors.IsInvalid, "target.name: Required value"},
		{"a target that is not a node", &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Target: corev1.ObjectReference{Kind: "Pod", Name: "x"}}, apierrors.IsInvalid, `target.kind: Unsupported value: "Pod"`},
		{"a stale UID", &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web", UID: "not-the-pods"}, Target: corev1.ObjectReference{Name: "node-1"}}, apierrors.IsConflict, "Precondition failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pods.Bind(ctx(t), tt.binding, metav1.CreateOptions{})
			if !tt.want(err) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("want %q, got %v", tt.message, err)
			}
		})
	}
	if got := must[*corev1.Pod](t)(pods.Get(ctx(t), "web", metav1.GetOptions{})); got.Spec.NodeName != "" {
		t.Fatalf("a refused binding assigned the pod to %q", got.Spec.NodeName)
	}
}
