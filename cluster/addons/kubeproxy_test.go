package addons

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
	"github.com/kindish/kindish/controlplane/apiserver/auth/bootstrappolicy"
	"github.com/kindish/kindish/images"
	kubeproxyconfig "github.com/kindish/kindish/nodeagent/kubeproxy/config"
)

func kubeProxyParams() Params {
	return Params{
		ClusterName:   "kindish",
		PodSubnet:     "10.244.0.0/16",
		ServiceSubnet: "10.96.0.0/16",
		DNSServiceIP:  "10.96.0.10",
		ClusterDomain: "cluster.local",
		APIServerHost: "172.18.0.2",
		APIServerPort: 6443,
	}
}

// kubeProxyObjectSet is the addon's objects by type.
type kubeProxyObjectSet struct {
	serviceAccount *corev1.ServiceAccount
	binding        *rbacv1.ClusterRoleBinding
	role           *rbacv1.Role
	roleBinding    *rbacv1.RoleBinding
	configMap      *corev1.ConfigMap
	daemonSet      *appsv1.DaemonSet
}

func kubeProxyObjectsOf(t *testing.T, p Params) kubeProxyObjectSet {
	t.Helper()
	objs, err := KubeProxyAddon.Objects(p)
	if err != nil {
		t.Fatal(err)
	}
	var set kubeProxyObjectSet
	var kinds []string
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.ServiceAccount:
			set.serviceAccount = o
		case *rbacv1.ClusterRoleBinding:
			set.binding = o
		case *rbacv1.Role:
			set.role = o
		case *rbacv1.RoleBinding:
			set.roleBinding = o
		case *corev1.ConfigMap:
			set.configMap = o
		case *appsv1.DaemonSet:
			set.daemonSet = o
		default:
			t.Fatalf("unexpected object %T", o)
		}
		kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind)
	}
	// Identity and rights first, the workload last: the DaemonSet's pods
	// must find their ServiceAccount and ConfigMap.
	if want := []string{"ServiceAccount", "ClusterRoleBinding", "Role", "RoleBinding", "ConfigMap", "DaemonSet"}; !slices.Equal(kinds, want) {
		t.Fatalf("objects %q, want %q", kinds, want)
	}
	return set
}

func TestKubeProxyRBACIsKubeadms(t *testing.T) {
	set := kubeProxyObjectsOf(t, kubeProxyParams())
	if sa := set.serviceAccount; sa.Name != "kube-proxy" || sa.Namespace != "kube-system" {
		t.Errorf("ServiceAccount %s/%s", sa.Namespace, sa.Name)
	}
	b := set.binding
	wantSubject := rbacv1.Subject{Kind: "ServiceAccount", Name: "kube-proxy", Namespace: "kube-system"}
	if b.Name != "kubeadm:node-proxier" || b.RoleRef != (rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:node-proxier"}) ||
		!slices.Equal(b.Subjects, []rbacv1.Subject{wantSubject}) {
		t.Errorf("ClusterRoleBinding = %+v", b)
	}
	// The role bound is the API server's bootstrap role, with what
	// kube-proxy watches.
	var role *rbacv1.ClusterRole
	for _, r := range bootstrappolicy.ClusterRoles() {
		if r.Name == b.RoleRef.Name {
			role = &r
		}
	}
	if role == nil {
		t.Fatalf("the API server has no bootstrap ClusterRole %s", b.RoleRef.Name)
	}
	for _, need := range []struct{ group, resource, verb string }{
		{"", "services", "watch"}, {"discovery.k8s.io", "endpointslices", "watch"}, {"", "nodes", "watch"}, {"events.k8s.io", "events", "create"},
	} {
		if !grants(role.Rules, need.group, need.resource, need.verb) {
			t.Errorf("%s does not grant %s %s.%s", role.Name, need.verb, need.resource, need.group)
		}
	}
	// The API server's kubeadm bindings hold the same binding: installing
	// it converges rather than conflicts.
	found := false
	for _, kb := range bootstrappolicy.KubeadmClusterRoleBindings() {
		if kb.Name == b.Name {
			found = kb.RoleRef == b.RoleRef && slices.Equal(kb.Subjects, b.Subjects)
		}
	}
	if !found {
		t.Error("the API server's kubeadm:node-proxier differs from the addon's")
	}
	if r := set.role; r.Name != "kube-proxy" || r.Namespace != "kube-system" ||
		!slices.Equal(r.Rules[0].ResourceNames, []string{"kube-proxy"}) || !slices.Equal(r.Rules[0].Verbs, []string{"get"}) {
		t.Errorf("Role = %+v, want get on the kube-proxy ConfigMap", r)
	}
	if rb := set.roleBinding; rb.RoleRef.Name != "kube-proxy" || rb.Subjects[0].Name != "system:bootstrappers:kubeadm:default-node-token" {
		t.Errorf("RoleBinding = %+v", rb)
	}
}

func grants(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	for _, r := range rules {
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
			return true
		}
	}
	return false
}

func TestKubeProxyConfigMapIsWhatKubeProxyReads(t *testing.T) {
	cm := kubeProxyObjectsOf(t, kubeProxyParams()).configMap
	if cm.Name != "kube-proxy" || cm.Namespace != "kube-system" || cm.Labels["app"] != "kube-proxy" {
		t.Errorf("ConfigMap %s/%s labels %v", cm.Namespace, cm.Name, cm.Labels)
	}
	cfg, err := kubeproxyconfig.Parse([]byte(cm.Data["config.conf"]))
	if err != nil {
		t.Fatalf("config.conf does not load: %v\n%s", err, cm.Data["config.conf"])
	}
	if cfg.ClusterCIDR != "10.244.0.0/16" || cfg.ServiceClusterIPRange != "10.96.0.0/16" || cfg.Mode != "iptables" ||
		cfg.ClientConnection.Kubeconfig != "/var/lib/kube-proxy/kubeconfig.conf" ||
		cfg.IPTables.MinSyncPeriod.Duration != 100*time.Millisecond || *cfg.IPTables.MasqueradeBit != 14 ||
		cfg.HealthzBindAddress != "0.0.0.0:10256" || cfg.MetricsBindAddress != "127.0.0.1:10249" {
		t.Errorf("config.conf loads as %+v", cfg)
	}
	if !strings.Contains(cm.Data["config.conf"], "maxPerCore: 0") {
		t.Errorf("config.conf does not leave nf_conntrack_max alone:\n%s", cm.Data["config.conf"])
	}

	kc, err := clientcmd.Load([]byte(cm.Data["kubeconfig.conf"]))
	if err != nil {
		t.Fatalf("kubeconfig.conf: %v", err)
	}
	ctx := kc.Contexts[kc.CurrentContext]
	if ctx == nil {
		t.Fatalf("kubeconfig.conf has no current context %q", kc.CurrentContext)
	}
	cluster, user := kc.Clusters[ctx.Cluster], kc.AuthInfos[ctx.AuthInfo]
	if cluster.Server != "https://172.18.0.2:6443" || cluster.CertificateAuthority != "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt" {
		t.Errorf("cluster = %+v", cluster)
	}
	if user.TokenFile != "/var/run/secrets/kubernetes.io/serviceaccount/token" {
		t.Errorf("user = %+v, want the ServiceAccount token file", user)
	}
}

func TestKubeProxyDaemonSetIsKubeadms(t *testing.T) {
	ds := kubeProxyObjectsOf(t, kubeProxyParams()).daemonSet
	if ds.Name != "kube-proxy" || ds.Namespace != "kube-system" || ds.Labels["k8s-app"] != "kube-proxy" {
		t.Errorf("DaemonSet %s/%s labels %v", ds.Namespace, ds.Name, ds.Labels)
	}
	if ds.Spec.Selector.MatchLabels["k8s-app"] != "kube-proxy" || ds.Spec.Template.Labels["k8s-app"] != "kube-proxy" {
		t.Errorf("selector %v, template labels %v", ds.Spec.Selector.MatchLabels, ds.Spec.Template.Labels)
	}
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork || spec.ServiceAccountName != "kube-proxy" || spec.PriorityClassName != "system-node-critical" {
		t.Errorf("hostNetwork %v, serviceAccount %q, priorityClass %q", spec.HostNetwork, spec.ServiceAccountName, spec.PriorityClassName)
	}
	// One toleration with no key tolerates every taint: control planes,
	// NotReady and unreachable nodes.
	if len(spec.Tolerations) != 1 || spec.Tolerations[0] != (corev1.Toleration{Operator: corev1.TolerationOpExists}) {
		t.Errorf("tolerations %+v", spec.Tolerations)
	}
	c := spec.Containers[0]
	if c.Image != images.KubeProxy.Image() {
		t.Errorf("image %s, want %s", c.Image, images.KubeProxy.Image())
	}
	if want := []string{"/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"}; !slices.Equal(c.Command, want) {
		t.Errorf("command %q, want %q", c.Command, want)
	}
	if len(c.Env) != 1 || c.Env[0].Name != "NODE_NAME" || c.Env[0].ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("env %+v, want NODE_NAME from spec.nodeName", c.Env)
	}
	if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Errorf("securityContext %+v, want privileged", c.SecurityContext)
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	if m, v := mounts["kube-proxy"], volumes["kube-proxy"]; m.MountPath != "/var/lib/kube-proxy" || v.ConfigMap == nil || v.ConfigMap.Name != "kube-proxy" {
		t.Errorf("configuration volume %+v mounted %+v", v, m)
	}
	if m, v := mounts["xtables-lock"], volumes["xtables-lock"]; m.MountPath != "/run/xtables.lock" || m.ReadOnly ||
		v.HostPath == nil || v.HostPath.Path != "/run/xtables.lock" || v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathFileOrCreate {
		t.Errorf("xtables lock volume %+v mounted %+v", v, m)
	}
	if m, v := mounts["lib-modules"], volumes["lib-modules"]; m.MountPath != "/lib/modules" || !m.ReadOnly || v.HostPath == nil || v.HostPath.Path != "/lib/modules" {
		t.Errorf("modules volume %+v mounted %+v", v, m)
	}
}

func TestKubeProxyParams(t *testing.T) {
	p := kubeProxyParams()
	p.APIServerHost = ""
	if _, err := KubeProxyAddon.Objects(p); err == nil {
		t.Error("no error without the API server's address")
	}
	p = kubeProxyParams()
	p.APIServerHost = "fc00:f853:ccd:e793::2"
	kubeconfig := kubeProxyObjectsOf(t, p).configMap.Data["kubeconfig.conf"]
	if !strings.Contains(kubeconfig, "server: https://[fc00:f853:ccd:e793::2]:6443\n") {
		t.Errorf("IPv6 API server address not bracketed:\n%s", kubeconfig)
	}
	p = kubeProxyParams()
	p.PodSubnet = "not-a-cidr"
	if _, err := KubeProxyAddon.Objects(p); err == nil || !strings.Contains(err.Error(), "clusterCIDR") {
		t.Errorf("a bad pod subnet: error %v, want the clusterCIDR refused", err)
	}
	p = kubeProxyParams()
	p.ServiceSubnet = "10.96.0.0"
	if _, err := KubeProxyAddon.Objects(p); err == nil || !strings.Contains(err.Error(), "serviceClusterIPRange") {
		t.Errorf("a bad service subnet: error %v, want the serviceClusterIPRange refused", err)
	}
	// The range is the cluster's, whatever it is: kube-proxy rejects
	// exactly the addresses the API server allocates from.
	p = kubeProxyParams()
	p.ServiceSubnet = "10.100.0.0/16"
	if conf := kubeProxyObjectsOf(t, p).configMap.Data["config.conf"]; !strings.Contains(conf, "serviceClusterIPRange: 10.100.0.0/16\n") {
		t.Errorf("config.conf does not carry the cluster's service range:\n%s", conf)
	}
}

// TestKubeProxyAddonInstalls applies the addon to a real API server: every
// object must pass its validation and admission, and a second install must
// converge.
func TestKubeProxyAddonInstalls(t *testing.T) {
	env := apiservertest.Start(t)
	ctx := context.Background()
	for range 2 {
		if err := Install(ctx, env.Config, kubeProxyParams(), KubeProxyAddon); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := env.Client.AppsV1().DaemonSets("kube-system").Get(ctx, "kube-proxy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ds.Spec.Template.Spec.Containers[0].Command[0]; got != "/usr/local/bin/kube-proxy" {
		t.Errorf("stored command %q", got)
	}
	if _, err := env.Client.CoreV1().ConfigMaps("kube-system").Get(ctx, "kube-proxy", metav1.GetOptions{}); err != nil {
		t.Error(err)
	}
}
