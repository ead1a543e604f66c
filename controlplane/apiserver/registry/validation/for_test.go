package validation

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validObjects() []runtime.Object {
	return []runtime.Object{
		validPod(), richPod(), validService(), validConfigMap(), validSecret(), validNamespace(), validNode(),
		validEndpoints(), validCoreEvent(), validResourceQuota(), validLimitRange(), validPV(), validPVC(), validRC(),
		validDeployment(), validReplicaSet(), validStatefulSet(), validDaemonSet(), validControllerRevision(),
		validJob(), validCronJob(), validLease(), validEndpointSlice(), validEventsEvent(),
		validRole(), validClusterRole(), validRoleBinding(), validClusterRoleBinding(),
		validPDB(), validPriorityClass(), validStorageClass(),
		&corev1.ServiceAccount{ObjectMeta: meta("default")},
		&corev1.Binding{ObjectMeta: meta("x"), Target: corev1.ObjectReference{Kind: "Node", Name: "kindish-worker"}},
	}
}

func TestValidObjectsOfEveryKindPass(t *testing.T) {
	for _, obj := range validObjects() {
		t.Run(fmt.Sprintf("%T", obj), func(t *testing.T) {
			v, vu := For(gvkOf(t, obj))
			if v != nil {
				wantErrors(t, v(obj))
			}
			if vu != nil {
				wantErrors(t, vu(obj, obj.DeepCopyObject()))
			}
		})
	}
}

// The message clients print is built from these errors by the server,
// with apierrors.NewInvalid.
func TestInvalidMessageReadsLikeUpstream(t *testing.T) {
	pod := validPod()
	pod.Spec.Containers[0].Image = ""
	err := apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "x", validate(t, pod))
	if got, want := err.Error(), `Pod "x" is invalid: spec.containers[0].image: Required value`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "app"})
	err = apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "x", validate(t, pod))
	want := `Pod "x" is invalid: [spec.containers[0].image: Required value, spec.containers[1].image: Required value, spec.containers[1].name: Duplicate value: "app"]`
	if got := err.Error(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestWrongTypeIsAnInternalError(t *testing.T) {
	v, vu := For(corev1.SchemeGroupVersion.WithKind("Pod"))
	errs := v(&corev1.Service{})
	if len(errs) != 1 || errs[0].Type != field.ErrorTypeInternal || !strings.Contains(errs[0].Detail, "*v1.Service") {
		t.Errorf("got %v", errs)
	}
	if errs := vu(validPod(), &corev1.Service{}); len(errs) != 1 || errs[0].Type != field.ErrorTypeInternal {
		t.Errorf("got %v", errs)
	}
}

func TestKindsWithoutChecksHaveNone(t *testing.T) {
	v, vu := For(schema.GroupVersionKind{Group: "authorization.k8s.io", Version: "v1", Kind: "SubjectAccessReview"})
	if v != nil || vu != nil {
		t.Error("reviews have no validation of their own")
	}
	if ForSubresource(corev1.SchemeGroupVersion.WithKind("ConfigMap"), "status") != nil {
		t.Error("configmaps have no status")
	}
}

func TestNameRuleIsLooserForRBAC(t *testing.T) {
	rule, ok := NameRule(schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"})
	if !ok || len(rule("system:controller:job-controller", false)) != 0 || len(rule("a/b", false)) == 0 {
		t.Error("RBAC names are path segments")
	}
	if _, ok := NameRule(corev1.SchemeGroupVersion.WithKind("Pod")); ok {
		t.Error("pods use the server's rule")
	}
}
