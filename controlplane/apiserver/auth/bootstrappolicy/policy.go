// Package bootstrappolicy is the RBAC policy kube-apiserver creates at
// startup (upstream's plugin/pkg/auth/authorizer/rbac/bootstrappolicy):
// the default ClusterRoles and ClusterRoleBindings, the controllers' roles,
// and the Roles and RoleBindings of kube-system and kube-public. Every
// object carries the kubernetes.io/bootstrapping=rbac-defaults label and
// the rbac.authorization.kubernetes.io/autoupdate=true annotation, so that
// tools recognise them as upstream's.
//
// The rules follow upstream's policy as of Kubernetes 1.34 (its
// testdata/cluster-roles.yaml, controller-roles.yaml, namespace-roles.yaml
// and their bindings), with the features that are on by default.
//
// One deliberate difference: upstream binds the system:node ClusterRole to
// no one and authorizes kubelets with the Node authorizer, which limits
// each node to the pods, secrets and volumes scheduled to it, plus the
// NodeRestriction admission plugin. kindish has neither yet, so system:node
// is bound to the group system:nodes, as Kubernetes did before 1.8: every
// kubelet can read every secret and configmap and update any node. The
// kubelet's own behaviour is unchanged.
//
// The aggregated roles admin, edit and view are returned with their
// aggregation rules and already aggregated rules, so that they work before
// (or without) the clusterrole-aggregation controller.
package bootstrappolicy

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/auth/rbac"
	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

// Label and annotation every bootstrap object carries.
const (
	BootstrappingLabelKey   = "kubernetes.io/bootstrapping"
	BootstrappingLabelValue = "rbac-defaults"
	AutoUpdateAnnotationKey = rbacv1.AutoUpdateAnnotationKey // "rbac.authorization.kubernetes.io/autoupdate"
)

// Labels of the aggregated roles.
const (
	aggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin"
	aggregateToEdit  = "rbac.authorization.k8s.io/aggregate-to-edit"
	aggregateToView  = "rbac.authorization.k8s.io/aggregate-to-view"
)

func meta(name string, labels ...string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{
		Name:        name,
		Labels:      map[string]string{BootstrappingLabelKey: BootstrappingLabelValue},
		Annotations: map[string]string{AutoUpdateAnnotationKey: "true"},
	}
	for _, l := range labels {
		m.Labels[l] = "true"
	}
	return m
}

func clusterRole(name string, rs ...*ruleBuilder) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{ObjectMeta: meta(name), Rules: rules(rs...)}
}

func aggregatedRole(name, selectLabel string, labels ...string) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{
		ObjectMeta: meta(name, labels...),
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
			{MatchLabels: map[string]string{selectLabel: "true"}},
		}},
	}
}

// ClusterRoles are all the bootstrap ClusterRoles, upstream's
// ClusterRoles and ControllerRoles together, sorted by name.
func ClusterRoles() []rbacv1.ClusterRole {
	roles := append(policyRoles(), controllerRoles()...)
	slices.SortFunc(roles, func(a, b rbacv1.ClusterRole) int { return strings.Compare(a.Name, b.Name) })
	preAggregate(roles)
	return roles
}

// preAggregate fills the rules of the roles with aggregation rules, as
// the clusterrole-aggregation controller would.
func preAggregate(roles []rbacv1.ClusterRole) {
	ptrs := make([]*rbacv1.ClusterRole, len(roles))
	for i := range roles {
		ptrs[i] = &roles[i]
	}
	aggregated := rbac.AggregatedRules(ptrs)
	for i := range roles {
		if roles[i].AggregationRule != nil {
			roles[i].Rules = slices.Clone(aggregated[roles[i].Name])
		}
	}
}

func policyRoles() []rbacv1.ClusterRole {
	roles := []rbacv1.ClusterRole{
		// The superuser role.
		clusterRole("cluster-admin",
			rule("*").groups("*").resources("*"),
			rule("*").urls("*"),
		),
		// Enough to check health and discover the API.
		clusterRole("system:discovery",
			rule("get").urls(
				"/livez", "/readyz", "/healthz",
				"/version", "/version/",
				"/openapi", "/openapi/*",
				"/api", "/api/*",
				"/apis", "/apis/*",
			),
		),
		// Enough for a user to learn about themselves.
		clusterRole("system:basic-user",
			rule("create").groups(authorizationGroup).resources("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			rule("create").groups(authenticationGroup).resources("selfsubjectreviews"),
		),
		// Information safe to show anyone.
		clusterRole("system:public-info-viewer",
			rule("get").urls("/livez", "/readyz", "/healthz", "/version", "/version/"),
		),

		aggregatedRole("admin", aggregateToAdmin),
		aggregatedRole("edit", aggregateToEdit, aggregateToAdmin),
		aggregatedRole("view", aggregateToView, aggregateToEdit),

		// What admin adds to edit: granting permissions in the namespace.
		{
			ObjectMeta: meta("system:aggregate-to-admin", aggregateToAdmin),
			Rules: rules(
				rule("create").groups(authorizationGroup).resources("localsubjectaccessreviews"),
				rule(readWrite...).groups(rbacGroup).resources("roles", "rolebindings"),
			),
		},
		// What edit adds to view: changing the namespace's workloads,
		// reading secrets, and acting as its service accounts. Not the
		// privileged parts: status, quota and limits.
		{
			ObjectMeta: meta("system:aggregate-to-edit", aggregateToEdit),
			Rules: rules(
				rule(read...).groups(legacyGroup).resources("pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"),
				rule("impersonate").groups(legacyGroup).resources("serviceaccounts"),
				rule(write...).groups(legacyGroup).resources("pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"),
				rule("create").groups(legacyGroup).resources("pods/eviction"),
				rule(write...).groups(legacyGroup).resources("replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
					"services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"),
				rule("create").groups(legacyGroup).resources("serviceaccounts/token"),
				rule(write...).groups(appsGroup).resources(
					"statefulsets", "statefulsets/scale",
					"daemonsets",
					"deployments", "deployments/scale", "deployments/rollback",
					"replicasets", "replicasets/scale"),
				rule(write...).groups(autoscalingGroup).resources("horizontalpodautoscalers"),
				rule(write...).groups(batchGroup).resources("jobs", "cronjobs"),
				rule(write...).groups(extensionsGroup).resources("daemonsets",
					"deployments", "deployments/scale", "deployments/rollback", "ingresses",
					"replicasets", "replicasets/scale", "replicationcontrollers/scale",
					"networkpolicies"),
				rule(write...).groups(policyGroup).resources("poddisruptionbudgets"),
				rule(write...).groups(networkingGroup).resources("networkpolicies", "ingresses"),
				rule(readWrite...).groups(coordinationGroup).resources("leases"),
			),
		},
		// Reading the namespace's non-sensitive objects: not secrets.
		{
			ObjectMeta: meta("system:aggregate-to-view", aggregateToView),
			Rules: rules(
				rule(read...).groups(legacyGroup).resources("pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
					"services", "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"),
				rule(read...).groups(legacyGroup).resources("limitranges", "resourcequotas", "bindings", "events",
					"pods/status", "resourcequotas/status", "namespaces/status", "replicationcontrollers/status", "pods/log"),
				// Reading namespaces through a RoleBinding means reading
				// that one namespace: a hint of where one has access.
				rule(read...).groups(legacyGroup).resources("namespaces"),
				rule(read...).groups(discoveryGroup).resources("endpointslices"),
				rule(read...).groups(appsGroup).resources(
					"controllerrevisions",
					"statefulsets", "statefulsets/status", "statefulsets/scale",
					"daemonsets", "daemonsets/status",
					"deployments", "deployments/status", "deployments/scale",
					"replicasets", "replicasets/status", "replicasets/scale"),
				rule(read...).groups(autoscalingGroup).resources("horizontalpodautoscalers", "horizontalpodautoscalers/status"),
				rule(read...).groups(batchGroup).resources("jobs", "cronjobs", "cronjobs/status", "jobs/status"),
				rule(read...).groups(extensionsGroup).resources("daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
					"ingresses", "ingresses/status", "replicasets", "replicasets/scale", "replicasets/status", "replicationcontrollers/scale",
					"networkpolicies"),
				rule(read...).groups(policyGroup).resources("poddisruptionbudgets", "poddisruptionbudgets/status"),
				rule(read...).groups(networkingGroup).resources("networkpolicies", "ingresses", "ingresses/status"),
			),
		},

		clusterRole("system:heapster",
			rule(read...).groups(legacyGroup).resources("events", "pods", "nodes", "namespaces"),
			rule(read...).groups(extensionsGroup).resources("deployments"),
		),
		{ObjectMeta: meta("system:node"), Rules: NodeRules()},
		clusterRole("system:node-problem-detector",
			rule("get").groups(legacyGroup).resources("nodes"),
			rule("patch").groups(legacyGroup).resources("nodes/status"),
			eventsRule(),
		),
		// Full access to the kubelet API.
		clusterRole("system:kubelet-api-admin",
			rule("get", "list", "watch").groups(legacyGroup).resources("nodes"),
			rule("proxy").groups(legacyGroup).resources("nodes"),
			rule("*").groups(legacyGroup).resources("nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log"),
		),
		clusterRole("system:node-bootstrapper",
			rule("create", "get", "list", "watch").groups(certificatesGroup).resources("certificatesigningrequests"),
		),
		clusterRole("system:auth-delegator",
			rule("create").groups(authenticationGroup).resources("tokenreviews"),
			rule("create").groups(authorizationGroup).resources("subjectaccessreviews"),
		),
		clusterRole("system:kube-aggregator",
			rule(read...).groups(legacyGroup).resources("services", "endpoints"),
		),
		// The controller manager's own identity: enough to run its shared
		// informers and to mint each controller's ServiceAccount
		// credentials (--use-service-account-credentials).
		clusterRole("system:kube-controller-manager",
			eventsRule(),
			rule("create").groups(coordinationGroup).resources("leases"),
			rule("get", "update").groups(coordinationGroup).resources("leases").names("kube-controller-manager"),
			rule("create").groups(legacyGroup).resources("secrets", "serviceaccounts"),
			rule("delete").groups(legacyGroup).resources("secrets"),
			rule("get").groups(legacyGroup).resources("namespaces", "secrets", "serviceaccounts", "configmaps"),
			rule("update").groups(legacyGroup).resources("secrets", "serviceaccounts"),
			rule("create").groups(authenticationGroup).resources("tokenreviews"),
			rule("create").groups(authorizationGroup).resources("subjectaccessreviews"),
			rule("list", "watch").groups("*").resources("*"),
			rule("create").groups(legacyGroup).resources("serviceaccounts/token"),
		),
		clusterRole("system:kube-dns",
			rule("list", "watch").groups(legacyGroup).resources("endpoints", "services"),
		),
		clusterRole("system:persistent-volume-provisioner",
			rule("get", "list", "watch", "create", "delete").groups(legacyGroup).resources("persistentvolumes"),
			rule("get", "list", "watch", "update").groups(legacyGroup).resources("persistentvolumeclaims"),
			rule(read...).groups(storageGroup).resources("storageclasses"),
			rule("watch").groups(legacyGroup).resources("events"),
			eventsRule(),
		),
		clusterRole("system:certificates.k8s.io:certificatesigningrequests:nodeclient",
			rule("create").groups(certificatesGroup).resources("certificatesigningrequests/nodeclient"),
		),
		clusterRole("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
			rule("create").groups(certificatesGroup).resources("certificatesigningrequests/selfnodeclient"),
		),
		clusterRole("system:volume-scheduler",
			rule(readUpdate...).groups(legacyGroup).resources("persistentvolumes"),
			rule(read...).groups(storageGroup).resources("storageclasses"),
			rule(readUpdate...).groups(legacyGroup).resources("persistentvolumeclaims"),
		),
		clusterRole("system:certificates.k8s.io:legacy-unknown-approver",
			rule("approve").groups(certificatesGroup).resources("signers").names("kubernetes.io/legacy-unknown"),
		),
		clusterRole("system:certificates.k8s.io:kubelet-serving-approver",
			rule("approve").groups(certificatesGroup).resources("signers").names("kubernetes.io/kubelet-serving"),
		),
		clusterRole("system:certificates.k8s.io:kube-apiserver-client-approver",
			rule("approve").groups(certificatesGroup).resources("signers").names("kubernetes.io/kube-apiserver-client"),
		),
		clusterRole("system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
			rule("approve").groups(certificatesGroup).resources("signers").names("kubernetes.io/kube-apiserver-client-kubelet"),
		),
		clusterRole("system:service-account-issuer-discovery",
			rule("get").urls(
				"/.well-known/openid-configuration", "/.well-known/openid-configuration/",
				"/openid/v1/jwks", "/openid/v1/jwks/",
			),
		),
		// kube-proxy.
		clusterRole("system:node-proxier",
			rule("list", "watch").groups(legacyGroup).resources("services", "endpoints"),
			rule("get", "list", "watch").groups(legacyGroup).resources("nodes"),
			eventsRule(),
			rule("list", "watch").groups(discoveryGroup).resources("endpointslices"),
		),
		clusterRole("system:kube-scheduler",
			eventsRule(),
			// Leader election.
			rule("create").groups(coordinationGroup).resources("leases"),
			rule("get", "list", "update", "watch").groups(coordinationGroup).resources("leases").names("kube-scheduler"),
			rule(readWrite...).groups(coordinationGroup).resources("leasecandidates"),
			// What it schedules, and onto what.
			rule(read...).groups(legacyGroup).resources("nodes"),
			rule("get", "list", "watch", "delete").groups(legacyGroup).resources("pods"),
			rule("create").groups(legacyGroup).resources("pods/binding", "bindings"),
			rule("patch", "update").groups(legacyGroup).resources("pods/status"),
			// What selects pods, for spreading.
			rule(read...).groups(legacyGroup).resources("services", "replicationcontrollers"),
			rule(read...).groups(appsGroup, extensionsGroup).resources("replicasets"),
			rule(read...).groups(appsGroup).resources("statefulsets"),
			// What pods use or must respect.
			rule(read...).groups(policyGroup).resources("poddisruptionbudgets"),
			rule(read...).groups(legacyGroup).resources("persistentvolumeclaims", "persistentvolumes"),
			// Delegated authentication and authorization of its own API.
			rule("create").groups(authenticationGroup).resources("tokenreviews"),
			rule("create").groups(authorizationGroup).resources("subjectaccessreviews"),
			rule(read...).groups(storageGroup).resources("csinodes"),
			rule(read...).groups(storageGroup).resources("volumeattachments"),
			rule(read...).groups(legacyGroup).resources("namespaces"),
			rule(read...).groups(storageGroup).resources("csidrivers"),
			rule(read...).groups(storageGroup).resources("csistoragecapacities"),
			// Dynamic resource allocation.
			rule(read...).groups(resourceGroup).resources("deviceclasses"),
			rule(readUpdate...).groups(resourceGroup).resources("resourceclaims"),
			rule(readUpdate...).groups(resourceGroup).resources("resourceclaims/status"),
			rule(readUpdate...).groups(legacyGroup).resources("pods/finalizers"),
			rule(read...).groups(resourceGroup).resources("resourceslices"),
		),
		clusterRole("system:monitoring",
			rule("get").urls(
				"/metrics", "/metrics/slis",
				"/livez", "/readyz", "/healthz",
				"/livez/*", "/readyz/*", "/healthz/*",
			),
		),
	}
	return roles
}

// NodeRules are the rules of system:node, the kubelets' role.
func NodeRules() []rbacv1.PolicyRule {
	return rules(
		// Delegated authentication and authorization of the kubelet API.
		rule("create").groups(authenticationGroup).resources("tokenreviews"),
		rule("create").groups(authorizationGroup).resources("subjectaccessreviews", "localsubjectaccessreviews"),
		// Services, for the pods' environment variables.
		rule(read...).groups(legacyGroup).resources("services"),
		// Registering and reporting its Node.
		rule("create", "get", "list", "watch").groups(legacyGroup).resources("nodes"),
		rule("update", "patch").groups(legacyGroup).resources("nodes/status"),
		rule("update", "patch").groups(legacyGroup).resources("nodes"),
		rule("create", "update", "patch").groups(legacyGroup).resources("events"),
		// Its pods, mirror pods of its static pods, and their status.
		rule(read...).groups(legacyGroup).resources("pods"),
		rule("create", "delete").groups(legacyGroup).resources("pods"),
		rule("update", "patch").groups(legacyGroup).resources("pods/status"),
		rule("create").groups(legacyGroup).resources("pods/eviction"),
		// What its pods mount and read.
		rule("get", "list", "watch").groups(legacyGroup).resources("secrets", "configmaps"),
		rule("get").groups(legacyGroup).resources("persistentvolumeclaims", "persistentvolumes"),
		rule("get").groups(legacyGroup).resources("endpoints"),
		// Rotating its client certificate.
		rule("create", "get", "list", "watch").groups(certificatesGroup).resources("certificatesigningrequests"),
		// Its lease.
		rule("get", "create", "update", "patch", "delete").groups(coordinationGroup).resources("leases"),
		rule("get").groups(storageGroup).resources("volumeattachments"),
		// Its pods' projected ServiceAccount tokens.
		rule("create").groups(legacyGroup).resources("serviceaccounts/token"),
		rule("get", "update", "patch").groups(legacyGroup).resources("persistentvolumeclaims/status"),
		rule("get", "watch", "list").groups(storageGroup).resources("csidrivers"),
		rule("get", "create", "update", "patch", "delete").groups(storageGroup).resources("csinodes"),
		rule("get", "list", "watch").groups(nodeGroup).resources("runtimeclasses"),
		rule("get").groups(resourceGroup).resources("resourceclaims"),
		rule("deletecollection").groups(resourceGroup).resources("resourceslices"),
	)
}

func clusterBinding(roleName string, subjects ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{
		ObjectMeta: meta(roleName),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: roleName},
		Subjects:   subjects,
	}
}

func userSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

func groupSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
}

func serviceAccountSubject(namespace, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}
}

// ClusterRoleBindings are all the bootstrap ClusterRoleBindings,
// upstream's ClusterRoleBindings and ControllerRoleBindings together,
// sorted by name.
func ClusterRoleBindings() []rbacv1.ClusterRoleBinding {
	bindings := []rbacv1.ClusterRoleBinding{
		clusterBinding("cluster-admin", groupSubject(user.SystemPrivilegedGroup)),
		clusterBinding("system:monitoring", groupSubject(user.MonitoringGroup)),
		clusterBinding("system:discovery", groupSubject(user.AllAuthenticated)),
		clusterBinding("system:basic-user", groupSubject(user.AllAuthenticated)),
		clusterBinding("system:public-info-viewer", groupSubject(user.AllAuthenticated), groupSubject(user.AllUnauthenticated)),
		clusterBinding("system:node-proxier", userSubject(user.KubeProxy)),
		clusterBinding("system:kube-controller-manager", userSubject(user.KubeControllerManager)),
		clusterBinding("system:kube-dns", serviceAccountSubject(metav1.NamespaceSystem, "kube-dns")),
		clusterBinding("system:kube-scheduler", userSubject(user.KubeScheduler)),
		clusterBinding("system:volume-scheduler", userSubject(user.KubeScheduler)),
		// Upstream: no subjects, the Node authorizer decides. See the
		// package documentation.
		clusterBinding("system:node", groupSubject(user.NodesGroup)),
		clusterBinding("system:service-account-issuer-discovery", groupSubject("system:serviceaccounts")),
	}
	bindings = append(bindings, controllerRoleBindings()...)
	slices.SortFunc(bindings, func(a, b rbacv1.ClusterRoleBinding) int { return strings.Compare(a.Name, b.Name) })
	return bindings
}

// Policy is the whole bootstrap policy, ready for rbac.Store.Load.
func Policy() rbac.Policy {
	return rbac.Policy{
		ClusterRoles:        ClusterRoles(),
		ClusterRoleBindings: ClusterRoleBindings(),
		Roles:               Roles(),
		RoleBindings:        RoleBindings(),
	}
}
