package bootstrappolicy

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KubeadmClusterRoles are the ClusterRoles kubeadm (and so kind) adds to
// the API server's for its addons: CoreDNS's. Like kubeadm's, they carry
// no bootstrapping label; the API server does not manage them.
func KubeadmClusterRoles() []rbacv1.ClusterRole {
	return []rbacv1.ClusterRole{{
		ObjectMeta: metav1.ObjectMeta{Name: "system:coredns"},
		Rules: rules(
			rule("list", "watch").groups(legacyGroup).resources("endpoints", "services", "pods", "namespaces"),
			rule("list", "watch").groups(discoveryGroup).resources("endpointslices"),
		),
	}}
}

// KubeadmClusterRoleBindings are the bindings kubeadm adds: its admin
// group to cluster-admin, CoreDNS's and kube-proxy's ServiceAccounts to
// their roles.
func KubeadmClusterRoleBindings() []rbacv1.ClusterRoleBinding {
	bind := func(name, roleName string, subject rbacv1.Subject) rbacv1.ClusterRoleBinding {
		return rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: roleName},
			Subjects:   []rbacv1.Subject{subject},
		}
	}
	return []rbacv1.ClusterRoleBinding{
		bind("kubeadm:cluster-admins", "cluster-admin", groupSubject("kubeadm:cluster-admins")),
		bind("kubeadm:node-proxier", "system:node-proxier", serviceAccountSubject(metav1.NamespaceSystem, "kube-proxy")),
		bind("system:coredns", "system:coredns", serviceAccountSubject(metav1.NamespaceSystem, "coredns")),
	}
}
