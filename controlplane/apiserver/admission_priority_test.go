package apiserver_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

func TestPodsGetTheirPriorityFromTheirClass(t *testing.T) {
	env := apiservertest.Start(t)
	pods := env.Client.CoreV1().Pods("kube-system")
	pod := func(name, class string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.PodSpec{PriorityClassName: class, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}
	}
	critical, err := pods.Create(ctx(t), pod("critical", "system-node-critical"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *critical.Spec.Priority != 2000001000 || *critical.Spec.PreemptionPolicy != corev1.PreemptLowerPriority {
		t.Fatalf("priority %d, policy %s", *critical.Spec.Priority, *critical.Spec.PreemptionPolicy)
	}
	plain, err := pods.Create(ctx(t), pod("plain", ""), metav1.CreateOptions{})
	if err != nil || *plain.Spec.Priority != 0 {
		t.Fatalf("a pod without a class gets priority 0: %v %v", err, plain.Spec.Priority)
	}
	_, err = pods.Create(ctx(t), pod("unknown", "nope"), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "no PriorityClass with name nope was found") {
		t.Fatalf("unknown class: %v", err)
	}
}
