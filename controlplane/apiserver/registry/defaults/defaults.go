// Package defaults fills the fields that a v1.36 kube-apiserver fills before
// admission and validation: each API group's defaulting functions, the
// +default markers of k8s.io/api, and the few v1 fields that upstream keeps
// in step through its internal version (a pod's serviceAccount and podIP, a
// node's podCIDR, a Secret's stringData).
//
// A nested object gets its type's defaults wherever it appears, as with
// upstream's generated defaulters: a Deployment's pod template gets the pod
// spec, volume and container defaults, a StatefulSet's volume claim
// templates get a PersistentVolumeClaim's. What upstream defaults on a Pod
// alone (enableServiceLinks, requests copied from limits, pod-level
// resources, host ports on the host network) stays out of templates, so
// that templates do not change under a running workload when upstream adds
// a pod default.
//
// Where a default depends on a feature gate, it follows the gate's v1.36
// default. Every function is idempotent: applying it to its own output
// changes nothing.
//
// Fields that upstream fills in the resource's strategy or an allocator
// rather than in defaulting (a Service's cluster IPs and IP families, a
// Job's selector, a Namespace's finalizer) are not set here.
package defaults

import (
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// For returns the defaulting of a kind, for a resource's
// Strategy.Defaults, or nil when upstream defaults nothing in that kind.
// The function it returns leaves objects of any other Go type alone.
func For(gvk schema.GroupVersionKind) func(obj runtime.Object) {
	switch gvk.GroupVersion() {
	case corev1.SchemeGroupVersion:
		return coreV1(gvk.Kind)
	case appsv1.SchemeGroupVersion:
		return appsV1(gvk.Kind)
	case batchv1.SchemeGroupVersion:
		return batchV1(gvk.Kind)
	case discoveryv1.SchemeGroupVersion:
		if gvk.Kind == "EndpointSlice" {
			return typed(EndpointSlice)
		}
	case rbacv1.SchemeGroupVersion:
		return rbacV1(gvk.Kind)
	case schedulingv1.SchemeGroupVersion:
		if gvk.Kind == "PriorityClass" {
			return typed(PriorityClass)
		}
	case storagev1.SchemeGroupVersion:
		if gvk.Kind == "StorageClass" {
			return typed(StorageClass)
		}
	case authenticationv1.SchemeGroupVersion:
		if gvk.Kind == "TokenRequest" {
			return typed(TokenRequest)
		}
	case networkingv1.SchemeGroupVersion:
		return networkingV1(gvk.Kind)
	}
	// Among the rest: core Events, ServiceAccounts, Bindings,
	// ControllerRevisions, Leases, events.k8s.io Events, Roles and
	// ClusterRoles, PodDisruptionBudgets and the reviews. Upstream has no
	// defaults for any of them.
	return nil
}

func coreV1(kind string) func(runtime.Object) {
	switch kind {
	case "Pod":
		return typed(Pod)
	case "PodTemplate":
		return typed(PodTemplate)
	case "ReplicationController":
		return typed(ReplicationController)
	case "Service":
		return typed(Service)
	case "Endpoints":
		return typed(Endpoints)
	case "Namespace":
		return typed(Namespace)
	case "Node":
		return typed(Node)
	case "Secret":
		return typed(Secret)
	case "ConfigMap":
		return typed(ConfigMap)
	case "PersistentVolume":
		return typed(PersistentVolume)
	case "PersistentVolumeClaim":
		return typed(PersistentVolumeClaim)
	case "LimitRange":
		return typed(LimitRange)
	case "ResourceQuota":
		return typed(ResourceQuota)
	}
	return nil
}

func appsV1(kind string) func(runtime.Object) {
	switch kind {
	case "Deployment":
		return typed(Deployment)
	case "ReplicaSet":
		return typed(ReplicaSet)
	case "StatefulSet":
		return typed(StatefulSet)
	case "DaemonSet":
		return typed(DaemonSet)
	}
	return nil
}

func batchV1(kind string) func(runtime.Object) {
	switch kind {
	case "Job":
		return typed(Job)
	case "CronJob":
		return typed(CronJob)
	}
	return nil
}

func rbacV1(kind string) func(runtime.Object) {
	switch kind {
	case "RoleBinding":
		return typed(RoleBinding)
	case "ClusterRoleBinding":
		return typed(ClusterRoleBinding)
	}
	return nil
}

func networkingV1(kind string) func(runtime.Object) {
	switch kind {
	case "NetworkPolicy":
		return typed(NetworkPolicy)
	case "IngressClass":
		return typed(IngressClass)
	}
	return nil
}

// typed adapts a defaulting function of one Go type to runtime.Object.
func typed[T any](f func(*T)) func(runtime.Object) {
	return func(obj runtime.Object) {
		if t, ok := any(obj).(*T); ok && t != nil {
			f(t)
		}
	}
}
