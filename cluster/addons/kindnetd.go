package addons

import (
	"errors"
	"net"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kindish/kindish/images"
)

// KindnetdAddon is the cluster's CNI, as kind installs it: the kindnet
// DaemonSet, which runs kindnetd on every node (control planes and nodes
// not Ready yet included, since it is what makes them Ready), with its
// ServiceAccount and the rights to read Nodes, Pods and Namespaces.
var KindnetdAddon = Addon{Name: "kindnetd", Objects: kindnetdObjects}

const kindnetName = "kindnet"

func kindnetdObjects(p Params) ([]runtime.Object, error) {
	if p.PodSubnet == "" {
		return nil, errors.New("kindnetd needs the cluster's pod subnet")
	}
	if p.APIServerHost == "" || p.APIServerPort == 0 {
		return nil, errors.New("kindnetd needs the API server's address on the nodes' network")
	}
	labels := map[string]string{"tier": "node", "app": kindnetName, "k8s-app": kindnetName}
	return []runtime.Object{
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: metav1.ObjectMeta{Name: kindnetName},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"nodes", "pods", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
				// kind's kindnetd also enforces NetworkPolicies; the rule is
				// kept so that kind's own image runs under this role too.
				{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"list", "watch"}},
			},
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: kindnetName},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: kindnetName},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: kindnetName, Namespace: metav1.NamespaceSystem}},
		},
		&corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: metav1.ObjectMeta{Name: kindnetName, Namespace: metav1.NamespaceSystem},
		},
		&appsv1.DaemonSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
			ObjectMeta: metav1.ObjectMeta{Name: kindnetName, Namespace: metav1.NamespaceSystem, Labels: labels},
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": kindnetName}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       kindnetPodSpec(p),
				},
			},
		},
	}, nil
}

func kindnetPodSpec(p Params) corev1.PodSpec {
	fieldEnv := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}}
	}
	env := []corev1.EnvVar{
		fieldEnv("HOST_IP", "status.hostIP"),
		fieldEnv("POD_IP", "status.podIP"),
		{Name: "POD_SUBNET", Value: p.PodSubnet},
		// The API server itself, not the kubernetes Service: the Service's
		// ClusterIP needs kube-proxy, which may start after kindnetd.
		{Name: "CONTROL_PLANE_ENDPOINT", Value: net.JoinHostPort(p.APIServerHost, strconv.Itoa(p.APIServerPort))},
		fieldEnv("NODE_NAME", "spec.nodeName"),
	}
	if p.ServiceSubnet != "" {
		env = append(env, corev1.EnvVar{Name: "SERVICE_SUBNET", Value: p.ServiceSubnet})
	}
	fileOrCreate := corev1.HostPathFileOrCreate
	hostPath := func(name, path string, t *corev1.HostPathType) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: t}}}
	}
	privileged := false
	// kind's requests and memory limit. kind also limits the CPU to its
	// request; kindnetd here is the multi-call kindish-node, and a 100m
	// quota stretched its start (Go runtime, API client, first list) to
	// over two seconds, all of them on the path to the node's Ready.
	requests := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("100m"),
		corev1.ResourceMemory: resource.MustParse("50Mi"),
	}
	limits := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("50Mi")}
	return corev1.PodSpec{
		// Routes and the CNI configuration are the node's own.
		HostNetwork: true,
		// Every taint, as kind: the CNI must run on control-plane nodes and
		// on nodes that are NotReady, since they are NotReady for want of it.
		Tolerations:        []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		ServiceAccountName: kindnetName,
		PriorityClassName:  "system-node-critical",
		Containers: []corev1.Container{{
			Name:    "kindnet-cni",
			Image:   images.Kindnetd.Image(),
			Command: []string{images.Kindnetd.Command},
			Env:     env,
			VolumeMounts: []corev1.VolumeMount{
				{Name: "cni-cfg", MountPath: "/etc/cni/net.d"},
				{Name: "xtables-lock", MountPath: "/run/xtables.lock", ReadOnly: false},
				{Name: "lib-modules", MountPath: "/lib/modules", ReadOnly: true},
			},
			Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits},
			SecurityContext: &corev1.SecurityContext{
				Privileged: &privileged,
				// Routes and nat rules need NET_ADMIN; NET_RAW is kind's too.
				Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_RAW", "NET_ADMIN"}},
			},
		}},
		Volumes: []corev1.Volume{
			hostPath("cni-cfg", "/etc/cni/net.d", nil),
			hostPath("xtables-lock", "/run/xtables.lock", &fileOrCreate),
			hostPath("lib-modules", "/lib/modules", nil),
		},
	}
}
