package addons

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kindish/kindish/images"
	kubeproxyconfig "github.com/kindish/kindish/nodeagent/kubeproxy/config"
)

// KubeProxyAddon is kube-proxy as kubeadm (and so kind) installs it: the
// kube-proxy DaemonSet on every node, control planes and NotReady nodes
// included, its ServiceAccount bound to the bootstrap role
// system:node-proxier, and the kube-proxy ConfigMap holding its
// configuration (config.conf) and a kubeconfig (kubeconfig.conf) that
// authenticates with the pod's ServiceAccount token.
var KubeProxyAddon = Addon{Name: "kube-proxy", Objects: kubeProxyObjects}

// minSyncPeriod spaces kube-proxy's syncs. kubeadm's 1s protects large
// clusters from resyncing on every change; a kindish cluster has a few
// nodes and a full sync takes tens of milliseconds, while a 1s spacing is
// most of the time from a new Service's EndpointSlice to its rules.
const minSyncPeriod = 100 * time.Millisecond

// kubeadm's names.
const (
	kubeProxyName = "kube-proxy"
	// kubeProxyConfigDir is where the ConfigMap is mounted.
	kubeProxyConfigDir = "/var/lib/kube-proxy"
	// kubeProxyConfigKey and kubeProxyKubeconfigKey are the ConfigMap's keys.
	kubeProxyConfigKey     = "config.conf"
	kubeProxyKubeconfigKey = "kubeconfig.conf"
	// kubeProxyClusterRole is the bootstrap policy's role for kube-proxy.
	kubeProxyClusterRole = "system:node-proxier"
	// kubeProxyBootstrapGroup is the group of kubeadm's join tokens,
	// which may read the kube-proxy ConfigMap while a node joins.
	kubeProxyBootstrapGroup = "system:bootstrappers:kubeadm:default-node-token"
	// kubeProxyServiceAccountDir is where the kubelet mounts a pod's token and CA.
	kubeProxyServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"
)

func kubeProxyObjects(p Params) ([]runtime.Object, error) {
	if p.APIServerHost == "" || p.APIServerPort == 0 {
		return nil, errors.New("kube-proxy needs the API server's address on the nodes' network")
	}
	configConf, err := kubeProxyConfigConf(p)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{"k8s-app": kubeProxyName}
	return []runtime.Object{
		&corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: metav1.ObjectMeta{Name: kubeProxyName, Namespace: metav1.NamespaceSystem},
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:node-proxier"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: kubeProxyClusterRole},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: kubeProxyName, Namespace: metav1.NamespaceSystem}},
		},
		&rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: metav1.ObjectMeta{Name: kubeProxyName, Namespace: metav1.NamespaceSystem},
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{kubeProxyName}, Verbs: []string{"get"},
			}},
		},
		&rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: kubeProxyName, Namespace: metav1.NamespaceSystem},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: kubeProxyName},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: kubeProxyBootstrapGroup}},
		},
		&corev1.ConfigMap{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{
				Name: kubeProxyName, Namespace: metav1.NamespaceSystem,
				Labels: map[string]string{"app": kubeProxyName},
			},
			Data: map[string]string{
				kubeProxyConfigKey:     configConf,
				kubeProxyKubeconfigKey: kubeProxyKubeconfig(p),
			},
		},
		&appsv1.DaemonSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
			ObjectMeta: metav1.ObjectMeta{Name: kubeProxyName, Namespace: metav1.NamespaceSystem, Labels: labels},
			Spec: appsv1.DaemonSetSpec{
				Selector:       &metav1.LabelSelector{MatchLabels: labels},
				UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       kubeProxyPodSpec(),
				},
			},
		},
	}, nil
}

// kubeProxyConfigConf is config.conf: kubeadm's configuration with kind's
// settings. The pod range is the cluster CIDR (traffic to services from
// outside it is masqueraded); the service range is the API server's
// --service-cluster-ip-range, so that kube-proxy rejects connections to
// ClusterIPs no Service holds rather than let them leave the node (a
// kindish field, see kubeproxyconfig.KubeProxyConfiguration); conntrack's
// sysctls are left alone, as in kind, since a node container shares them
// with the host.
func kubeProxyConfigConf(p Params) (string, error) {
	zero := int32(0)
	data, err := kubeproxyconfig.Marshal(kubeproxyconfig.KubeProxyConfiguration{
		BindAddress:           "0.0.0.0",
		ClientConnection:      kubeproxyconfig.ClientConnection{Kubeconfig: kubeProxyConfigDir + "/" + kubeProxyKubeconfigKey},
		ClusterCIDR:           p.PodSubnet,
		ServiceClusterIPRange: p.ServiceSubnet,
		Mode:                  kubeproxyconfig.ModeIPTables,
		IPTables:              kubeproxyconfig.IPTables{MinSyncPeriod: metav1.Duration{Duration: minSyncPeriod}},
		Conntrack: kubeproxyconfig.Conntrack{
			MaxPerCore:            &zero,
			TCPEstablishedTimeout: &metav1.Duration{},
			TCPCloseWaitTimeout:   &metav1.Duration{},
		},
	})
	if err != nil {
		return "", fmt.Errorf("kube-proxy %s: %w", kubeProxyConfigKey, err)
	}
	// What kube-proxy would refuse is refused here, before any node runs it.
	if _, err := kubeproxyconfig.Parse(data); err != nil {
		return "", fmt.Errorf("kube-proxy %s: %w", kubeProxyConfigKey, err)
	}
	return string(data), nil
}

// kubeProxyKubeconfig is kubeadm's kubeconfig.conf: the API server by
// address (Services need kube-proxy, which is starting), its CA and the
// token from the pod's ServiceAccount volume.
func kubeProxyKubeconfig(p Params) string {
	server := "https://" + net.JoinHostPort(p.APIServerHost, strconv.Itoa(p.APIServerPort))
	return `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority: ` + kubeProxyServiceAccountDir + `/ca.crt
    server: ` + server + `
  name: default
contexts:
- context:
    cluster: default
    namespace: default
    user: default
  name: default
current-context: default
users:
- name: default
  user:
    tokenFile: ` + kubeProxyServiceAccountDir + `/token
`
}

func kubeProxyPodSpec() corev1.PodSpec {
	privileged := true
	fileOrCreate := corev1.HostPathFileOrCreate
	return corev1.PodSpec{
		PriorityClassName: "system-node-critical",
		// Its rules are the node's own, in the node's network namespace.
		HostNetwork:        true,
		ServiceAccountName: kubeProxyName,
		// Every taint: Services must work on control-plane nodes and on
		// nodes that are not Ready yet.
		Tolerations:  []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		NodeSelector: map[string]string{corev1.LabelOSStable: "linux"},
		Containers: []corev1.Container{{
			Name:            kubeProxyName,
			Image:           images.KubeProxy.Image(),
			ImagePullPolicy: corev1.PullIfNotPresent,
			Command: []string{
				images.KubeProxy.Command,
				"--config=" + kubeProxyConfigDir + "/" + kubeProxyConfigKey,
				"--hostname-override=$(NODE_NAME)",
			},
			Env: []corev1.EnvVar{{
				Name:      "NODE_NAME",
				ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}},
			}},
			// iptables and conntrack need NET_ADMIN; kubeadm runs it
			// privileged.
			SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
			VolumeMounts: []corev1.VolumeMount{
				{Name: kubeProxyName, MountPath: kubeProxyConfigDir},
				{Name: "xtables-lock", MountPath: "/run/xtables.lock", ReadOnly: false},
				{Name: "lib-modules", MountPath: "/lib/modules", ReadOnly: true},
			},
		}},
		Volumes: []corev1.Volume{
			{Name: kubeProxyName, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: kubeProxyName},
			}}},
			{Name: "xtables-lock", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/run/xtables.lock", Type: &fileOrCreate}}},
			{Name: "lib-modules", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/lib/modules"}}},
		},
	}
}
