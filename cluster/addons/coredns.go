package addons

import (
	"fmt"
	"net"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/kindish/kindish/images"
)

// CoreDNSAddon is the cluster DNS, as kubeadm installs it: the coredns
// ServiceAccount and its RBAC, the Corefile, the coredns Deployment and the
// kube-dns Service at Params.DNSServiceIP. Only the image differs, ours
// (images.CoreDNSImage) being imported into every node at boot.
//
// CoreDNS runs with dnsPolicy Default, so it forwards what is not in the
// cluster domain to the node's resolv.conf: the node's init has to make
// that resolv.conf name a server a pod can reach (Docker's embedded DNS at
// 127.0.0.11 exists only in the node's own network namespace).
var CoreDNSAddon = Addon{Name: "coredns", Objects: coreDNSObjects}

// Names and labels kubeadm gives the CoreDNS objects; kube-dns is kept from
// the DNS server CoreDNS replaced, and users and tests select on it.
const (
	coreDNSName      = "coredns"
	coreDNSRoleName  = "system:coredns"
	kubeDNSService   = "kube-dns"
	kubeDNSAppLabel  = "kube-dns"
	coreDNSConfigKey = "Corefile"
	coreDNSConfigDir = "/etc/coredns"
	coreDNSReplicas  = 2
	kubeSystem       = metav1.NamespaceSystem
)

// corefile is kubeadm's Corefile for clusterDomain. The cache does not
// keep answers about the cluster domain, which the kubernetes plugin
// serves from its watch: a cached NXDOMAIN would hide a Service created
// just after a lookup.
func corefile(clusterDomain string) string {
	return strings.ReplaceAll(`.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes DOMAIN in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success DOMAIN
       disable denial DOMAIN
    }
    loop
    reload
    loadbalance
}
`, "DOMAIN", clusterDomain)
}

func coreDNSObjects(p Params) ([]runtime.Object, error) {
	ip := net.ParseIP(p.DNSServiceIP)
	if ip == nil {
		return nil, fmt.Errorf("cluster DNS service IP %q is not an IP address", p.DNSServiceIP)
	}
	if p.ClusterDomain == "" || strings.ContainsAny(p.ClusterDomain, " \t\n{}") {
		return nil, fmt.Errorf("cluster domain %q is not a DNS domain", p.ClusterDomain)
	}
	labels := func() map[string]string { return map[string]string{"k8s-app": kubeDNSAppLabel} }
	return []runtime.Object{
		&corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: metav1.ObjectMeta{Name: coreDNSName, Namespace: kubeSystem},
		},
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: metav1.ObjectMeta{Name: coreDNSRoleName},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
				{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
			},
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: coreDNSRoleName},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: coreDNSRoleName},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: coreDNSName, Namespace: kubeSystem}},
		},
		&corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: coreDNSName, Namespace: kubeSystem},
			Data:       map[string]string{coreDNSConfigKey: corefile(p.ClusterDomain)},
		},
		coreDNSDeployment(labels),
		&corev1.Service{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{
				Name:      kubeDNSService,
				Namespace: kubeSystem,
				Labels: map[string]string{
					"k8s-app":                       kubeDNSAppLabel,
					"kubernetes.io/cluster-service": "true",
					"kubernetes.io/name":            "CoreDNS",
				},
				Annotations: map[string]string{
					"prometheus.io/port":   "9153",
					"prometheus.io/scrape": "true",
				},
			},
			Spec: corev1.ServiceSpec{
				ClusterIP: ip.String(),
				Selector:  labels(),
				Ports: []corev1.ServicePort{
					{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
					{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
					{Name: "metrics", Port: 9153, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9153)},
				},
			},
		},
	}, nil
}

func coreDNSDeployment(labels func() map[string]string) *appsv1.Deployment {
	maxUnavailable := intstr.FromInt32(1)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: coreDNSName, Namespace: kubeSystem, Labels: labels()},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](coreDNSReplicas),
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &maxUnavailable},
			},
			Selector: &metav1.LabelSelector{MatchLabels: labels()},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels()},
				Spec: corev1.PodSpec{
					PriorityClassName:  "system-cluster-critical",
					ServiceAccountName: coreDNSName,
					// The two replicas on different nodes when there are two.
					Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
						PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
							Weight: 100,
							PodAffinityTerm: corev1.PodAffinityTerm{
								LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
									{Key: "k8s-app", Operator: metav1.LabelSelectorOpIn, Values: []string{kubeDNSAppLabel}},
								}},
								TopologyKey: corev1.LabelHostname,
							},
						}},
					}},
					// On control-plane nodes too: a one-node cluster has only that.
					Tolerations: []corev1.Toleration{
						{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists},
						{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule},
					},
					NodeSelector: map[string]string{corev1.LabelOSStable: "linux"},
					Containers:   []corev1.Container{coreDNSContainer()},
					// Upstream's servers come from the node's resolv.conf,
					// not from the cluster DNS that CoreDNS itself is.
					DNSPolicy: corev1.DNSDefault,
					Volumes: []corev1.Volume{{
						Name: "config-volume",
						VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: coreDNSName},
							Items:                []corev1.KeyToPath{{Key: coreDNSConfigKey, Path: coreDNSConfigKey}},
						}},
					}},
				},
			},
		},
	}
}

func coreDNSContainer() corev1.Container {
	return corev1.Container{
		Name:  coreDNSName,
		Image: images.CoreDNSImage(),
		// Never pulled: there is no registry, the image is in every node.
		ImagePullPolicy: corev1.PullIfNotPresent,
		Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("170Mi")},
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("100m"),
				corev1.ResourceMemory: resource.MustParse("70Mi"),
			},
		},
		Args:         []string{"-conf", coreDNSConfigDir + "/" + coreDNSConfigKey},
		VolumeMounts: []corev1.VolumeMount{{Name: "config-volume", MountPath: coreDNSConfigDir, ReadOnly: true}},
		Ports: []corev1.ContainerPort{
			{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
			{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
			{Name: "metrics", ContainerPort: 9153, Protocol: corev1.ProtocolTCP},
			{Name: "liveness-probe", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
			{Name: "readiness-probe", ContainerPort: 8181, Protocol: corev1.ProtocolTCP},
		},
		// The health plugin's endpoint; the ready plugin's answers 200 once
		// the kubernetes plugin has synced with the API server.
		LivenessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/health", Port: intstr.FromString("liveness-probe"), Scheme: corev1.URISchemeHTTP,
			}},
			InitialDelaySeconds: 60,
			TimeoutSeconds:      5,
			SuccessThreshold:    1,
			FailureThreshold:    5,
		},
		// Every second, not kubeadm's default ten: the first probe runs
		// as the container starts, before the kubernetes plugin has
		// synced, and DNS should not wait a whole period after that to
		// be served. The endpoint is a map lookup inside CoreDNS.
		ReadinessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/ready", Port: intstr.FromString("readiness-probe"), Scheme: corev1.URISchemeHTTP,
			}},
			PeriodSeconds: 1,
		},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities: &corev1.Capabilities{
				Add:  []corev1.Capability{"NET_BIND_SERVICE"},
				Drop: []corev1.Capability{"ALL"},
			},
			ReadOnlyRootFilesystem: ptr.To(true),
		},
	}
}
