// Package validation checks objects the way upstream's API server does
// (k8s.io/kubernetes/pkg/apis/<group>/validation), on the v1 types kindish
// serves: same field paths, error types and details, so that a client sees
// `Pod "x" is invalid: spec.containers[0].image: Required value` from
// kindish as from Kubernetes.
//
// Metadata (names, labels, annotations, owner references, finalizers and
// their immutability) is the server's job; this package adds what each kind
// checks beyond it, including names that upstream holds to a stricter rule
// than a DNS subdomain.
//
// Fields that upstream's defaulting always sets before validating are
// accepted when empty, so the outcome is upstream's whether or not
// defaults were applied first.
package validation

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateFunc checks an object being created.
type ValidateFunc = func(obj runtime.Object) field.ErrorList

// ValidateUpdateFunc checks an object replacing old. It checks the whole
// new object, not only what changed, as upstream's update validation does.
type ValidateUpdateFunc = func(obj, old runtime.Object) field.ErrorList

// For returns the validation of kind gvk's objects on create and on
// update, or nils for kinds without checks of their own (reviews, for
// instance).
func For(gvk schema.GroupVersionKind) (validate ValidateFunc, validateUpdate ValidateUpdateFunc) {
	for _, k := range kinds() {
		if k.gvk == gvk {
			return k.validate, k.update
		}
	}
	return nil, nil
}

// ForSubresource returns the validation of updates through a subresource
// that carries the whole object, such as "status" or a namespace's
// "finalize", or nil when upstream checks nothing there.
func ForSubresource(gvk schema.GroupVersionKind, subresource string) ValidateUpdateFunc {
	for _, k := range kinds() {
		if k.gvk == gvk {
			return k.subresources[subresource]
		}
	}
	return nil
}

// NameRule returns upstream's rule for the names of kinds whose names may
// be more than the DNS subdomains the server requires of every kind, such
// as RBAC roles and bindings ("system:node" is a valid ClusterRole name).
// Kinds whose names must be less, such as namespaces, are checked by the
// functions For returns.
func NameRule(gvk schema.GroupVersionKind) (apimachineryvalidation.ValidateNameFunc, bool) {
	if gvk.Group == rbacv1.GroupName {
		return validatePathSegmentName, true
	}
	return nil, false
}

type kind struct {
	gvk          schema.GroupVersionKind
	validate     ValidateFunc
	update       ValidateUpdateFunc
	subresources map[string]ValidateUpdateFunc
}

func kinds() []kind {
	core := corev1.SchemeGroupVersion.WithKind
	apps := appsv1.SchemeGroupVersion.WithKind
	batch := batchv1.SchemeGroupVersion.WithKind
	rbac := rbacv1.SchemeGroupVersion.WithKind
	status := func(f ValidateUpdateFunc) map[string]ValidateUpdateFunc {
		return map[string]ValidateUpdateFunc{"status": f}
	}
	return []kind{
		// core/v1
		{core("Pod"), typed(validatePod), typedUpdate(validatePodUpdate), status(typedUpdate(validatePodStatusUpdate))},
		{core("Binding"), typed(validateBinding), nil, nil},
		{core("ConfigMap"), typed(validateConfigMap), typedUpdate(validateConfigMapUpdate), nil},
		{core("Secret"), typed(validateSecret), typedUpdate(validateSecretUpdate), nil},
		{core("Namespace"), typed(validateNamespace), typedUpdate(func(*corev1.Namespace, *corev1.Namespace) field.ErrorList { return nil }),
			map[string]ValidateUpdateFunc{
				"status":   typedUpdate(validateNamespaceStatusUpdate),
				"finalize": typedUpdate(validateNamespaceFinalize),
			}},
		{core("Node"), typed(validateNode), typedUpdate(func(n, old *corev1.Node) field.ErrorList {
			return append(validateNode(n), validateNodeUpdate(n, old)...)
		}), status(typedUpdate(validateNodeUpdate))},
		{core("ServiceAccount"), nil, nil, nil},
		{core("Endpoints"), typed(validateEndpoints), typedUpdate(func(ep, _ *corev1.Endpoints) field.ErrorList { return validateEndpoints(ep) }), nil},
		{core("Event"), typed(func(e *corev1.Event) field.ErrorList { v := coreEvent(e); return validateLegacyEvent(&v) }),
			typedUpdate(func(e, _ *corev1.Event) field.ErrorList { v := coreEvent(e); return validateLegacyEvent(&v) }), nil},
		{core("LimitRange"), typed(validateLimitRange), typedUpdate(func(lr, _ *corev1.LimitRange) field.ErrorList { return validateLimitRange(lr) }), nil},
		{core("ResourceQuota"), typed(validateResourceQuota), typedUpdate(validateResourceQuotaUpdate), status(typedUpdate(validateResourceQuotaStatusUpdate))},
		{core("PersistentVolume"), typed(validatePV), typedUpdate(validatePVUpdate), nil},
		{core("PersistentVolumeClaim"), typed(validatePVC), typedUpdate(validatePVCUpdate), status(typedUpdate(validatePVCStatusUpdate))},
		{core("ReplicationController"), typed(validateReplicationController),
			typedUpdate(func(rc, _ *corev1.ReplicationController) field.ErrorList { return validateReplicationController(rc) }),
			status(typedUpdate(validateReplicationControllerStatus))},
		{core("Service"), typed(validateService), typedUpdate(validateServiceUpdate), status(typedUpdate(validateServiceStatusUpdate))},

		// apps/v1
		{apps("Deployment"), typed(validateDeployment), typedUpdate(validateDeploymentUpdate), status(typedUpdate(validateDeploymentStatusUpdate))},
		{apps("ReplicaSet"), typed(validateReplicaSet), typedUpdate(validateReplicaSetUpdate), status(typedUpdate(validateReplicaSetStatusUpdate))},
		{apps("StatefulSet"), typed(validateStatefulSet), typedUpdate(validateStatefulSetUpdate), status(typedUpdate(validateStatefulSetStatusUpdate))},
		{apps("DaemonSet"), typed(validateDaemonSet), typedUpdate(validateDaemonSetUpdate), status(typedUpdate(validateDaemonSetStatusUpdate))},
		{apps("ControllerRevision"), typed(validateControllerRevision), typedUpdate(validateControllerRevisionUpdate), nil},

		// batch/v1
		{batch("Job"), typed(validateJob), typedUpdate(validateJobUpdate), status(typedUpdate(validateJobStatusUpdate))},
		{batch("CronJob"), typed(validateCronJob), typedUpdate(validateCronJobUpdate), nil},

		// coordination.k8s.io/v1, discovery.k8s.io/v1, events.k8s.io/v1
		{coordinationv1.SchemeGroupVersion.WithKind("Lease"), typed(validateLease),
			typedUpdate(func(l, _ *coordinationv1.Lease) field.ErrorList { return validateLease(l) }), nil},
		{discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"), typed(validateEndpointSlice), typedUpdate(validateEndpointSliceUpdate), nil},
		{eventsv1.SchemeGroupVersion.WithKind("Event"), typed(func(e *eventsv1.Event) field.ErrorList { v := eventsEvent(e); return validateEventCreate(&v) }),
			typedUpdate(func(e, old *eventsv1.Event) field.ErrorList {
				v, o := eventsEvent(e), eventsEvent(old)
				return validateEventUpdate(&v, &o)
			}), nil},

		// rbac.authorization.k8s.io/v1
		{rbac("Role"), typed(validateRole), typedUpdate(func(r, _ *rbacv1.Role) field.ErrorList { return validateRole(r) }), nil},
		{rbac("ClusterRole"), typed(validateClusterRole), typedUpdate(func(r, _ *rbacv1.ClusterRole) field.ErrorList { return validateClusterRole(r) }), nil},
		{rbac("RoleBinding"), typed(func(b *rbacv1.RoleBinding) field.ErrorList { return validateRoleBinding(b.RoleRef, b.Subjects, true) }),
			typedUpdate(func(b, old *rbacv1.RoleBinding) field.ErrorList {
				return validateRoleRefUpdate(validateRoleBinding(b.RoleRef, b.Subjects, true), b.RoleRef, old.RoleRef)
			}), nil},
		{rbac("ClusterRoleBinding"), typed(func(b *rbacv1.ClusterRoleBinding) field.ErrorList {
			return validateRoleBinding(b.RoleRef, b.Subjects, false)
		}),
			typedUpdate(func(b, old *rbacv1.ClusterRoleBinding) field.ErrorList {
				return validateRoleRefUpdate(validateRoleBinding(b.RoleRef, b.Subjects, false), b.RoleRef, old.RoleRef)
			}), nil},

		// policy/v1, scheduling.k8s.io/v1, storage.k8s.io/v1
		{policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"), typed(validatePodDisruptionBudget),
			typedUpdate(func(p, _ *policyv1.PodDisruptionBudget) field.ErrorList { return validatePodDisruptionBudget(p) }),
			status(typedUpdate(validatePodDisruptionBudgetStatusUpdate))},
		{schedulingv1.SchemeGroupVersion.WithKind("PriorityClass"), typed(validatePriorityClass), typedUpdate(validatePriorityClassUpdate), nil},
		{storagev1.SchemeGroupVersion.WithKind("StorageClass"), typed(validateStorageClass),
			typedUpdate(func(sc, old *storagev1.StorageClass) field.ErrorList {
				return append(validateStorageClass(sc), validateStorageClassUpdate(sc, old)...)
			}), nil},
	}
}

// typed adapts a check of one Go type to any object; a wrong type is the
// caller's bug, reported as an internal error rather than a panic.
func typed[T runtime.Object](f func(T) field.ErrorList) ValidateFunc {
	return func(obj runtime.Object) field.ErrorList {
		o, ok := obj.(T)
		if !ok {
			return wrongType[T](obj)
		}
		return f(o)
	}
}

func typedUpdate[T runtime.Object](f func(T, T) field.ErrorList) ValidateUpdateFunc {
	return func(obj, old runtime.Object) field.ErrorList {
		o, ok := obj.(T)
		if !ok {
			return wrongType[T](obj)
		}
		p, ok := old.(T)
		if !ok {
			return wrongType[T](old)
		}
		return f(o, p)
	}
}

func wrongType[T runtime.Object](obj runtime.Object) field.ErrorList {
	var want T
	return field.ErrorList{field.InternalError(nil, fmt.Errorf("validation of %T given %T", want, obj))}
}
