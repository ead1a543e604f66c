package defaults_test

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
	"github.com/kindish/kindish/controlplane/apiserver/registry/defaults"
)

// samples holds, for every kind upstream defaults, an object that its
// defaulting changes, with something in every nested part that has
// defaults of its own. A kind missing here must have no defaulting.
var samples = map[schema.GroupVersionKind]func() runtime.Object{
	corev1.SchemeGroupVersion.WithKind("Pod"):         func() runtime.Object { return samplePod() },
	corev1.SchemeGroupVersion.WithKind("PodTemplate"): func() runtime.Object { return &corev1.PodTemplate{Template: sampleTemplate()} },
	corev1.SchemeGroupVersion.WithKind("ReplicationController"): func() runtime.Object {
		return &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: new(sampleTemplate())}}
	},
	corev1.SchemeGroupVersion.WithKind("Service"): func() runtime.Object {
		return &corev1.Service{
			Spec:   corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, SessionAffinity: corev1.ServiceAffinityClientIP, Ports: []corev1.ServicePort{{Port: 80}}},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.1"}}}},
		}
	},
	corev1.SchemeGroupVersion.WithKind("Endpoints"): func() runtime.Object {
		return &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}}
	},
	corev1.SchemeGroupVersion.WithKind("Namespace"): func() runtime.Object { return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}} },
	corev1.SchemeGroupVersion.WithKind("Node"): func() runtime.Object {
		return &corev1.Node{Spec: corev1.NodeSpec{PodCIDR: "10.244.0.0/24"}, Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourceCPU: q("1500u")}}}
	},
	corev1.SchemeGroupVersion.WithKind("Secret"): func() runtime.Object {
		return &corev1.Secret{StringData: map[string]string{"k": "v"}}
	},
	corev1.SchemeGroupVersion.WithKind("ConfigMap"): func() runtime.Object { return &corev1.ConfigMap{} },
	corev1.SchemeGroupVersion.WithKind("PersistentVolume"): func() runtime.Object {
		return &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: q("1Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/d"}},
		}}
	},
	corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"): func() runtime.Object { return samplePVC() },
	corev1.SchemeGroupVersion.WithKind("LimitRange"): func() runtime.Object {
		return &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceCPU: q("2")}, Min: corev1.ResourceList{corev1.ResourceMemory: q("10Mi")},
		}}}}
	},
	corev1.SchemeGroupVersion.WithKind("ResourceQuota"): func() runtime.Object {
		return &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: q("100u")}}}
	},
	appsv1.SchemeGroupVersion.WithKind("Deployment"): func() runtime.Object {
		return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: sampleTemplate()}}
	},
	appsv1.SchemeGroupVersion.WithKind("ReplicaSet"): func() runtime.Object {
		return &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: sampleTemplate()}}
	},
	appsv1.SchemeGroupVersion.WithKind("DaemonSet"): func() runtime.Object {
		return &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: sampleTemplate()}}
	},
	appsv1.SchemeGroupVersion.WithKind("StatefulSet"): func() runtime.Object {
		return &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Template: sampleTemplate(), VolumeClaimTemplates: []corev1.PersistentVolumeClaim{*samplePVC()}}}
	},
	batchv1.SchemeGroupVersion.WithKind("Job"): func() runtime.Object {
		return &batchv1.Job{Spec: batchv1.JobSpec{Template: sampleTemplate(), PodFailurePolicy: samplePodFailurePolicy()}}
	},
	batchv1.SchemeGroupVersion.WithKind("CronJob"): func() runtime.Object {
		return &batchv1.CronJob{Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: sampleTemplate(), PodFailurePolicy: samplePodFailurePolicy(),
		}}}}
	},
	discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"): func() runtime.Object {
		return &discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{Port: new(int32(80))}}}
	},
	rbacv1.SchemeGroupVersion.WithKind("RoleBinding"): func() runtime.Object {
		return &rbacv1.RoleBinding{Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "u"}}}
	},
	rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBinding"): func() runtime.Object {
		return &rbacv1.ClusterRoleBinding{Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: "g"}}}
	},
	schedulingv1.SchemeGroupVersion.WithKind("PriorityClass"): func() runtime.Object { return &schedulingv1.PriorityClass{} },
	storagev1.SchemeGroupVersion.WithKind("StorageClass"):     func() runtime.Object { return &storagev1.StorageClass{} },
	authenticationv1.SchemeGroupVersion.WithKind("TokenRequest"): func() runtime.Object {
		return &authenticationv1.TokenRequest{}
	},
	networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"): func() runtime.Object {
		return &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{}}}}}}
	},
	networkingv1.SchemeGroupVersion.WithKind("IngressClass"): func() runtime.Object {
		return &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Parameters: &networkingv1.IngressClassParametersReference{Kind: "P", Name: "p"}}}
	},
}

// Every served kind that upstream defaults has its defaulting, wired to
// the kind's Go type; every other served kind has none.
func TestForEveryServedKind(t *testing.T) {
	for _, r := range registry.Resources() {
		gvk := r.GroupVersionKind()
		f := defaults.For(gvk)
		sample, defaulted := samples[gvk]
		switch {
		case !defaulted && f != nil:
			t.Errorf("%s: upstream defaults nothing, For returns a function", gvk)
		case defaulted && f == nil:
			t.Errorf("%s: upstream has defaults, For returns nil", gvk)
		case defaulted:
			if got, want := reflect.TypeOf(sample()), reflect.TypeOf(r.New()); got != want {
				t.Errorf("%s: sample is a %v, the registry serves a %v", gvk, got, want)
			}
			checkDefaults(t, gvk, f, sample())
		}
	}
}

// Kinds defaulted here that the registry does not serve as resources: the
// token subresource's TokenRequest, PodTemplates and networking.
func TestForKindsBeyondTheRegistry(t *testing.T) {
	served := map[schema.GroupVersionKind]bool{}
	for _, r := range registry.Resources() {
		served[r.GroupVersionKind()] = true
	}
	for gvk, sample := range samples {
		if served[gvk] {
			continue
		}
		f := defaults.For(gvk)
		if f == nil {
			t.Errorf("%s: For returns nil", gvk)
			continue
		}
		checkDefaults(t, gvk, f, sample())
	}
}

// checkDefaults applies f to obj, which must change it, then again, which
// must not.
func checkDefaults(t *testing.T, gvk schema.GroupVersionKind, f func(runtime.Object), obj runtime.Object) {
	t.Helper()
	before := obj.DeepCopyObject()
	f(obj)
	if reflect.DeepEqual(before, obj) {
		t.Errorf("%s: defaulting the sample changed nothing", gvk)
	}
	once := obj.DeepCopyObject()
	f(obj)
	if !reflect.DeepEqual(once, obj) {
		t.Errorf("%s: defaulting twice changed the object (-once +twice):\n%s", gvk, cmp.Diff(once, obj, quantities))
	}
}

func TestForLeavesOtherTypesAlone(t *testing.T) {
	svc := &corev1.Service{}
	defaults.For(corev1.SchemeGroupVersion.WithKind("Pod"))(svc)
	if !reflect.DeepEqual(svc, &corev1.Service{}) {
		t.Errorf("pod defaulting changed a service: %+v", svc)
	}
	defaults.For(corev1.SchemeGroupVersion.WithKind("Pod"))(nil)
	defaults.For(corev1.SchemeGroupVersion.WithKind("Pod"))((*corev1.Pod)(nil))
	if f := defaults.For(schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Pod"}); f != nil {
		t.Error("For returns defaulting for a kind of another group")
	}
}

func sampleTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec:       samplePod().Spec,
	}
}

func samplePVC() *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q("1500u")}},
	}}
}

func samplePodFailurePolicy() *batchv1.PodFailurePolicy {
	return &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}},
	}}}
}

// samplePod has something to default everywhere: volumes of every kind
// with defaults, sidecars, limits only, pod-level resources, quantities to
// round, the deprecated service account, host networking and status IPs.
func samplePod() *corev1.Pod {
	probe := func() *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(8080)}}}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sample", Namespace: "default"},
		Spec: corev1.PodSpec{
			DeprecatedServiceAccount: "sa",
			HostNetwork:              true,
			Resources:                &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("4"), corev1.ResourceMemory: q("1Gi")}},
			Overhead:                 corev1.ResourceList{corev1.ResourceCPU: q("10u")},
			Volumes: []corev1.Volume{
				{Name: "empty"},
				{Name: "hp", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}},
				{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
				{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
				{Name: "d", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{{Path: "n", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}},
				{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "t"}}}}}},
				{Name: "e", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: samplePVC().Spec}}}},
				{Name: "i", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "tools"}}},
			},
			InitContainers: []corev1.Container{
				{Name: "sidecar", Image: "envoy:v1", RestartPolicy: new(corev1.ContainerRestartPolicyAlways), Ports: []corev1.ContainerPort{{ContainerPort: 15000}},
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q("100m")}}},
				{Name: "init", Image: "busybox", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("1"), "hugepages-2Mi": q("2Mi")}}},
			},
			Containers: []corev1.Container{{
				Name: "app", Image: "app:v2", Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				Env:            []corev1.EnvVar{{Name: "N", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
				Resources:      corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: q("256Mi"), corev1.ResourceCPU: q("100u")}},
				LivenessProbe:  probe(),
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090}}},
				StartupProbe:   probe(),
				Lifecycle:      &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(8080)}}},
			}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "dbg", Image: "busybox"}}},
		},
		Status: corev1.PodStatus{
			PodIP:  "10.244.0.5",
			HostIP: "172.18.0.2",
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", AllocatedResources: corev1.ResourceList{corev1.ResourceCPU: q("100u")},
				Resources: &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("100u")}},
			}},
		},
	}
}
