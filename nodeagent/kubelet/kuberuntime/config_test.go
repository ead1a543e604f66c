package kuberuntime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kindish/kindish/nodeagent/kubelet/crifake"
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestComputePodQOS(t *testing.T) {
	tests := []struct {
		name       string
		containers []corev1.ResourceRequirements
		want       corev1.PodQOSClass
		wantCgroup string
	}{
		{"nothing set is BestEffort", []corev1.ResourceRequirements{{}}, corev1.PodQOSBestEffort, "/kubepods/besteffort/podq"},
		{"requests only is Burstable", []corev1.ResourceRequirements{resources("100m", "64Mi", "", "")}, corev1.PodQOSBurstable, "/kubepods/burstable/podq"},
		{"equal limits and requests is Guaranteed", []corev1.ResourceRequirements{resources("1", "1Gi", "1", "1Gi")}, corev1.PodQOSGuaranteed, "/kubepods/podq"},
		{"limits without the defaulted requests is Burstable", []corev1.ResourceRequirements{resources("", "", "1", "1Gi")}, corev1.PodQOSBurstable, "/kubepods/burstable/podq"},
		{"one container without limits is Burstable", []corev1.ResourceRequirements{resources("1", "1Gi", "1", "1Gi"), {}}, corev1.PodQOSBurstable, "/kubepods/burstable/podq"},
		{"limit above request is Burstable", []corev1.ResourceRequirements{resources("500m", "1Gi", "1", "1Gi")}, corev1.PodQOSBurstable, "/kubepods/burstable/podq"},
		{"CPU limit only is Burstable", []corev1.ResourceRequirements{resources("", "", "1", "")}, corev1.PodQOSBurstable, "/kubepods/burstable/podq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod("q")
			pod.UID = "q"
			pod.Spec.Containers = nil
			for i, r := range tt.containers {
				pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: fmt.Sprint(i), Resources: r})
			}
			if got := ComputePodQOS(pod); got != tt.want {
				t.Errorf("QoS = %s, want %s", got, tt.want)
			}
			if got := CgroupParent(pod); got != tt.wantCgroup {
				t.Errorf("cgroup parent = %s, want %s", got, tt.wantCgroup)
			}
		})
	}
}

func TestSandboxConfig(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name   string
		modify func(*corev1.Pod)
		check  func(t *testing.T, cfg *runtimeapi.PodSandboxConfig)
	}{
		{"hostname is the pod name", nil, func(t *testing.T, cfg *runtimeapi.PodSandboxConfig) {
			if cfg.Hostname != "sb" {
				t.Errorf("hostname = %q", cfg.Hostname)
			}
		}},
		{"spec.hostname wins", func(p *corev1.Pod) { p.Spec.Hostname = "other" }, func(t *testing.T, cfg *runtimeapi.PodSandboxConfig) {
			if cfg.Hostname != "other" {
				t.Errorf("hostname = %q", cfg.Hostname)
			}
		}},
		{"labels carry pod identity and pod labels; annotations are the pod's", func(p *corev1.Pod) {
			p.Annotations = map[string]string{"a": "b"}
		}, func(t *testing.T, cfg *runtimeapi.PodSandboxConfig) {
			want := map[string]string{"app": "sb", LabelPodName: "sb", LabelPodNamespace: "default", LabelPodUID: "sb-uid"}
			if !reflect.DeepEqual(cfg.Labels, want) {
				t.Errorf("labels = %v", cfg.Labels)
			}
			if cfg.Annotations["a"] != "b" {
				t.Errorf("annotations = %v", cfg.Annotations)
			}
		}},
		{"host ports become port mappings", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{
				{Name: "http", ContainerPort: 80, HostPort: 8080, Protocol: corev1.ProtocolTCP},
				{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
				{Name: "http", ContainerPort: 81, HostPort: 8081},
			}
		}, func(t *testing.T, cfg *runtimeapi.PodSandboxConfig) {
			if len(cfg.PortMappings) != 2 {
				t.Fatalf("port mappings = %v, want two (a repeated name is dropped)", cfg.PortMappings)
			}
			if pm := cfg.PortMappings[0]; pm.HostPort != 8080 || pm.ContainerPort != 80 || pm.Protocol != runtimeapi.Protocol_TCP {
				t.Errorf("first mapping = %v", pm)
			}
			if pm := cfg.PortMappings[1]; pm.Protocol != runtimeapi.Protocol_UDP || pm.HostPort != 0 {
				t.Errorf("second mapping = %v", pm)
			}
		}},
		{"host namespaces", func(p *corev1.Pod) {
			p.Spec.HostNetwork, p.Spec.HostPID, p.Spec.HostIPC = true, true, true
		}, func(t *testing.T, cfg *runtimeapi.PodSandboxConfig) {
			ns := cfg.Linux.SecurityContext.NamespaceOptions
			if ns.Network != runtimeapi.NamespaceMode_NODE || ns.Pid != runtimeapi.NamespaceMode_NODE || ns.Ipc != runtimeapi.NamespaceMode_NODE {
				t.Errorf("namespaces = %v", ns)
			}
			if cfg.Hostname != "" {
				t.Errorf("host network pod hostname = %q, want the node's", cfg.Hostname)
			}
		}},
		{"shared process namespace", func(p *corev1.Pod) { p.Spec.ShareProcessNamespace = ptr(true) }, func(t *testing.T, cfg *runtimeapi.PodSandboxConfig) {
			ns := cfg.Linux.SecurityContext.NamespaceOptions
			if ns.Pid != runtimeapi.NamespaceMode_POD || ns.Network != runtimeapi.NamespaceMode_POD || ns.Ipc != runtimeapi.NamespaceMode_POD {
				t.Errorf("namespaces = %v", ns)
			}
		}},
		{"default PID namespace is per container", nil, func(t *testing.T, cfg *runtimeapi.PodSandboxConfig) {
			if cfg.Linux.SecurityContext.NamespaceOptions.Pid != runtimeapi.NamespaceMode_CONTAINER {
				t.Errorf("pid = %v", cfg.Linux.SecurityContext.NamespaceOptions.Pid)
			}
		}},
		{"sysctls with slashes are written with dots", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
				{Name: "net/ipv4/ip_unprivileged_port_start", Value: "0"},
				{Name: "kernel.shm_rmid_forced", Value: "1"},
				{Name: "net.ipv4.conf.eth0/1.rp_filter", Value: "2"},
			}}
		}, func(t *testing.T, cfg *runtimeapi.PodSandboxConfig) {
			want := map[string]string{"net.ipv4.ip_unprivileged_port_start": "0", "kernel.shm_rmid_forced": "1", "net.ipv4.conf.eth0/1.rp_filter": "2"}
			if !reflect.DeepEqual(cfg.Linux.Sysctls, want) {
				t.Errorf("sysctls = %v", cfg.Linux.Sysctls)
			}
		}},
		{"pod security context and privileged containers", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr(int64(1000)), RunAsGroup: ptr(int64(3000)), FSGroup: ptr(int64(2000)), SupplementalGroups: []int64{5}}
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr(true)}
		}, func(t *testing.T, cfg *runtimeapi.PodSandboxConfig) {
			sc := cfg.Linux.SecurityContext
			if sc.RunAsUser.GetValue() != 1000 || sc.RunAsGroup.GetValue() != 3000 || !sc.Privileged {
				t.Errorf("security context = %v", sc)
			}
			if !reflect.DeepEqual(sc.SupplementalGroups, []int64{2000, 5}) {
				t.Errorf("supplemental groups = %v", sc.SupplementalGroups)
			}
		}},
		{"FQDN hostname when asked", func(p *corev1.Pod) {
			p.Spec.SetHostnameAsFQDN = ptr(true)
			p.Spec.Subdomain = "sub"
		}, func(t *testing.T, cfg *runtimeapi.PodSandboxConfig) {
			if cfg.Hostname != "sb.sub.default.svc.cluster.local" {
				t.Errorf("hostname = %q", cfg.Hostname)
			}
		}},
	}
	h.m.hostname = func(p *corev1.Pod) (string, string, error) {
		name := p.Name
		if p.Spec.Hostname != "" {
			name = p.Spec.Hostname
		}
		if p.Spec.Subdomain != "" {
			return name, p.Spec.Subdomain + "." + p.Namespace + ".svc.cluster.local", nil
		}
		return name, "", nil
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod("sb")
			if tt.modify != nil {
				tt.modify(pod)
			}
			cfg, err := h.m.SandboxConfig(pod, 3)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Metadata.Attempt != 3 {
				t.Errorf("attempt = %d", cfg.Metadata.Attempt)
			}
			tt.check(t, cfg)
		})
	}
}

func TestSandboxConfigFQDNTooLong(t *testing.T) {
	h := newHarness(t)
	h.m.hostname = func(*corev1.Pod) (string, string, error) {
		return strings.Repeat("h", 40), strings.Repeat("d", 30), nil
	}
	pod := testPod("long")
	pod.Spec.SetHostnameAsFQDN = ptr(true)
	if _, err := h.m.SandboxConfig(pod, 0); err == nil || !strings.Contains(err.Error(), "is too long (64 characters is the max, 71 characters requested)") {
		t.Errorf("err = %v", err)
	}
}

func TestContainerResources(t *testing.T) {
	tests := []struct {
		name               string
		r                  corev1.ResourceRequirements
		shares, quota, mem int64
	}{
		{"nothing: minimum shares, no quota", corev1.ResourceRequirements{}, 2, 0, 0},
		{"request sets shares", resources("250m", "", "", ""), 256, 0, 0},
		{"tiny request keeps minimum shares", resources("1m", "", "", ""), 2, 0, 0},
		{"limit sets quota and memory", resources("500m", "64Mi", "1500m", "128Mi"), 512, 150000, 128 << 20},
		{"limit without request sets shares", resources("", "", "2", ""), 2048, 200000, 0},
		{"tiny limit gets minimum quota", resources("1m", "", "1m", ""), 2, 1000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := containerResources(&corev1.Container{Resources: tt.r})
			if got.CpuShares != tt.shares || got.CpuQuota != tt.quota || got.MemoryLimitInBytes != tt.mem || got.CpuPeriod != 100000 {
				t.Errorf("got shares %d quota %d period %d memory %d; want %d %d 100000 %d",
					got.CpuShares, got.CpuQuota, got.CpuPeriod, got.MemoryLimitInBytes, tt.shares, tt.quota, tt.mem)
			}
			if got.OomScoreAdj != 0 {
				t.Errorf("oom_score_adj = %d, want it left to the runtime", got.OomScoreAdj)
			}
		})
	}
}

func TestContainerSecurityContext(t *testing.T) {
	h := newHarness(t)
	root := int64(0)
	tests := []struct {
		name  string
		pod   *corev1.PodSecurityContext
		c     *corev1.SecurityContext
		check func(t *testing.T, sc *runtimeapi.LinuxContainerSecurityContext)
	}{
		{"defaults: image user, masked paths, unconfined seccomp", nil, nil, func(t *testing.T, sc *runtimeapi.LinuxContainerSecurityContext) {
			if sc.RunAsUser.GetValue() != 0 || sc.NoNewPrivs || sc.Privileged || sc.ReadonlyRootfs {
				t.Errorf("sc = %v", sc)
			}
			if len(sc.MaskedPaths) == 0 || sc.MaskedPaths[0] != "/proc/asound" || len(sc.ReadonlyPaths) != 5 {
				t.Errorf("masked %v readonly %v", sc.MaskedPaths, sc.ReadonlyPaths)
			}
			if sc.Seccomp.ProfileType != runtimeapi.SecurityProfile_Unconfined {
				t.Errorf("seccomp = %v", sc.Seccomp)
			}
		}},
		{"container overrides pod user", &corev1.PodSecurityContext{RunAsUser: ptr(int64(1000)), RunAsGroup: ptr(int64(10))}, &corev1.SecurityContext{RunAsUser: ptr(int64(2000))}, func(t *testing.T, sc *runtimeapi.LinuxContainerSecurityContext) {
			if sc.RunAsUser.GetValue() != 2000 || sc.RunAsGroup.GetValue() != 10 {
				t.Errorf("user %v group %v", sc.RunAsUser, sc.RunAsGroup)
			}
		}},
		{"capabilities, privileged, read-only root, no_new_privs", nil, &corev1.SecurityContext{
			Capabilities:             &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}},
			Privileged:               ptr(true),
			ReadOnlyRootFilesystem:   ptr(true),
			AllowPrivilegeEscalation: ptr(false),
		}, func(t *testing.T, sc *runtimeapi.LinuxContainerSecurityContext) {
			if !reflect.DeepEqual(sc.Capabilities.AddCapabilities, []string{"NET_ADMIN"}) || !reflect.DeepEqual(sc.Capabilities.DropCapabilities, []string{"ALL"}) {
				t.Errorf("capabilities = %v", sc.Capabilities)
			}
			if !sc.Privileged || !sc.ReadonlyRootfs || !sc.NoNewPrivs {
				t.Errorf("sc = %v", sc)
			}
		}},
		{"escalation allowed explicitly keeps no_new_privs off", nil, &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(true)}, func(t *testing.T, sc *runtimeapi.LinuxContainerSecurityContext) {
			if sc.NoNewPrivs {
				t.Error("no_new_privs set")
			}
		}},
		{"unmasked proc", nil, &corev1.SecurityContext{ProcMount: ptr(corev1.UnmaskedProcMount)}, func(t *testing.T, sc *runtimeapi.LinuxContainerSecurityContext) {
			if len(sc.MaskedPaths) != 0 || len(sc.ReadonlyPaths) != 0 {
				t.Errorf("masked %v readonly %v", sc.MaskedPaths, sc.ReadonlyPaths)
			}
		}},
		{"pod seccomp RuntimeDefault, container Localhost", &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			&corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr("audit.json")}},
			func(t *testing.T, sc *runtimeapi.LinuxContainerSecurityContext) {
				if sc.Seccomp.ProfileType != runtimeapi.SecurityProfile_Localhost || sc.Seccomp.LocalhostRef != "/var/lib/kubelet/seccomp/audit.json" {
					t.Errorf("seccomp = %v", sc.Seccomp)
				}
			}},
		{"fsGroup and supplemental groups", &corev1.PodSecurityContext{FSGroup: ptr(int64(7)), SupplementalGroups: []int64{8}}, nil, func(t *testing.T, sc *runtimeapi.LinuxContainerSecurityContext) {
			if !reflect.DeepEqual(sc.SupplementalGroups, []int64{7, 8}) {
				t.Errorf("groups = %v", sc.SupplementalGroups)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod("sc")
			pod.Spec.SecurityContext = tt.pod
			pod.Spec.Containers[0].SecurityContext = tt.c
			sc, err := h.m.containerSecurityContext(pod, &pod.Spec.Containers[0], &root, "")
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, sc)
		})
	}
}

func TestVerifyRunAsNonRoot(t *testing.T) {
	uid := func(v int64) *int64 { return &v }
	tests := []struct {
		name     string
		pod      *corev1.PodSecurityContext
		c        *corev1.SecurityContext
		uid      *int64
		username string
		wantErr  string
	}{
		{"not asked", nil, nil, uid(0), "", ""},
		{"root image refused", &corev1.PodSecurityContext{RunAsNonRoot: ptr(true)}, nil, uid(0), "", "image will run as root"},
		{"non-root image accepted", &corev1.PodSecurityContext{RunAsNonRoot: ptr(true)}, nil, uid(1000), "", ""},
		{"named user refused", nil, &corev1.SecurityContext{RunAsNonRoot: ptr(true)}, nil, "nginx", "image has non-numeric user (nginx)"},
		{"runAsUser 0 refused", nil, &corev1.SecurityContext{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(0))}, uid(1000), "", "container's runAsUser breaks non-root policy"},
		{"runAsUser non-zero wins over a root image", nil, &corev1.SecurityContext{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(5))}, uid(0), "", ""},
		{"container may lift the pod's demand", &corev1.PodSecurityContext{RunAsNonRoot: ptr(true)}, &corev1.SecurityContext{RunAsNonRoot: ptr(false)}, uid(0), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod("nr")
			pod.Spec.SecurityContext = tt.pod
			pod.Spec.Containers[0].SecurityContext = tt.c
			err := verifyRunAsNonRoot(pod, &pod.Spec.Containers[0], tt.uid, tt.username)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestContainerConfigCarriesSpec(t *testing.T) {
	h := newHarness(t)
	h.m.mounts = &mounts{dir: t.TempDir()}
	h.m.env = env{vars: map[string]string{"TARGET": "world"}}
	pod := testPod("cfg")
	pod.Spec.TerminationGracePeriodSeconds = ptr(int64(45))
	pod.DeletionGracePeriodSeconds = ptr(int64(12))
	c := &pod.Spec.Containers[0]
	c.Command = []string{"/bin/echo"}
	c.Args = []string{"hello $(TARGET)", "$$(TARGET)"}
	c.WorkingDir = "/work"
	c.Stdin, c.StdinOnce, c.TTY = true, true, true
	c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}
	c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"stop"}}}}
	id := h.cri.AddImage(crifake.Image{RepoTags: []string{"busybox:1.36"}})
	cfg, err := h.m.ContainerConfig(context.Background(), pod, c, 4, id, []string{"10.244.0.9"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Metadata.Name != "app" || cfg.Metadata.Attempt != 4 || cfg.LogPath != "app/4.log" {
		t.Errorf("metadata %v log path %q", cfg.Metadata, cfg.LogPath)
	}
	if !reflect.DeepEqual(cfg.Args, []string{"hello world", "$(TARGET)"}) {
		t.Errorf("args = %q", cfg.Args)
	}
	if cfg.WorkingDir != "/work" || !cfg.Stdin || !cfg.StdinOnce || !cfg.Tty {
		t.Errorf("cfg = %v", cfg)
	}
	if len(cfg.Mounts) != 1 || cfg.Mounts[0].ContainerPath != "/dev/termination-log" {
		t.Errorf("mounts = %v", cfg.Mounts)
	}
	if hosts := h.m.mounts.(*mounts).etcHosts; len(hosts) != 1 || hosts[0][0] != "10.244.0.9" {
		t.Errorf("etc-hosts written with %v", hosts)
	}
	a := cfg.Annotations
	want := map[string]string{
		annotationRestartCount:              "4",
		annotationTerminationMessagePath:    "/dev/termination-log",
		annotationTerminationMessagePolicy:  "File",
		annotationPodTerminationGracePeriod: "45",
		annotationPodDeletionGracePeriod:    "12",
		annotationContainerType:             "container",
		annotationPreStopHandler:            `{"exec":{"command":["stop"]}}`,
		annotationContainerPorts:            `[{"name":"http","containerPort":80}]`,
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, a[k], v)
		}
	}
	info := containerInfoFromAnnotations(a)
	if info.Hash != HashContainer(c) || info.RestartCount != 4 || *info.PodTerminationGracePeriod != 45 ||
		info.PreStop == nil || info.PreStop.Exec.Command[0] != "stop" || info.Ports[0].ContainerPort != 80 {
		t.Errorf("annotations do not round-trip: %+v", info)
	}
	if _, err := os.Stat(filepath.Join(h.logs, "default_cfg_cfg-uid", "app")); err != nil {
		t.Errorf("container log directory: %v", err)
	}
}

func TestHashContainerCoversNameAndImageOnly(t *testing.T) {
	a := &corev1.Container{Name: "app", Image: "nginx:1"}
	b := &corev1.Container{Name: "app", Image: "nginx:1", Args: []string{"x"}, Env: []corev1.EnvVar{{Name: "A"}}}
	if HashContainer(a) != HashContainer(b) {
		t.Error("args and env changed the hash")
	}
	if HashContainer(a) == HashContainer(&corev1.Container{Name: "app", Image: "nginx:2"}) {
		t.Error("a new image kept the hash")
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	lookup := func(n string) string {
		if v, ok := vars[n]; ok {
			return v
		}
		return "$(" + n + ")"
	}
	tests := map[string]string{
		"$(A)":          "1",
		"x$(A)y$(B)z":   "x1ytwoz",
		"$$(A)":         "$(A)",
		"$(C)":          "$(C)",
		"$(A":           "$(A",
		"$A":            "$A",
		"trailing $":    "trailing $",
		"$$$(A)":        "$1",
		"no refs":       "no refs",
		"$(A)$(A)$(B)$": "11two$",
	}
	for in, want := range tests {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRestartCountFromLogs(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"0.log", "3.log", "2.log.20250101-000000", "notes.txt", "x.log"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := restartCountFromLogs(dir); got != 4 {
		t.Errorf("restart count = %d, want 4", got)
	}
	if got := restartCountFromLogs(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("missing dir: %d", got)
	}
}

func TestStartContainerAfterRuntimeLostStateContinuesLogNumbering(t *testing.T) {
	h := newHarness(t)
	pod := testPod("reboot")
	dir := filepath.Join(h.logs, "default_reboot_reboot-uid", "app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "5.log"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.sync(t, pod)
	if c := h.cri.PodContainers("reboot-uid", "app")[0]; c.Attempt != 6 {
		t.Errorf("attempt = %d, want 6 so that 5.log is not overwritten", c.Attempt)
	}
}

func TestPodStatusReadsTerminationMessages(t *testing.T) {
	tests := []struct {
		name     string
		policy   corev1.TerminationMessagePolicy
		file     string
		log      string
		exitCode int32
		want     string
	}{
		{"file is read", corev1.TerminationMessageReadFile, "all done", "", 0, "all done"},
		{"file wins over logs", corev1.TerminationMessageFallbackToLogsOnError, "from file", "2025-01-01T00:00:00Z stderr F from log\n", 1, "from file"},
		{"logs when the file is empty and it failed", corev1.TerminationMessageFallbackToLogsOnError, "", "2025-01-01T00:00:00Z stdout P part \n2025-01-01T00:00:00Z stdout F one\n2025-01-01T00:00:01Z stderr F two\n", 1, "part one\ntwo\n"},
		{"no logs on success", corev1.TerminationMessageFallbackToLogsOnError, "", "2025-01-01T00:00:00Z stdout F one\n", 0, ""},
		{"no logs under File", corev1.TerminationMessageReadFile, "", "2025-01-01T00:00:00Z stdout F one\n", 1, ""},
		{"long files keep their end", corev1.TerminationMessageReadFile, strings.Repeat("a", 5000) + "END", "", 1, strings.Repeat("a", 4093) + "END"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			mdir := t.TempDir()
			h.m.mounts = &mounts{dir: mdir}
			pod := testPod("msg")
			pod.Spec.Containers[0].TerminationMessagePolicy = tt.policy
			h.sync(t, pod)
			c := h.cri.PodContainers("msg-uid", "app")[0]
			if err := os.WriteFile(filepath.Join(mdir, "msg-uid-app"), []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.log != "" {
				if err := os.WriteFile(c.LogPath, []byte(tt.log), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.cri.ExitContainer(c.ID, tt.exitCode); err != nil {
				t.Fatal(err)
			}
			cs := h.status(t, pod).FindContainer("app")
			if cs.Message != tt.want {
				t.Errorf("message = %q, want %q", cs.Message, tt.want)
			}
		})
	}
}

func TestPodStatusReportsRuntimeState(t *testing.T) {
	h := newHarness(t)
	pod := testPod("st")
	h.sync(t, pod)
	ps := h.status(t, pod)
	if len(ps.IPs) != 1 || ps.IPs[0] != "10.244.0.2" {
		t.Errorf("IPs = %v", ps.IPs)
	}
	cs := ps.FindContainer("app")
	if cs == nil || cs.State != ContainerStateRunning || cs.Image != "docker.io/library/busybox:1.36" || !strings.HasPrefix(cs.ImageRef, "sha256:") || cs.StartedAt.IsZero() {
		t.Fatalf("container status = %+v", cs)
	}
	if err := h.cri.OOMKill(h.cri.PodContainers("st-uid", "app")[0].ID); err != nil {
		t.Fatal(err)
	}
	cs = h.status(t, pod).FindContainer("app")
	if cs.State != ContainerStateExited || cs.Reason != "OOMKilled" || cs.ExitCode != 137 || cs.FinishedAt.IsZero() {
		t.Errorf("after OOM kill: %+v", cs)
	}
	h.cri.SetError("ListContainers", errors.New("runtime down"))
	if _, err := h.m.PodStatus(context.Background(), pod.UID, pod.Name, pod.Namespace); err == nil || !strings.Contains(err.Error(), "runtime down") {
		t.Errorf("a runtime failure is an error: %v", err)
	}
}

func TestListPodsGroupsByUID(t *testing.T) {
	h := newHarness(t)
	h.sync(t, testPod("a"))
	h.sync(t, testPod("b"))
	pods, err := h.m.ListPods(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 2 || len(pods["a-uid"].Sandboxes) != 1 || len(pods["a-uid"].Containers) != 1 || pods["b-uid"].Name != "b" {
		t.Errorf("pods = %+v", pods)
	}
	if c := pods["a-uid"].Containers[0]; c.Name != "app" || c.State != "CONTAINER_RUNNING" {
		t.Errorf("container = %+v", c)
	}
}
