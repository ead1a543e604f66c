package addons

import (
	"reflect"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kindish/kindish/images"
)

var kindnetdParams = Params{
	ClusterName:   "kindish",
	PodSubnet:     "10.244.0.0/16",
	ServiceSubnet: "10.96.0.0/16",
	DNSServiceIP:  "10.96.0.10",
	ClusterDomain: "cluster.local",
	APIServerHost: "172.18.0.2",
	APIServerPort: 6443,
}

// kindnetdObjectSet is the addon's objects by kind; kindnetdObjectsOf
// fails on any other kind or count.
type kindnetdObjectSet struct {
	role      *rbacv1.ClusterRole
	binding   *rbacv1.ClusterRoleBinding
	account   *corev1.ServiceAccount
	daemonSet *appsv1.DaemonSet
}

func kindnetdObjectsOf(t *testing.T, objs []runtime.Object) kindnetdObjectSet {
	t.Helper()
	var s kindnetdObjectSet
	for _, obj := range objs {
		switch o := obj.(type) {
		case *rbacv1.ClusterRole:
			s.role = o
		case *rbacv1.ClusterRoleBinding:
			s.binding = o
		case *corev1.ServiceAccount:
			s.account = o
		case *appsv1.DaemonSet:
			s.daemonSet = o
		default:
			t.Fatalf("unexpected object %T", obj)
		}
	}
	if len(objs) != 4 || s.role == nil || s.binding == nil || s.account == nil || s.daemonSet == nil {
		t.Fatalf("objects %d, want a ClusterRole, a ClusterRoleBinding, a ServiceAccount and a DaemonSet", len(objs))
	}
	return s
}

func TestKindnetdAddonObjects(t *testing.T) {
	objs, err := KindnetdAddon.Objects(kindnetdParams)
	if err != nil {
		t.Fatal(err)
	}
	s := kindnetdObjectsOf(t, objs)

	t.Run("every object converts for Install, kind and all", func(t *testing.T) {
		for _, obj := range objs {
			u, err := toUnstructured(obj)
			if err != nil {
				t.Fatalf("%T: %v", obj, err)
			}
			if u.GetKind() == "" || u.GetName() != "kindnet" {
				t.Errorf("%T converts to kind %q name %q", obj, u.GetKind(), u.GetName())
			}
		}
	})

	t.Run("the ServiceAccount may read Nodes, Pods and Namespaces", func(t *testing.T) {
		if s.account.Name != "kindnet" || s.account.Namespace != "kube-system" {
			t.Errorf("ServiceAccount %s/%s", s.account.Namespace, s.account.Name)
		}
		core := s.role.Rules[0]
		if !slices.Equal(core.APIGroups, []string{""}) || !slices.Equal(core.Resources, []string{"nodes", "pods", "namespaces"}) ||
			!slices.Equal(core.Verbs, []string{"get", "list", "watch"}) {
			t.Errorf("core rule %+v", core)
		}
		want := rbacv1.ClusterRoleBinding{
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "kindnet"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "kindnet", Namespace: "kube-system"}},
		}
		if s.binding.Name != "kindnet" || !reflect.DeepEqual(s.binding.RoleRef, want.RoleRef) || !reflect.DeepEqual(s.binding.Subjects, want.Subjects) {
			t.Errorf("binding %+v", s.binding)
		}
	})

	ds := s.daemonSet
	pod := ds.Spec.Template.Spec

	t.Run("the DaemonSet is kind's kindnet in kube-system", func(t *testing.T) {
		wantLabels := map[string]string{"tier": "node", "app": "kindnet", "k8s-app": "kindnet"}
		if ds.Name != "kindnet" || ds.Namespace != "kube-system" || !reflect.DeepEqual(ds.Labels, wantLabels) {
			t.Errorf("DaemonSet %s/%s labels %v", ds.Namespace, ds.Name, ds.Labels)
		}
		if !reflect.DeepEqual(ds.Spec.Template.Labels, wantLabels) {
			t.Errorf("pod labels %v, want %v", ds.Spec.Template.Labels, wantLabels)
		}
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
			t.Errorf("selector %v does not select the pods (%v)", ds.Spec.Selector, err)
		}
	})

	t.Run("it runs on every node, tainted or not, in the host's network", func(t *testing.T) {
		if want := []corev1.Toleration{{Operator: corev1.TolerationOpExists}}; !reflect.DeepEqual(pod.Tolerations, want) {
			t.Errorf("tolerations %+v, want %+v", pod.Tolerations, want)
		}
		if !pod.HostNetwork || pod.PriorityClassName != "system-node-critical" || pod.ServiceAccountName != "kindnet" {
			t.Errorf("hostNetwork %v, priorityClassName %q, serviceAccountName %q", pod.HostNetwork, pod.PriorityClassName, pod.ServiceAccountName)
		}
		if len(pod.NodeSelector) != 0 || pod.Affinity != nil {
			t.Errorf("node selection narrows where it runs: %v %v", pod.NodeSelector, pod.Affinity)
		}
	})

	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	t.Run("the container runs /bin/kindnetd from the kindnetd image", func(t *testing.T) {
		if c.Name != "kindnet-cni" || c.Image != images.Kindnetd.Image() {
			t.Errorf("container %q image %q", c.Name, c.Image)
		}
		if !slices.Equal(c.Command, []string{"/bin/kindnetd"}) || len(c.Args) != 0 {
			t.Errorf("command %q args %q, want exactly [/bin/kindnetd]", c.Command, c.Args)
		}
	})

	t.Run("its environment carries the node, the ranges and the API server", func(t *testing.T) {
		field := func(path string) *corev1.EnvVarSource {
			return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}
		}
		want := []corev1.EnvVar{
			{Name: "HOST_IP", ValueFrom: field("status.hostIP")},
			{Name: "POD_IP", ValueFrom: field("status.podIP")},
			{Name: "POD_SUBNET", Value: "10.244.0.0/16"},
			{Name: "CONTROL_PLANE_ENDPOINT", Value: "172.18.0.2:6443"},
			{Name: "NODE_NAME", ValueFrom: field("spec.nodeName")},
			{Name: "SERVICE_SUBNET", Value: "10.96.0.0/16"},
		}
		if !reflect.DeepEqual(c.Env, want) {
			t.Errorf("env\n%+v\nwant\n%+v", c.Env, want)
		}
	})

	t.Run("it mounts the CNI directory, the xtables lock and the modules", func(t *testing.T) {
		fileOrCreate := corev1.HostPathFileOrCreate
		wantVolumes := []corev1.Volume{
			{Name: "cni-cfg", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc/cni/net.d"}}},
			{Name: "xtables-lock", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/run/xtables.lock", Type: &fileOrCreate}}},
			{Name: "lib-modules", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/lib/modules"}}},
		}
		if !reflect.DeepEqual(pod.Volumes, wantVolumes) {
			t.Errorf("volumes %+v", pod.Volumes)
		}
		wantMounts := []corev1.VolumeMount{
			{Name: "cni-cfg", MountPath: "/etc/cni/net.d"},
			{Name: "xtables-lock", MountPath: "/run/xtables.lock"},
			{Name: "lib-modules", MountPath: "/lib/modules", ReadOnly: true},
		}
		if !reflect.DeepEqual(c.VolumeMounts, wantMounts) {
			t.Errorf("mounts %+v", c.VolumeMounts)
		}
	})

	t.Run("it is unprivileged with NET_RAW and NET_ADMIN, with kind's requests and memory limit and no CPU quota", func(t *testing.T) {
		sc := c.SecurityContext
		if sc == nil || sc.Privileged == nil || *sc.Privileged || sc.Capabilities == nil ||
			!slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_RAW", "NET_ADMIN"}) {
			t.Errorf("securityContext %+v", sc)
		}
		req, lim := c.Resources.Requests, c.Resources.Limits
		if !req.Cpu().Equal(resource.MustParse("100m")) || !req.Memory().Equal(resource.MustParse("50Mi")) {
			t.Errorf("requests cpu %v memory %v, want 100m and 50Mi", req.Cpu(), req.Memory())
		}
		if _, ok := lim[corev1.ResourceCPU]; ok || !lim.Memory().Equal(resource.MustParse("50Mi")) {
			t.Errorf("limits %v, want memory 50Mi and no CPU limit", lim)
		}
	})
}

func TestKindnetdAddonParams(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*Params)
		wantErr  bool
		checkEnv func(*testing.T, []corev1.EnvVar)
	}{
		{name: "no pod subnet", edit: func(p *Params) { p.PodSubnet = "" }, wantErr: true},
		{name: "no API server host", edit: func(p *Params) { p.APIServerHost = "" }, wantErr: true},
		{name: "no API server port", edit: func(p *Params) { p.APIServerPort = 0 }, wantErr: true},
		{
			name: "an IPv6 API server is bracketed",
			edit: func(p *Params) { p.APIServerHost = "fc00:f853:ccd:e793::2" },
			checkEnv: func(t *testing.T, env []corev1.EnvVar) {
				if i := slices.IndexFunc(env, func(e corev1.EnvVar) bool { return e.Name == "CONTROL_PLANE_ENDPOINT" }); i < 0 || env[i].Value != "[fc00:f853:ccd:e793::2]:6443" {
					t.Errorf("env %+v", env)
				}
			},
		},
		{
			name: "without a service subnet kindnetd keeps its default",
			edit: func(p *Params) { p.ServiceSubnet = "" },
			checkEnv: func(t *testing.T, env []corev1.EnvVar) {
				if slices.ContainsFunc(env, func(e corev1.EnvVar) bool { return e.Name == "SERVICE_SUBNET" }) {
					t.Errorf("env %+v has an empty SERVICE_SUBNET", env)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := kindnetdParams
			tt.edit(&p)
			objs, err := KindnetdAddon.Objects(p)
			if tt.wantErr {
				if err == nil {
					t.Fatal("objects made without a required parameter")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.checkEnv(t, kindnetdObjectsOf(t, objs).daemonSet.Spec.Template.Spec.Containers[0].Env)
		})
	}
}
