package registry

import (
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group versions kindish serves.
var (
	CoreV1           = schema.GroupVersion{Version: "v1"}
	AppsV1           = appsv1.SchemeGroupVersion
	BatchV1          = batchv1.SchemeGroupVersion
	CoordinationV1   = coordinationv1.SchemeGroupVersion
	DiscoveryV1      = discoveryv1.SchemeGroupVersion
	EventsV1         = eventsv1.SchemeGroupVersion
	RBACV1           = rbacv1.SchemeGroupVersion
	AuthenticationV1 = authenticationv1.SchemeGroupVersion
	AuthorizationV1  = authorizationv1.SchemeGroupVersion
	PolicyV1         = policyv1.SchemeGroupVersion
	SchedulingV1     = schedulingv1.SchemeGroupVersion
	StorageV1        = storagev1.SchemeGroupVersion
)

var (
	scaleKind = autoscalingv1.SchemeGroupVersion.WithKind("Scale")
	// createOnly is the verb set of resources that answer a request
	// instead of storing it (reviews).
	createOnly  = []string{"create"}
	categoryAll = []string{"all"}
)

// entry builds a stored resource from a zero object and its list.
func entry[T any, L any, PT interface {
	*T
	runtime.Object
}, PL interface {
	*L
	runtime.Object
}](gv schema.GroupVersion, name, singular, kind string, namespaced bool, short ...string) Resource {
	return Resource{
		GroupVersion: gv,
		Name:         name,
		SingularName: singular,
		Kind:         kind,
		Namespaced:   namespaced,
		ShortNames:   short,
		Verbs:        AllVerbs,
		New:          func() runtime.Object { return PT(new(T)) },
		NewList:      func() runtime.Object { return PL(new(L)) },
	}
}

func (r Resource) with(sub ...Subresource) Resource {
	r.Subresources = append(r.Subresources, sub...)
	return r
}

func (r Resource) inCategories(c ...string) Resource {
	r.Categories = c
	return r
}

func (r Resource) withVerbs(v ...string) Resource {
	r.Verbs = v
	return r
}

func status(r schema.GroupVersionKind) Subresource {
	return Subresource{Name: "status", Kind: r, Verbs: StatusVerbs}
}

func scale() Subresource {
	return Subresource{Name: "scale", Kind: scaleKind, Verbs: []string{"get", "patch", "update"}}
}

func sub(name string, kind schema.GroupVersionKind, verbs ...string) Subresource {
	return Subresource{Name: name, Kind: kind, Verbs: verbs}
}

// Resources is every resource kindish serves, in discovery order.
func Resources() []Resource {
	core := func(kind string) schema.GroupVersionKind { return CoreV1.WithKind(kind) }
	pod, node, svc := core("Pod"), core("Node"), core("Service")
	return []Resource{
		// core/v1
		entry[corev1.Binding, corev1.PodList](CoreV1, "bindings", "binding", "Binding", true).withVerbs("create"),
		entry[corev1.ConfigMap, corev1.ConfigMapList](CoreV1, "configmaps", "configmap", "ConfigMap", true, "cm"),
		entry[corev1.Endpoints, corev1.EndpointsList](CoreV1, "endpoints", "endpoints", "Endpoints", true, "ep"),
		entry[corev1.Event, corev1.EventList](CoreV1, "events", "event", "Event", true, "ev"),
		entry[corev1.LimitRange, corev1.LimitRangeList](CoreV1, "limitranges", "limitrange", "LimitRange", true, "limits"),
		entry[corev1.Namespace, corev1.NamespaceList](CoreV1, "namespaces", "namespace", "Namespace", false, "ns").
			withVerbs("create", "delete", "get", "list", "patch", "update", "watch").
			with(status(core("Namespace")), sub("finalize", core("Namespace"), "update")),
		entry[corev1.Node, corev1.NodeList](CoreV1, "nodes", "node", "Node", false, "no").
			with(status(node), sub("proxy", core("NodeProxyOptions"), "create", "delete", "get", "patch", "update")),
		entry[corev1.PersistentVolumeClaim, corev1.PersistentVolumeClaimList](CoreV1, "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", true, "pvc").
			with(status(core("PersistentVolumeClaim"))),
		entry[corev1.PersistentVolume, corev1.PersistentVolumeList](CoreV1, "persistentvolumes", "persistentvolume", "PersistentVolume", false, "pv").
			with(status(core("PersistentVolume"))),
		entry[corev1.Pod, corev1.PodList](CoreV1, "pods", "pod", "Pod", true, "po").inCategories(categoryAll...).
			with(
				sub("attach", core("PodAttachOptions"), "create", "get"),
				sub("binding", core("Binding"), "create"),
				sub("eviction", PolicyV1.WithKind("Eviction"), "create"),
				sub("exec", core("PodExecOptions"), "create", "get"),
				sub("log", pod, "get"),
				sub("portforward", core("PodPortForwardOptions"), "create", "get"),
				status(pod),
			),
		entry[corev1.ReplicationController, corev1.ReplicationControllerList](CoreV1, "replicationcontrollers", "replicationcontroller", "ReplicationController", true, "rc").
			inCategories(categoryAll...).with(scale(), status(core("ReplicationController"))),
		entry[corev1.ResourceQuota, corev1.ResourceQuotaList](CoreV1, "resourcequotas", "resourcequota", "ResourceQuota", true, "quota").
			with(status(core("ResourceQuota"))),
		entry[corev1.Secret, corev1.SecretList](CoreV1, "secrets", "secret", "Secret", true),
		entry[corev1.ServiceAccount, corev1.ServiceAccountList](CoreV1, "serviceaccounts", "serviceaccount", "ServiceAccount", true, "sa").
			with(sub("token", AuthenticationV1.WithKind("TokenRequest"), "create")),
		entry[corev1.Service, corev1.ServiceList](CoreV1, "services", "service", "Service", true, "svc").inCategories(categoryAll...).
			with(sub("proxy", core("ServiceProxyOptions"), "create", "delete", "get", "patch", "update"), status(svc)),

		// apps/v1
		entry[appsv1.ControllerRevision, appsv1.ControllerRevisionList](AppsV1, "controllerrevisions", "controllerrevision", "ControllerRevision", true),
		entry[appsv1.DaemonSet, appsv1.DaemonSetList](AppsV1, "daemonsets", "daemonset", "DaemonSet", true, "ds").inCategories(categoryAll...).
			with(status(AppsV1.WithKind("DaemonSet"))),
		entry[appsv1.Deployment, appsv1.DeploymentList](AppsV1, "deployments", "deployment", "Deployment", true, "deploy").inCategories(categoryAll...).
			with(scale(), status(AppsV1.WithKind("Deployment"))),
		entry[appsv1.ReplicaSet, appsv1.ReplicaSetList](AppsV1, "replicasets", "replicaset", "ReplicaSet", true, "rs").inCategories(categoryAll...).
			with(scale(), status(AppsV1.WithKind("ReplicaSet"))),
		entry[appsv1.StatefulSet, appsv1.StatefulSetList](AppsV1, "statefulsets", "statefulset", "StatefulSet", true, "sts").inCategories(categoryAll...).
			with(scale(), status(AppsV1.WithKind("StatefulSet"))),

		// batch/v1
		entry[batchv1.CronJob, batchv1.CronJobList](BatchV1, "cronjobs", "cronjob", "CronJob", true, "cj").inCategories(categoryAll...).
			with(status(BatchV1.WithKind("CronJob"))),
		entry[batchv1.Job, batchv1.JobList](BatchV1, "jobs", "job", "Job", true).inCategories(categoryAll...).
			with(status(BatchV1.WithKind("Job"))),

		// coordination.k8s.io/v1, discovery.k8s.io/v1, events.k8s.io/v1
		entry[coordinationv1.Lease, coordinationv1.LeaseList](CoordinationV1, "leases", "lease", "Lease", true),
		entry[discoveryv1.EndpointSlice, discoveryv1.EndpointSliceList](DiscoveryV1, "endpointslices", "endpointslice", "EndpointSlice", true),
		entry[eventsv1.Event, eventsv1.EventList](EventsV1, "events", "event", "Event", true, "ev"),

		// rbac.authorization.k8s.io/v1
		entry[rbacv1.ClusterRoleBinding, rbacv1.ClusterRoleBindingList](RBACV1, "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false),
		entry[rbacv1.ClusterRole, rbacv1.ClusterRoleList](RBACV1, "clusterroles", "clusterrole", "ClusterRole", false),
		entry[rbacv1.RoleBinding, rbacv1.RoleBindingList](RBACV1, "rolebindings", "rolebinding", "RoleBinding", true),
		entry[rbacv1.Role, rbacv1.RoleList](RBACV1, "roles", "role", "Role", true),

		// authentication.k8s.io/v1 and authorization.k8s.io/v1: reviews
		// are answered, not stored.
		entry[authenticationv1.SelfSubjectReview, authenticationv1.SelfSubjectReview](AuthenticationV1, "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", false).withVerbs(createOnly...),
		entry[authenticationv1.TokenReview, authenticationv1.TokenReview](AuthenticationV1, "tokenreviews", "tokenreview", "TokenReview", false).withVerbs(createOnly...),
		entry[authorizationv1.LocalSubjectAccessReview, authorizationv1.LocalSubjectAccessReview](AuthorizationV1, "localsubjectaccessreviews", "localsubjectaccessreview", "LocalSubjectAccessReview", true).withVerbs(createOnly...),
		entry[authorizationv1.SelfSubjectAccessReview, authorizationv1.SelfSubjectAccessReview](AuthorizationV1, "selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview", false).withVerbs(createOnly...),
		entry[authorizationv1.SelfSubjectRulesReview, authorizationv1.SelfSubjectRulesReview](AuthorizationV1, "selfsubjectrulesreviews", "selfsubjectrulesreview", "SelfSubjectRulesReview", false).withVerbs(createOnly...),
		entry[authorizationv1.SubjectAccessReview, authorizationv1.SubjectAccessReview](AuthorizationV1, "subjectaccessreviews", "subjectaccessreview", "SubjectAccessReview", false).withVerbs(createOnly...),

		// policy/v1, scheduling.k8s.io/v1, storage.k8s.io/v1
		entry[policyv1.PodDisruptionBudget, policyv1.PodDisruptionBudgetList](PolicyV1, "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true, "pdb").
			with(status(PolicyV1.WithKind("PodDisruptionBudget"))),
		entry[schedulingv1.PriorityClass, schedulingv1.PriorityClassList](SchedulingV1, "priorityclasses", "priorityclass", "PriorityClass", false, "pc"),
		entry[storagev1.StorageClass, storagev1.StorageClassList](StorageV1, "storageclasses", "storageclass", "StorageClass", false, "sc"),
	}
}
