// Package discoverytest holds a small resource table for the tests of the
// API's self-description (discovery and OpenAPI): a handful of resources
// from several groups, with the subresources that exercise every shape of
// operation.
package discoverytest

import (
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

var (
	core   = corev1.SchemeGroupVersion
	apps   = appsv1.SchemeGroupVersion
	coord  = coordinationv1.SchemeGroupVersion
	rbac   = rbacv1.SchemeGroupVersion
	status = func(kind schema.GroupVersionKind) registry.Subresource {
		return registry.Subresource{Name: "status", Kind: kind, Verbs: registry.StatusVerbs}
	}
)

// Resources returns the table: pods (with status, log, exec, binding and
// eviction), namespaces, nodes, configmaps and services in core/v1;
// deployments (status, scale) in apps/v1; leases; clusterroles.
func Resources() []registry.Resource {
	return []registry.Resource{
		{
			GroupVersion: core, Name: "pods", SingularName: "pod", Kind: "Pod", Namespaced: true,
			ShortNames: []string{"po"}, Categories: []string{"all"}, Verbs: registry.AllVerbs,
			Subresources: []registry.Subresource{
				status(core.WithKind("Pod")),
				{Name: "log", Kind: core.WithKind("Pod"), Verbs: []string{"get"}},
				{Name: "exec", Kind: core.WithKind("PodExecOptions"), Verbs: []string{"create", "get"}},
				{Name: "binding", Kind: core.WithKind("Binding"), Verbs: []string{"create"}},
				{Name: "eviction", Kind: schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}, Verbs: []string{"create"}},
			},
			New:     func() runtime.Object { return &corev1.Pod{} },
			NewList: func() runtime.Object { return &corev1.PodList{} },
		},
		{
			GroupVersion: core, Name: "namespaces", SingularName: "namespace", Kind: "Namespace",
			ShortNames: []string{"ns"}, Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"},
			Subresources: []registry.Subresource{status(core.WithKind("Namespace"))},
			New:          func() runtime.Object { return &corev1.Namespace{} },
			NewList:      func() runtime.Object { return &corev1.NamespaceList{} },
		},
		{
			GroupVersion: core, Name: "nodes", SingularName: "node", Kind: "Node",
			ShortNames: []string{"no"}, Verbs: registry.AllVerbs,
			Subresources: []registry.Subresource{status(core.WithKind("Node"))},
			New:          func() runtime.Object { return &corev1.Node{} },
			NewList:      func() runtime.Object { return &corev1.NodeList{} },
		},
		{
			GroupVersion: core, Name: "configmaps", SingularName: "configmap", Kind: "ConfigMap", Namespaced: true,
			ShortNames: []string{"cm"}, Verbs: registry.AllVerbs,
			New:     func() runtime.Object { return &corev1.ConfigMap{} },
			NewList: func() runtime.Object { return &corev1.ConfigMapList{} },
		},
		{
			GroupVersion: core, Name: "services", SingularName: "service", Kind: "Service", Namespaced: true,
			ShortNames: []string{"svc"}, Categories: []string{"all"}, Verbs: registry.AllVerbs,
			Subresources: []registry.Subresource{status(core.WithKind("Service"))},
			New:          func() runtime.Object { return &corev1.Service{} },
			NewList:      func() runtime.Object { return &corev1.ServiceList{} },
		},
		{
			GroupVersion: apps, Name: "deployments", SingularName: "deployment", Kind: "Deployment", Namespaced: true,
			ShortNames: []string{"deploy"}, Categories: []string{"all"}, Verbs: registry.AllVerbs,
			Subresources: []registry.Subresource{
				status(apps.WithKind("Deployment")),
				{Name: "scale", Kind: schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, Verbs: registry.StatusVerbs},
			},
			New:     func() runtime.Object { return &appsv1.Deployment{} },
			NewList: func() runtime.Object { return &appsv1.DeploymentList{} },
		},
		{
			GroupVersion: coord, Name: "leases", SingularName: "lease", Kind: "Lease", Namespaced: true,
			Verbs:   registry.AllVerbs,
			New:     func() runtime.Object { return &coordinationv1.Lease{} },
			NewList: func() runtime.Object { return &coordinationv1.LeaseList{} },
		},
		{
			GroupVersion: rbac, Name: "clusterroles", SingularName: "clusterrole", Kind: "ClusterRole",
			Verbs:   registry.AllVerbs,
			New:     func() runtime.Object { return &rbacv1.ClusterRole{} },
			NewList: func() runtime.Object { return &rbacv1.ClusterRoleList{} },
		},
	}
}
