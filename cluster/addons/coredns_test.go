package addons

import (
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kindish/kindish/images"
)

var kindishParams = Params{
	ClusterName:   "kindish",
	PodSubnet:     "10.244.0.0/16",
	ServiceSubnet: "10.96.0.0/16",
	DNSServiceIP:  "10.96.0.10",
	ClusterDomain: "cluster.local",
	APIServerHost: "172.18.0.2",
	APIServerPort: 6443,
}

// coreDNS returns the addon's objects by kind, failing on an unexpected
// order: the ServiceAccount and the RBAC before the Deployment that uses
// them, the Service last.
func coreDNS(t *testing.T, p Params) (sa *corev1.ServiceAccount, role *rbacv1.ClusterRole, binding *rbacv1.ClusterRoleBinding, cm *corev1.ConfigMap, deploy *appsv1.Deployment, svc *corev1.Service) {
	t.Helper()
	objs, err := CoreDNSAddon.Objects(p)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, reflect.TypeOf(o).Elem().Name())
		switch o := o.(type) {
		case *corev1.ServiceAccount:
			sa = o
		case *rbacv1.ClusterRole:
			role = o
		case *rbacv1.ClusterRoleBinding:
			binding = o
		case *corev1.ConfigMap:
			cm = o
		case *appsv1.Deployment:
			deploy = o
		case *corev1.Service:
			svc = o
		}
	}
	want := []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Service"}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("objects %v, want %v", kinds, want)
	}
	return
}

func TestCoreDNSObjectsAreKubeadms(t *testing.T) {
	sa, role, binding, cm, deploy, svc := coreDNS(t, kindishParams)
	for _, tc := range []struct {
		what      string
		got, want any
	}{
		{"addon name", CoreDNSAddon.Name, "coredns"},
		{"service account", sa.Namespace + "/" + sa.Name, "kube-system/coredns"},
		{"cluster role", role.Name, "system:coredns"},
		{"cluster role rules", role.Rules, []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		}},
		{"binding", binding.Name, "system:coredns"},
		{"binding role", binding.RoleRef, rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:coredns"}},
		{"binding subject", binding.Subjects, []rbacv1.Subject{{Kind: "ServiceAccount", Name: "coredns", Namespace: "kube-system"}}},
		{"config map", cm.Namespace + "/" + cm.Name, "kube-system/coredns"},
		{"deployment", deploy.Namespace + "/" + deploy.Name, "kube-system/coredns"},
		{"deployment labels", deploy.Labels, map[string]string{"k8s-app": "kube-dns"}},
		{"replicas", *deploy.Spec.Replicas, int32(2)},
		{"strategy", deploy.Spec.Strategy.Type, appsv1.RollingUpdateDeploymentStrategyType},
		{"max unavailable", deploy.Spec.Strategy.RollingUpdate.MaxUnavailable.String(), "1"},
		{"service", svc.Namespace + "/" + svc.Name, "kube-system/kube-dns"},
		{"service labels", svc.Labels, map[string]string{"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"}},
		{"service annotations", svc.Annotations, map[string]string{"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
		{"cluster IP", svc.Spec.ClusterIP, "10.96.0.10"},
		{"service ports", svc.Spec.Ports, []corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
			{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			{Name: "metrics", Port: 9153, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9153)},
		}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: %#v, want %#v", tc.what, tc.got, tc.want)
		}
	}

	// The selectors pick the pods the Deployment makes.
	podLabels := labels.Set(deploy.Spec.Template.Labels)
	if !labels.SelectorFromSet(deploy.Spec.Selector.MatchLabels).Matches(podLabels) {
		t.Error("the Deployment's selector does not match its pods")
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) || len(svc.Spec.Selector) == 0 {
		t.Error("the kube-dns Service does not select the CoreDNS pods")
	}
}

func TestCoreDNSPodSpec(t *testing.T) {
	_, _, _, _, deploy, _ := coreDNS(t, kindishParams)
	spec := deploy.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers", len(spec.Containers))
	}
	c := spec.Containers[0]
	ports := map[string]corev1.ContainerPort{}
	for _, p := range c.Ports {
		ports[p.Name] = p
	}
	// A probe's named port, as the kubelet resolves it.
	probePort := func(p *corev1.Probe) int32 {
		if p == nil || p.HTTPGet == nil {
			return 0
		}
		if p.HTTPGet.Port.Type == intstr.String {
			return ports[p.HTTPGet.Port.StrVal].ContainerPort
		}
		return p.HTTPGet.Port.IntVal
	}
	for _, tc := range []struct {
		what      string
		got, want any
	}{
		{"priority class", spec.PriorityClassName, "system-cluster-critical"},
		{"service account", spec.ServiceAccountName, "coredns"},
		{"DNS policy: the node's resolv.conf", spec.DNSPolicy, corev1.DNSDefault},
		{"node selector", spec.NodeSelector, map[string]string{"kubernetes.io/os": "linux"}},
		{"tolerations", spec.Tolerations, []corev1.Toleration{
			{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists},
			{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule},
		}},
		{"anti-affinity topology", spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey, "kubernetes.io/hostname"},
		{"anti-affinity weight", spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].Weight, int32(100)},
		{"anti-affinity selector", spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.LabelSelector.MatchExpressions[0].Values, []string{"kube-dns"}},
		{"required anti-affinity", spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, []corev1.PodAffinityTerm(nil)},
		{"container", c.Name, "coredns"},
		{"image", c.Image, images.CoreDNSImage()},
		{"pull policy", c.ImagePullPolicy, corev1.PullIfNotPresent},
		{"args", c.Args, []string{"-conf", "/etc/coredns/Corefile"}},
		{"command: the image's entrypoint", c.Command, []string(nil)},
		{"dns port", ports["dns"], corev1.ContainerPort{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
		{"dns-tcp port", ports["dns-tcp"], corev1.ContainerPort{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP}},
		{"metrics port", ports["metrics"], corev1.ContainerPort{Name: "metrics", ContainerPort: 9153, Protocol: corev1.ProtocolTCP}},
		{"liveness path", c.LivenessProbe.HTTPGet.Path, "/health"},
		{"liveness port", probePort(c.LivenessProbe), int32(8080)},
		{"liveness timing", []int32{c.LivenessProbe.InitialDelaySeconds, c.LivenessProbe.TimeoutSeconds, c.LivenessProbe.SuccessThreshold, c.LivenessProbe.FailureThreshold}, []int32{60, 5, 1, 5}},
		{"readiness path", c.ReadinessProbe.HTTPGet.Path, "/ready"},
		{"readiness port", probePort(c.ReadinessProbe), int32(8181)},
		{"readiness period", c.ReadinessProbe.PeriodSeconds, int32(1)},
		{"capabilities added", c.SecurityContext.Capabilities.Add, []corev1.Capability{"NET_BIND_SERVICE"}},
		{"capabilities dropped", c.SecurityContext.Capabilities.Drop, []corev1.Capability{"ALL"}},
		{"read-only root", *c.SecurityContext.ReadOnlyRootFilesystem, true},
		{"no privilege escalation", *c.SecurityContext.AllowPrivilegeEscalation, false},
		{"memory limit", c.Resources.Limits.Memory().String(), "170Mi"},
		{"cpu request", c.Resources.Requests.Cpu().String(), "100m"},
		{"memory request", c.Resources.Requests.Memory().String(), "70Mi"},
		{"config mount", c.VolumeMounts, []corev1.VolumeMount{{Name: "config-volume", MountPath: "/etc/coredns", ReadOnly: true}}},
		{"config volume", spec.Volumes[0].ConfigMap.Name, "coredns"},
		{"config items", spec.Volumes[0].ConfigMap.Items, []corev1.KeyToPath{{Key: "Corefile", Path: "Corefile"}}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: %#v, want %#v", tc.what, tc.got, tc.want)
		}
	}
}

func TestCorefileIsKubeadmsForTheClusterDomain(t *testing.T) {
	_, _, _, cm, _, _ := coreDNS(t, kindishParams)
	want := `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
`
	if got := cm.Data["Corefile"]; got != want {
		t.Errorf("Corefile:\n%s\nwant:\n%s", got, want)
	}
	if len(cm.Data) != 1 {
		t.Errorf("config map keys %v, want Corefile alone", cm.Data)
	}

	p := kindishParams
	p.ClusterDomain = "example.internal"
	_, _, _, cm, _, _ = coreDNS(t, p)
	if c := cm.Data["Corefile"]; !strings.Contains(c, "kubernetes example.internal in-addr.arpa ip6.arpa {") ||
		!strings.Contains(c, "disable denial example.internal") || strings.Contains(c, "cluster.local") {
		t.Errorf("Corefile not for the cluster's domain:\n%s", c)
	}
}

func TestCoreDNSServiceFollowsTheDNSServiceIP(t *testing.T) {
	p := kindishParams
	p.DNSServiceIP = "10.100.0.10"
	_, _, _, _, _, svc := coreDNS(t, p)
	if svc.Spec.ClusterIP != "10.100.0.10" {
		t.Errorf("cluster IP %s", svc.Spec.ClusterIP)
	}
}

func TestCoreDNSRejectsBadParams(t *testing.T) {
	for name, edit := range map[string]func(*Params){
		"no DNS IP":        func(p *Params) { p.DNSServiceIP = "" },
		"DNS IP not an IP": func(p *Params) { p.DNSServiceIP = "10.96.0" },
		"no domain":        func(p *Params) { p.ClusterDomain = "" },
		"domain breaks the Corefile": func(p *Params) {
			p.ClusterDomain = "cluster.local {\n}"
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := kindishParams
			edit(&p)
			if _, err := CoreDNSAddon.Objects(p); err == nil {
				t.Error("no error")
			}
		})
	}
}

// Install applies objects through the scheme's kinds and the discovery
// mapping: every object must be known to it, and namespaced ones must say
// where they go.
func TestCoreDNSObjectsConvertForInstall(t *testing.T) {
	objs, err := CoreDNSAddon.Objects(kindishParams)
	if err != nil {
		t.Fatal(err)
	}
	clusterScoped := map[string]bool{"ClusterRole": true, "ClusterRoleBinding": true}
	for _, o := range objs {
		u, err := toUnstructured(o)
		if err != nil {
			t.Fatalf("%T: %v", o, err)
		}
		kind := u.GetKind()
		if u.GetAPIVersion() == "" || kind == "" {
			t.Errorf("%T converts without apiVersion/kind", o)
		}
		if ns := u.GetNamespace(); clusterScoped[kind] != (ns == "") || (!clusterScoped[kind] && ns != "kube-system") {
			t.Errorf("%s %s in namespace %q", kind, u.GetName(), ns)
		}
	}
}
