package pki

// The users that client certificates are issued to. The API server takes
// the user name from the certificate's CN and the groups from its O, so
// these are exactly the identities the default RBAC roles bind to.
const (
	AdminUser             = "kubernetes-admin"
	ControllerManagerUser = "system:kube-controller-manager"
	SchedulerUser         = "system:kube-scheduler"
	KubeProxyUser         = "system:kube-proxy"
)

// Groups that client certificates carry.
const (
	// mastersGroup bypasses authorization; the admin holds it so that the
	// cluster is usable before (or without) RBAC bindings for kubeadm's
	// kubeadm:cluster-admins group, which it also carries to look familiar.
	mastersGroup       = "system:masters"
	clusterAdminsGroup = "kubeadm:cluster-admins"
	nodesGroup         = "system:nodes"
)

// NodeUser is the user a node's kubelet authenticates as; the Node
// authorizer recognises it by this prefix.
func NodeUser(nodeName string) string {
	return "system:node:" + nodeName
}
