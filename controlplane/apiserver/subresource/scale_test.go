package subresource_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

func TestScaleReadsAndWritesTheDeploymentsReplicas(t *testing.T) {
	env := apiservertest.Start(t)
	deployments := env.Client.AppsV1().Deployments("default")
	created := must[*appsv1.Deployment](t)(deployments.Create(ctx(t), deployment("web", 2), metav1.CreateOptions{}))

	scale := must[*autoscalingv1.Scale](t)(deployments.GetScale(ctx(t), "web", metav1.GetOptions{}))
	if scale.Spec.Replicas != 2 || scale.Status.Selector != "app=web" || scale.ResourceVersion != created.ResourceVersion || scale.UID != created.UID {
		t.Fatalf("scale of the deployment: %+v", scale)
	}

	scale.Spec.Replicas = 5
	updated := must[*autoscalingv1.Scale](t)(deployments.UpdateScale(ctx(t), "web", scale, metav1.UpdateOptions{}))
	if updated.Spec.Replicas != 5 || updated.ResourceVersion == scale.ResourceVersion {
		t.Fatalf("updated scale: %+v", updated)
	}
	got := must[*appsv1.Deployment](t)(deployments.Get(ctx(t), "web", metav1.GetOptions{}))
	if *got.Spec.Replicas != 5 || got.Generation != created.Generation+1 {
		t.Fatalf("deployment after scaling: replicas %d generation %d, want 5 and %d", *got.Spec.Replicas, got.Generation, created.Generation+1)
	}

	// The Scale's resourceVersion is a precondition on the deployment.
	scale.Spec.Replicas = 7
	_, err := deployments.UpdateScale(ctx(t), "web", scale, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "the object has been modified") {
		t.Fatalf("stale scale: want Conflict, got %v", err)
	}

	scale = must[*autoscalingv1.Scale](t)(deployments.GetScale(ctx(t), "web", metav1.GetOptions{}))
	scale.Spec.Replicas = -1
	_, err = deployments.UpdateScale(ctx(t), "web", scale, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.replicas: Invalid value: -1: must be greater than or equal to 0") {
		t.Fatalf("negative replicas: want Invalid, got %v", err)
	}

	if _, err := deployments.GetScale(ctx(t), "nope", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("scale of a missing deployment: want NotFound, got %v", err)
	}
}

func TestScaleOfEveryScalableWorkload(t *testing.T) {
	env := apiservertest.Start(t)
	apps, core := env.Client.AppsV1(), env.Client.CoreV1()
	must[*appsv1.ReplicaSet](t)(apps.ReplicaSets("default").Create(ctx(t), &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "rs"},
		Spec:       appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: webLabels}, Template: template()},
	}, metav1.CreateOptions{}))
	must[*appsv1.StatefulSet](t)(apps.StatefulSets("default").Create(ctx(t), &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "sts"},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: webLabels}, Template: template()},
	}, metav1.CreateOptions{}))
	tmpl := template()
	must[*corev1.ReplicationController](t)(core.ReplicationControllers("default").Create(ctx(t), &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "rc"},
		Spec:       corev1.ReplicationControllerSpec{Replicas: ptr.To[int32](1), Selector: webLabels, Template: &tmpl},
	}, metav1.CreateOptions{}))

	tests := []struct {
		name string
		get  func() (*autoscalingv1.Scale, error)
		put  func(*autoscalingv1.Scale) (*autoscalingv1.Scale, error)
		read func() int32
	}{
		{
			"replicasets", func() (*autoscalingv1.Scale, error) {
				return apps.ReplicaSets("default").GetScale(ctx(t), "rs", metav1.GetOptions{})
			}, func(s *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
				return apps.ReplicaSets("default").UpdateScale(ctx(t), "rs", s, metav1.UpdateOptions{})
			}, func() int32 {
				return *must[*appsv1.ReplicaSet](t)(apps.ReplicaSets("default").Get(ctx(t), "rs", metav1.GetOptions{})).Spec.Replicas
			},
		},
		{
			"statefulsets", func() (*autoscalingv1.Scale, error) {
				return apps.StatefulSets("default").GetScale(ctx(t), "sts", metav1.GetOptions{})
			}, func(s *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
				return apps.StatefulSets("default").UpdateScale(ctx(t), "sts", s, metav1.UpdateOptions{})
			}, func() int32 {
				return *must[*appsv1.StatefulSet](t)(apps.StatefulSets("default").Get(ctx(t), "sts", metav1.GetOptions{})).Spec.Replicas
			},
		},
		{
			"replicationcontrollers", func() (*autoscalingv1.Scale, error) {
				return core.ReplicationControllers("default").GetScale(ctx(t), "rc", metav1.GetOptions{})
			}, func(s *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
				return core.ReplicationControllers("default").UpdateScale(ctx(t), "rc", s, metav1.UpdateOptions{})
			}, func() int32 {
				return *must[*corev1.ReplicationController](t)(core.ReplicationControllers("default").Get(ctx(t), "rc", metav1.GetOptions{})).Spec.Replicas
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.get()
			if err != nil {
				t.Fatal(err)
			}
			if s.Spec.Replicas != 1 || s.Status.Selector != "app=web" {
				t.Fatalf("scale: %+v", s)
			}
			s.Spec.Replicas = 3
			if _, err := tt.put(s); err != nil {
				t.Fatal(err)
			}
			if got := tt.read(); got != 3 {
				t.Fatalf("replicas after scaling: %d, want 3", got)
			}
		})
	}
}

func TestScaleMergePatchAsKubectlSendsIt(t *testing.T) {
	env := apiservertest.Start(t)
	deployments := env.Client.AppsV1().Deployments("default")
	must[*appsv1.Deployment](t)(deployments.Create(ctx(t), deployment("web", 1), metav1.CreateOptions{}))
	raw, err := env.Client.AppsV1().RESTClient().Patch(types.MergePatchType).
		Namespace("default").Resource("deployments").Name("web").SubResource("scale").
		Body([]byte(`{"spec":{"replicas":4}}`)).DoRaw(ctx(t))
	if err != nil {
		t.Fatalf("patch scale: %v: %s", err, raw)
	}
	if !strings.Contains(string(raw), `"kind":"Scale"`) || !strings.Contains(string(raw), `"replicas":4`) {
		t.Fatalf("patch answer: %s", raw)
	}
	if got := must[*appsv1.Deployment](t)(deployments.Get(ctx(t), "web", metav1.GetOptions{})); *got.Spec.Replicas != 4 {
		t.Fatalf("replicas %d after patch, want 4", *got.Spec.Replicas)
	}
}
