package bootstrappolicy

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

func role(namespace, name string, rs ...*ruleBuilder) rbacv1.Role {
	m := meta(name)
	m.Namespace = namespace
	return rbacv1.Role{ObjectMeta: m, Rules: rules(rs...)}
}

func roleBinding(namespace, name, roleName string, subjects ...rbacv1.Subject) rbacv1.RoleBinding {
	m := meta(name)
	m.Namespace = namespace
	return rbacv1.RoleBinding{
		ObjectMeta: m,
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: roleName},
		Subjects:   subjects,
	}
}

// leaderLockingRules let a component hold its leader-election lease in
// kube-system.
func leaderLockingRules() []*ruleBuilder {
	return []*ruleBuilder{
		rule("watch", "get", "create", "update", "list").groups(coordinationGroup).resources("leases"),
		rule("watch", "get", "create", "update", "list").groups(coordinationGroup).resources("leasecandidates"),
	}
}

// Roles are upstream's NamespaceRoles, in kube-system and kube-public,
// sorted by namespace and name.
func Roles() []rbacv1.Role {
	system, public := metav1.NamespaceSystem, metav1.NamespacePublic
	roles := []rbacv1.Role{
		// The configmap holding the front proxy's client CA, for
		// aggregated API servers.
		role(system, "extension-apiserver-authentication-reader",
			rule("get", "list", "watch").groups(legacyGroup).resources("configmaps").names("extension-apiserver-authentication"),
		),
		role(system, "system::leader-locking-kube-controller-manager", leaderLockingRules()...),
		role(system, "system::leader-locking-kube-scheduler", leaderLockingRules()...),
		role(system, controllerRolePrefix+"bootstrap-signer",
			rule(read...).groups(legacyGroup).resources("secrets"),
		),
		role(system, controllerRolePrefix+"cloud-provider",
			rule("create", "get", "list", "watch").groups(legacyGroup).resources("configmaps"),
		),
		role(system, controllerRolePrefix+"token-cleaner",
			rule("delete", "get", "list", "watch").groups(legacyGroup).resources("secrets"),
			eventsRule(),
		),
		role(public, controllerRolePrefix+"bootstrap-signer",
			rule(read...).groups(legacyGroup).resources("configmaps"),
			rule("update").groups(legacyGroup).resources("configmaps").names("cluster-info"),
			eventsRule(),
		),
	}
	slices.SortFunc(roles, func(a, b rbacv1.Role) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return roles
}

// RoleBindings are upstream's NamespaceRoleBindings, sorted by namespace
// and name.
func RoleBindings() []rbacv1.RoleBinding {
	system, public := metav1.NamespaceSystem, metav1.NamespacePublic
	bindings := []rbacv1.RoleBinding{
		roleBinding(system, "system::extension-apiserver-authentication-reader", "extension-apiserver-authentication-reader",
			userSubject(user.KubeControllerManager), userSubject(user.KubeScheduler)),
		roleBinding(system, "system::leader-locking-kube-controller-manager", "system::leader-locking-kube-controller-manager",
			userSubject(user.KubeControllerManager),
			serviceAccountSubject(system, "kube-controller-manager"),
			serviceAccountSubject(system, "leader-election-controller")),
		roleBinding(system, "system::leader-locking-kube-scheduler", "system::leader-locking-kube-scheduler",
			userSubject(user.KubeScheduler),
			serviceAccountSubject(system, "kube-scheduler")),
		roleBinding(system, controllerRolePrefix+"bootstrap-signer", controllerRolePrefix+"bootstrap-signer",
			serviceAccountSubject(system, "bootstrap-signer")),
		roleBinding(system, controllerRolePrefix+"cloud-provider", controllerRolePrefix+"cloud-provider",
			serviceAccountSubject(system, "cloud-provider")),
		roleBinding(system, controllerRolePrefix+"token-cleaner", controllerRolePrefix+"token-cleaner",
			serviceAccountSubject(system, "token-cleaner")),
		roleBinding(public, controllerRolePrefix+"bootstrap-signer", controllerRolePrefix+"bootstrap-signer",
			serviceAccountSubject(system, "bootstrap-signer")),
	}
	slices.SortFunc(bindings, func(a, b rbacv1.RoleBinding) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return bindings
}
