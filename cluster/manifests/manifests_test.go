package manifests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kindish/kindish/images"
	"github.com/kindish/kindish/nodeagent/kubelet/staticpod"
)

var testParams = Params{
	NodeName:    "kind-control-plane",
	NodeIP:      "172.18.0.2",
	ClusterName: "kind",
}

func render(t *testing.T, p Params) map[string]*corev1.Pod {
	t.Helper()
	files, err := ControlPlane(p)
	if err != nil {
		t.Fatalf("ControlPlane: %v", err)
	}
	pods := map[string]*corev1.Pod{}
	for name, data := range files {
		pod := &corev1.Pod{}
		if err := yaml.UnmarshalStrict(data, pod); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pods[name] = pod
	}
	return pods
}

// flagsOf parses a container command's --name=value arguments.
func flagsOf(t *testing.T, cmd []string) map[string]string {
	t.Helper()
	flags := map[string]string{}
	for _, arg := range cmd[1:] {
		name, value, ok := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		if !ok || !strings.HasPrefix(arg, "--") {
			t.Errorf("argument %q is not --name=value", arg)
			continue
		}
		flags[name] = value
	}
	return flags
}

func TestControlPlaneFiles(t *testing.T) {
	files, err := ControlPlane(testParams)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	want := []string{"etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"}
	if !slices.Equal(names, want) {
		t.Errorf("files: got %v, want %v", names, want)
	}
	again, err := ControlPlane(testParams)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if !bytes.Equal(data, again[name]) {
			t.Errorf("%s differs between two renderings of the same params", name)
		}
	}
}

func TestEveryPodIsAKubeadmControlPlanePod(t *testing.T) {
	components := map[string]images.Component{
		EtcdFile:                  images.Etcd,
		KubeAPIServerFile:         images.KubeAPIServer,
		KubeSchedulerFile:         images.KubeScheduler,
		KubeControllerManagerFile: images.KubeControllerManager,
	}
	for file, pod := range render(t, testParams) {
		t.Run(file, func(t *testing.T) {
			comp := components[file]
			c := pod.Spec.Containers[0]
			checks := []struct {
				name      string
				got, want any
			}{
				{"apiVersion", pod.APIVersion, "v1"},
				{"kind", pod.Kind, "Pod"},
				{"file is named after the pod", pod.Name + ".yaml", file},
				{"name", pod.Name, comp.Name},
				{"namespace", pod.Namespace, "kube-system"},
				{"component label", pod.Labels["component"], comp.Name},
				{"tier label", pod.Labels["tier"], "control-plane"},
				{"priority class", pod.Spec.PriorityClassName, "system-node-critical"},
				{"priority", *pod.Spec.Priority, int32(2000001000)},
				{"host network", pod.Spec.HostNetwork, true},
				{"no security context, so no seccomp profile", pod.Spec.SecurityContext == nil, true},
				{"one container", len(pod.Spec.Containers), 1},
				{"container name", c.Name, comp.Name},
				{"image", c.Image, comp.Image()},
				{"pull policy", c.ImagePullPolicy, corev1.PullIfNotPresent},
				{"command is the component's name, found on the image's PATH", c.Command[0], comp.Name},
				{"no args", len(c.Args), 0},
				{"liveness probe", c.LivenessProbe != nil, true},
				{"startup probe", c.StartupProbe != nil, true},
			}
			for _, ch := range checks {
				if ch.got != ch.want {
					t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
				}
			}
			if c.SecurityContext != nil {
				t.Errorf("container security context: got %+v, want none", c.SecurityContext)
			}
			if !slices.IsSortedFunc(c.Command[1:], strings.Compare) {
				t.Errorf("flags are not sorted as kubeadm sorts them: %v", c.Command[1:])
			}
		})
	}
}

func TestFlags(t *testing.T) {
	pods := render(t, testParams)
	exact := []struct {
		file string
		want []string
	}{
		{KubeSchedulerFile, []string{
			"kube-scheduler",
			"--authentication-kubeconfig=/etc/kubernetes/scheduler.conf",
			"--authorization-kubeconfig=/etc/kubernetes/scheduler.conf",
			"--bind-address=127.0.0.1",
			"--kubeconfig=/etc/kubernetes/scheduler.conf",
			"--leader-elect=true",
		}},
		{KubeControllerManagerFile, []string{
			"kube-controller-manager",
			"--allocate-node-cidrs=true",
			"--authentication-kubeconfig=/etc/kubernetes/controller-manager.conf",
			"--authorization-kubeconfig=/etc/kubernetes/controller-manager.conf",
			"--bind-address=127.0.0.1",
			"--client-ca-file=/etc/kubernetes/pki/ca.crt",
			"--cluster-cidr=10.244.0.0/16",
			"--cluster-name=kind",
			"--cluster-signing-cert-file=/etc/kubernetes/pki/ca.crt",
			"--cluster-signing-key-file=/etc/kubernetes/pki/ca.key",
			"--controllers=*,bootstrapsigner,tokencleaner",
			"--kubeconfig=/etc/kubernetes/controller-manager.conf",
			"--leader-elect=true",
			"--requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt",
			"--root-ca-file=/etc/kubernetes/pki/ca.crt",
			"--service-account-private-key-file=/etc/kubernetes/pki/sa.key",
			"--service-cluster-ip-range=10.96.0.0/16",
			"--use-service-account-credentials=true",
		}},
	}
	for _, tt := range exact {
		if got := pods[tt.file].Spec.Containers[0].Command; !slices.Equal(got, tt.want) {
			t.Errorf("%s command:\ngot  %q\nwant %q", tt.file, got, tt.want)
		}
	}

	values := []struct {
		file, flag, want string
	}{
		{EtcdFile, "name", "kind-control-plane"},
		{EtcdFile, "data-dir", "/var/lib/etcd"},
		{EtcdFile, "listen-client-urls", "https://127.0.0.1:2379"},
		{EtcdFile, "advertise-client-urls", "https://127.0.0.1:2379"},
		{EtcdFile, "listen-peer-urls", "https://172.18.0.2:2380"},
		{EtcdFile, "initial-advertise-peer-urls", "https://172.18.0.2:2380"},
		{EtcdFile, "initial-cluster", "kind-control-plane=https://172.18.0.2:2380"},
		{EtcdFile, "listen-metrics-urls", "http://127.0.0.1:2381"},
		{EtcdFile, "cert-file", "/etc/kubernetes/pki/etcd/server.crt"},
		{EtcdFile, "key-file", "/etc/kubernetes/pki/etcd/server.key"},
		{EtcdFile, "trusted-ca-file", "/etc/kubernetes/pki/etcd/ca.crt"},
		{EtcdFile, "peer-cert-file", "/etc/kubernetes/pki/etcd/peer.crt"},
		{EtcdFile, "peer-key-file", "/etc/kubernetes/pki/etcd/peer.key"},
		{EtcdFile, "peer-trusted-ca-file", "/etc/kubernetes/pki/etcd/ca.crt"},
		{EtcdFile, "client-cert-auth", "true"},
		{EtcdFile, "peer-client-cert-auth", "true"},
		{KubeAPIServerFile, "advertise-address", "172.18.0.2"},
		{KubeAPIServerFile, "secure-port", "6443"},
		{KubeAPIServerFile, "service-cluster-ip-range", "10.96.0.0/16"},
		{KubeAPIServerFile, "etcd-servers", "https://127.0.0.1:2379"},
		{KubeAPIServerFile, "etcd-cafile", "/etc/kubernetes/pki/etcd/ca.crt"},
		{KubeAPIServerFile, "etcd-certfile", "/etc/kubernetes/pki/apiserver-etcd-client.crt"},
		{KubeAPIServerFile, "etcd-keyfile", "/etc/kubernetes/pki/apiserver-etcd-client.key"},
		{KubeAPIServerFile, "client-ca-file", "/etc/kubernetes/pki/ca.crt"},
		{KubeAPIServerFile, "tls-cert-file", "/etc/kubernetes/pki/apiserver.crt"},
		{KubeAPIServerFile, "tls-private-key-file", "/etc/kubernetes/pki/apiserver.key"},
		{KubeAPIServerFile, "kubelet-client-certificate", "/etc/kubernetes/pki/apiserver-kubelet-client.crt"},
		{KubeAPIServerFile, "kubelet-client-key", "/etc/kubernetes/pki/apiserver-kubelet-client.key"},
		{KubeAPIServerFile, "service-account-key-file", "/etc/kubernetes/pki/sa.pub"},
		{KubeAPIServerFile, "service-account-signing-key-file", "/etc/kubernetes/pki/sa.key"},
		{KubeAPIServerFile, "service-account-issuer", "https://kubernetes.default.svc.cluster.local"},
		{KubeAPIServerFile, "authorization-mode", "Node,RBAC"},
		{KubeAPIServerFile, "enable-admission-plugins", "NodeRestriction"},
	}
	for _, tt := range values {
		flags := flagsOf(t, pods[tt.file].Spec.Containers[0].Command)
		if got, ok := flags[tt.flag]; !ok || got != tt.want {
			t.Errorf("%s --%s: got %q (set %v), want %q", tt.file, tt.flag, got, ok, tt.want)
		}
	}
}

func TestFlagsAreThoseTheBinariesDefine(t *testing.T) {
	pods := render(t, testParams)
	for file, pod := range pods {
		c := pod.Spec.Containers[0]
		for name := range flagsOf(t, c.Command) {
			if err := CheckFlag(c.Name, name); err != nil {
				t.Errorf("%s: %v", file, err)
			}
		}
	}
	// etcd refuses to run without certificates on both sides: the manifest
	// must not rely on defaults for them.
	flags := flagsOf(t, pods[EtcdFile].Spec.Containers[0].Command)
	for _, name := range []string{"name", "listen-peer-urls", "cert-file", "key-file", "trusted-ca-file"} {
		if flags[name] == "" {
			t.Errorf("etcd: --%s missing", name)
		}
	}
}

// TestComponentFlagsAreTheBinarysOwn builds kindish-node and reads each
// component's flags from its -help, so that componentFlags, which the
// config file's extraArgs are checked against, cannot fall behind.
func TestComponentFlagsAreTheBinarysOwn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/kindish-node")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build cmd/kindish-node with")
	}
	bin := filepath.Join(t.TempDir(), "kindish-node")
	build := exec.Command(goBin, "build", "-o", bin, "../../cmd/kindish-node")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/kindish-node: %v\n%s", err, out)
	}
	for component, listed := range componentFlags {
		// The flag package prints one "  -name [type]" line a flag.
		out, _ := exec.Command(bin, component, "-help").CombinedOutput()
		var defined []string
		for line := range strings.Lines(string(out)) {
			if rest, ok := strings.CutPrefix(line, "  -"); ok {
				defined = append(defined, strings.Fields(rest)[0])
			}
		}
		slices.Sort(defined)
		if len(defined) == 0 {
			t.Errorf("%s -help lists no flags:\n%s", component, out)
			continue
		}
		if !slices.Equal(slices.Sorted(slices.Values(listed)), defined) {
			t.Errorf("componentFlags[%q] differs from the binary's flags; want\n%q", component, defined)
		}
	}
}

// Extra args join the defaults as kubeadm merges them: a new flag takes
// its sorted place, and one the manifest sets already gets the new value,
// once.
func TestExtraArgs(t *testing.T) {
	p := testParams
	p.ExtraArgs = ExtraArgs{
		images.KubeControllerManager.Name: {"node-monitor-grace-period": "10s", "leader-elect": "false"},
		images.Etcd.Name:                  {"snapshot-count": "5000"},
	}
	pods := render(t, p)
	cm := pods[KubeControllerManagerFile].Spec.Containers[0].Command
	if !slices.IsSorted(cm[1:]) {
		t.Errorf("flags not sorted: %q", cm)
	}
	count := func(cmd []string, prefix string) int {
		n := 0
		for _, arg := range cmd {
			if strings.HasPrefix(arg, prefix) {
				n++
			}
		}
		return n
	}
	for _, tt := range []struct {
		file, flag, want string
	}{
		{KubeControllerManagerFile, "node-monitor-grace-period", "10s"},
		{KubeControllerManagerFile, "leader-elect", "false"},
		{KubeControllerManagerFile, "cluster-name", "kind"},
		{EtcdFile, "snapshot-count", "5000"},
	} {
		cmd := pods[tt.file].Spec.Containers[0].Command
		if got := flagsOf(t, cmd)[tt.flag]; got != tt.want {
			t.Errorf("%s --%s = %q, want %q", tt.file, tt.flag, got, tt.want)
		}
		if n := count(cmd, "--"+tt.flag+"="); n != 1 {
			t.Errorf("%s: --%s given %d times, want once", tt.file, tt.flag, n)
		}
	}
	if plain, withExtra := render(t, testParams)[KubeSchedulerFile], pods[KubeSchedulerFile]; !slices.Equal(plain.Spec.Containers[0].Command, withExtra.Spec.Containers[0].Command) {
		t.Errorf("the scheduler got extra args it was not given: %q", withExtra.Spec.Containers[0].Command)
	}

	for _, tt := range []struct {
		name    string
		extra   ExtraArgs
		wantErr string
	}{
		{"a flag the component does not define", ExtraArgs{images.KubeAPIServer.Name: {"default-not-ready-toleration-seconds": "10"}},
			`unknown flag "default-not-ready-toleration-seconds" for kube-apiserver`},
		{"a component that is not a control-plane one", ExtraArgs{"kubelet": {"v": "2"}}, `unknown control-plane component "kubelet"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams
			p.ExtraArgs = tt.extra
			files, err := ControlPlane(p)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || files != nil {
				t.Errorf("got %d files and error %v, want an error saying %q", len(files), err, tt.wantErr)
			}
		})
	}
}

func TestVolumes(t *testing.T) {
	type volume struct {
		path     string
		kind     corev1.HostPathType
		readOnly bool
	}
	dirOrCreate, fileOrCreate := corev1.HostPathDirectoryOrCreate, corev1.HostPathFileOrCreate
	want := map[string]map[string]volume{
		EtcdFile: {
			"etcd-certs": {"/etc/kubernetes/pki/etcd", dirOrCreate, true},
			"etcd-data":  {"/var/lib/etcd", dirOrCreate, false},
		},
		KubeAPIServerFile: {
			"ca-certs":  {"/etc/ssl/certs", dirOrCreate, true},
			"k8s-certs": {"/etc/kubernetes/pki", dirOrCreate, true},
		},
		KubeSchedulerFile: {
			"kubeconfig": {"/etc/kubernetes/scheduler.conf", fileOrCreate, true},
		},
		KubeControllerManagerFile: {
			"ca-certs":   {"/etc/ssl/certs", dirOrCreate, true},
			"k8s-certs":  {"/etc/kubernetes/pki", dirOrCreate, true},
			"kubeconfig": {"/etc/kubernetes/controller-manager.conf", fileOrCreate, true},
		},
	}
	for file, pod := range render(t, testParams) {
		got := map[string]volume{}
		for _, v := range pod.Spec.Volumes {
			if v.HostPath == nil || v.HostPath.Type == nil {
				t.Errorf("%s: volume %s is not a typed hostPath", file, v.Name)
				continue
			}
			got[v.Name] = volume{path: v.HostPath.Path, kind: *v.HostPath.Type}
		}
		for _, m := range pod.Spec.Containers[0].VolumeMounts {
			v, ok := got[m.Name]
			if !ok || m.MountPath != v.path {
				t.Errorf("%s: mount %s at %s does not match its volume", file, m.Name, m.MountPath)
				continue
			}
			v.readOnly = m.ReadOnly
			got[m.Name] = v
		}
		if len(pod.Spec.Containers[0].VolumeMounts) != len(pod.Spec.Volumes) {
			t.Errorf("%s: %d mounts for %d volumes", file, len(pod.Spec.Containers[0].VolumeMounts), len(pod.Spec.Volumes))
		}
		if len(got) != len(want[file]) {
			t.Errorf("%s: volumes %v, want %v", file, got, want[file])
		}
		for name, w := range want[file] {
			if got[name] != w {
				t.Errorf("%s: volume %s: got %+v, want %+v", file, name, got[name], w)
			}
		}
		if !slices.IsSortedFunc(pod.Spec.Volumes, func(a, b corev1.Volume) int { return strings.Compare(a.Name, b.Name) }) {
			t.Errorf("%s: volumes are not sorted by name, as kubeadm's", file)
		}
	}
}

func TestProbesAndRequests(t *testing.T) {
	type probe struct {
		host, path string
		port       int
		scheme     corev1.URIScheme
		period     int32
		failures   int32
		delay      int32
	}
	probeOf := func(p *corev1.Probe) *probe {
		if p == nil {
			return nil
		}
		g := p.HTTPGet
		if g == nil || p.TimeoutSeconds != 15 {
			return &probe{host: "not an httpGet probe with kubeadm's timeout"}
		}
		return &probe{g.Host, g.Path, g.Port.IntValue(), g.Scheme, p.PeriodSeconds, p.FailureThreshold, p.InitialDelaySeconds}
	}
	tests := []struct {
		file                         string
		liveness, readiness, startup *probe
		cpu, memory                  string
	}{
		{EtcdFile,
			&probe{"127.0.0.1", "/livez", 2381, corev1.URISchemeHTTP, 10, 8, 10},
			&probe{"127.0.0.1", "/readyz", 2381, corev1.URISchemeHTTP, 1, 3, 0},
			&probe{"127.0.0.1", "/readyz", 2381, corev1.URISchemeHTTP, 1, 240, 0},
			"100m", "100Mi"},
		{KubeAPIServerFile,
			&probe{"172.18.0.2", "/livez", 6443, corev1.URISchemeHTTPS, 10, 8, 10},
			&probe{"172.18.0.2", "/readyz", 6443, corev1.URISchemeHTTPS, 1, 3, 0},
			&probe{"172.18.0.2", "/livez", 6443, corev1.URISchemeHTTPS, 1, 240, 0},
			"250m", ""},
		{KubeSchedulerFile,
			&probe{"127.0.0.1", "/healthz", 10259, corev1.URISchemeHTTPS, 10, 8, 10},
			nil,
			&probe{"127.0.0.1", "/healthz", 10259, corev1.URISchemeHTTPS, 1, 240, 0},
			"100m", ""},
		{KubeControllerManagerFile,
			&probe{"127.0.0.1", "/healthz", 10257, corev1.URISchemeHTTPS, 10, 8, 10},
			nil,
			&probe{"127.0.0.1", "/healthz", 10257, corev1.URISchemeHTTPS, 1, 240, 0},
			"200m", ""},
	}
	pods := render(t, testParams)
	for _, tt := range tests {
		c := pods[tt.file].Spec.Containers[0]
		for _, p := range []struct {
			kind      string
			got, want *probe
		}{
			{"liveness", probeOf(c.LivenessProbe), tt.liveness},
			{"readiness", probeOf(c.ReadinessProbe), tt.readiness},
			{"startup", probeOf(c.StartupProbe), tt.startup},
		} {
			if (p.got == nil) != (p.want == nil) || (p.got != nil && *p.got != *p.want) {
				t.Errorf("%s %s probe: got %+v, want %+v", tt.file, p.kind, p.got, p.want)
			}
		}
		if got := c.Resources.Requests.Cpu().String(); got != tt.cpu {
			t.Errorf("%s cpu request: got %s, want %s", tt.file, got, tt.cpu)
		}
		mem, hasMem := c.Resources.Requests[corev1.ResourceMemory]
		if hasMem != (tt.memory != "") || (hasMem && mem.String() != tt.memory) {
			t.Errorf("%s memory request: got %v, want %q", tt.file, c.Resources.Requests, tt.memory)
		}
		if len(c.Resources.Limits) != 0 {
			t.Errorf("%s: limits %v, want none", tt.file, c.Resources.Limits)
		}
	}
}

func TestParams(t *testing.T) {
	custom := testParams
	custom.NodeIP = "fc00:f853:ccd:e793::2"
	custom.APIServerPort = 7443
	custom.ServiceCIDR = "10.100.0.0/16"
	custom.PodCIDR = "10.200.0.0/16"
	custom.EtcdImage = "example/etcd:test"
	pods := render(t, custom)

	api := pods[KubeAPIServerFile]
	apiFlags := flagsOf(t, api.Spec.Containers[0].Command)
	cmFlags := flagsOf(t, pods[KubeControllerManagerFile].Spec.Containers[0].Command)
	etcdFlags := flagsOf(t, pods[EtcdFile].Spec.Containers[0].Command)
	checks := []struct {
		name, got, want string
	}{
		{"secure port", apiFlags["secure-port"], "7443"},
		{"probe port", api.Spec.Containers[0].LivenessProbe.HTTPGet.Port.String(), "7443"},
		{"endpoint annotation brackets an IPv6 address", api.Annotations["kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"], "[fc00:f853:ccd:e793::2]:7443"},
		{"API server's service range", apiFlags["service-cluster-ip-range"], "10.100.0.0/16"},
		{"controller manager's service range", cmFlags["service-cluster-ip-range"], "10.100.0.0/16"},
		{"cluster CIDR", cmFlags["cluster-cidr"], "10.200.0.0/16"},
		{"etcd peer URL brackets an IPv6 address", etcdFlags["listen-peer-urls"], "https://[fc00:f853:ccd:e793::2]:2380"},
		{"image override", pods[EtcdFile].Spec.Containers[0].Image, "example/etcd:test"},
		{"default image of the others", pods[KubeSchedulerFile].Spec.Containers[0].Image, images.KubeScheduler.Image()},
		{"etcd's client URL annotation", pods[EtcdFile].Annotations["kubeadm.kubernetes.io/etcd.advertise-client-urls"], "https://127.0.0.1:2379"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}

	bad := []struct {
		name    string
		change  func(*Params)
		wantErr string
	}{
		{"no node name", func(p *Params) { p.NodeName = "" }, "no node name"},
		{"no node IP", func(p *Params) { p.NodeIP = "" }, "node IP"},
		{"a node IP that is a name", func(p *Params) { p.NodeIP = "kind-control-plane" }, "node IP"},
		{"a port out of range", func(p *Params) { p.APIServerPort = 70000 }, "not a TCP port"},
		{"a service range that is an address", func(p *Params) { p.ServiceCIDR = "10.96.0.1" }, "service CIDR"},
		{"a bad pod range", func(p *Params) { p.PodCIDR = "10.244.0.0/33" }, "pod CIDR"},
		{"no cluster name", func(p *Params) { p.ClusterName = "" }, "no cluster name"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams
			tt.change(&p)
			files, err := ControlPlane(p)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || files != nil {
				t.Errorf("got %d files and error %v, want an error saying %q", len(files), err, tt.wantErr)
			}
		})
	}
}

// TestManifestsLoadAsStaticPods reads the manifests as the kubelet will,
// with the API server's defaulting and validation: a manifest the API
// server would reject cannot ship.
func TestManifestsLoadAsStaticPods(t *testing.T) {
	for _, p := range []Params{testParams, func() Params { p := testParams; p.NodeIP = "fc00::2"; return p }()} {
		dir := t.TempDir()
		files, err := ControlPlane(p)
		if err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		pods, errs := staticpod.Load(dir, p.NodeName)
		for _, err := range errs {
			t.Errorf("node IP %s: %v", p.NodeIP, err)
		}
		var names []string
		for _, pod := range pods {
			names = append(names, pod.Namespace+"/"+pod.Name)
			if !staticpod.IsStaticPod(pod) {
				t.Errorf("%s is not a static pod", pod.Name)
			}
		}
		want := []string{
			"kube-system/etcd-kind-control-plane",
			"kube-system/kube-apiserver-kind-control-plane",
			"kube-system/kube-controller-manager-kind-control-plane",
			"kube-system/kube-scheduler-kind-control-plane",
		}
		if !slices.Equal(names, want) {
			t.Errorf("static pods: got %v, want %v", names, want)
		}
	}
}
