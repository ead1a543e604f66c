package volume

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// mountsPod has one volume of each kind that Mounts treats differently.
func mountsPod(hostDir string) *corev1.Pod {
	pod := testPod(
		corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		corev1.Volume{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}},
	)
	pod.Spec.Containers[0].Env = []corev1.EnvVar{
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "SHARD", Value: "s1"},
	}
	return pod
}

func TestMountsTranslateVolumeMounts(t *testing.T) {
	hostDir := t.TempDir()
	if err := os.Chmod(hostDir, 0o750); err != nil {
		t.Fatal(err)
	}
	propagation := func(m corev1.MountPropagationMode) *corev1.MountPropagationMode { return &m }
	tests := []struct {
		name  string
		mount corev1.VolumeMount
		// hostPath is relative to the pod's directory unless it starts with
		// "host:", which makes it relative to the hostPath volume.
		hostPath    string
		readOnly    bool
		propagation runtimeapi.MountPropagation
		// wantDirMode is the mode of a subPath directory Mounts creates.
		wantDirMode     os.FileMode
		wantFileContent string
	}{
		{
			name:     "an emptyDir mount is private and writable",
			mount:    corev1.VolumeMount{Name: "data", MountPath: "/data"},
			hostPath: "volumes/kubernetes.io~empty-dir/data",
		},
		{
			name:     "readOnly is passed on",
			mount:    corev1.VolumeMount{Name: "data", MountPath: "/data", ReadOnly: true},
			hostPath: "volumes/kubernetes.io~empty-dir/data", readOnly: true,
		},
		{
			name:     "a configMap is read-only whatever the mount says",
			mount:    corev1.VolumeMount{Name: "cfg", MountPath: "/etc/cfg"},
			hostPath: "volumes/kubernetes.io~configmap/cfg", readOnly: true,
		},
		{
			name:     "None propagation is private",
			mount:    corev1.VolumeMount{Name: "host", MountPath: "/host", MountPropagation: propagation(corev1.MountPropagationNone)},
			hostPath: "host:",
		},
		{
			name:     "HostToContainer propagation",
			mount:    corev1.VolumeMount{Name: "host", MountPath: "/host", MountPropagation: propagation(corev1.MountPropagationHostToContainer)},
			hostPath: "host:", propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER,
		},
		{
			name:     "Bidirectional propagation",
			mount:    corev1.VolumeMount{Name: "host", MountPath: "/host", MountPropagation: propagation(corev1.MountPropagationBidirectional)},
			hostPath: "host:", propagation: runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL,
		},
		{
			name:     "a missing subPath of an emptyDir is created with the volume's mode",
			mount:    corev1.VolumeMount{Name: "data", MountPath: "/logs", SubPath: "logs/app"},
			hostPath: "volumes/kubernetes.io~empty-dir/data/logs/app", wantDirMode: 0o777,
		},
		{
			name:     "a missing subPath of a hostPath is created inside it",
			mount:    corev1.VolumeMount{Name: "host", MountPath: "/x", SubPath: "x"},
			hostPath: "host:x", wantDirMode: 0o750,
		},
		{
			name:     "subPathExpr expands the container's variables",
			mount:    corev1.VolumeMount{Name: "data", MountPath: "/own", SubPathExpr: "$(SHARD)/$(POD_NAME)"},
			hostPath: "volumes/kubernetes.io~empty-dir/data/s1/web", wantDirMode: 0o777,
		},
		{
			name:            "a subPath naming a configMap key is the file of the current version",
			mount:           corev1.VolumeMount{Name: "cfg", MountPath: "/etc/a.conf", SubPath: "a"},
			readOnly:        true,
			wantFileContent: "1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, configMap("cfg", map[string]string{"a": "1"}))
			pod := mountsPod(hostDir)
			pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{tt.mount}
			if err := env.m.SetUp(context.Background(), pod); err != nil {
				t.Fatalf("SetUp: %v", err)
			}
			mounts, err := env.m.Mounts(pod, &pod.Spec.Containers[0])
			if err != nil {
				t.Fatalf("Mounts: %v", err)
			}
			if len(mounts) != 2 {
				t.Fatalf("got %d mounts, want the volume and the termination log", len(mounts))
			}
			got := mounts[0]
			if got.ContainerPath != tt.mount.MountPath || got.Readonly != tt.readOnly || got.Propagation != tt.propagation {
				t.Errorf("mount = %v, want container path %s, readonly %v, propagation %v", got, tt.mount.MountPath, tt.readOnly, tt.propagation)
			}
			if tt.wantFileContent != "" {
				if !strings.Contains(got.HostPath, "/..2026_") {
					t.Errorf("host path %s is not inside the data directory", got.HostPath)
				}
				if c := readFile(t, got.HostPath); c != tt.wantFileContent {
					t.Errorf("host file holds %q, want %q", c, tt.wantFileContent)
				}
				return
			}
			want := filepath.Join(env.m.PodDir(pod.UID), tt.hostPath)
			if rest, ok := strings.CutPrefix(tt.hostPath, "host:"); ok {
				want = filepath.Join(hostDir, rest)
			}
			if got.HostPath != want {
				t.Errorf("host path = %s, want %s", got.HostPath, want)
			}
			if tt.wantDirMode != 0 {
				if mode := fileMode(t, want); mode != tt.wantDirMode {
					t.Errorf("subPath directory mode = %v, want its volume's %v", mode, tt.wantDirMode)
				}
			}
		})
	}
}

func TestMountsRefuseBadVolumeMounts(t *testing.T) {
	outside := t.TempDir()
	tests := []struct {
		name    string
		mount   corev1.VolumeMount
		prepare func(t *testing.T, volumeDir string)
		wantErr string
	}{
		{
			name:    "unknown volume",
			mount:   corev1.VolumeMount{Name: "nope", MountPath: "/x"},
			wantErr: `cannot find volume "nope" to mount into container "app"`,
		},
		{
			name:    "subPath climbing out",
			mount:   corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "a/../../etc"},
			wantErr: "unable to provision SubPath `a/../../etc`: must not contain '..'",
		},
		{
			name:    "absolute subPath",
			mount:   corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "/etc"},
			wantErr: "error SubPath `/etc` must not be an absolute path",
		},
		{
			name:  "subPath through a symlink out of the volume",
			mount: corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "escape"},
			prepare: func(t *testing.T, volumeDir string) {
				if err := os.Symlink(outside, filepath.Join(volumeDir, "escape")); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: `failed to prepare subPath for volumeMount "data" of container "app"`,
		},
		{
			name:  "missing subPath below a symlink out of the volume",
			mount: corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "escape/new"},
			prepare: func(t *testing.T, volumeDir string) {
				if err := os.Symlink(outside, filepath.Join(volumeDir, "escape")); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: `failed to create subPath directory for volumeMount "data" of container "app"`,
		},
		{
			name:    "subPathExpr with an unset variable",
			mount:   corev1.VolumeMount{Name: "data", MountPath: "/x", SubPathExpr: "$(POD_NAME)/$(NOPE)"},
			wantErr: "missing value for NOPE",
		},
		{
			name:    "invalid propagation",
			mount:   corev1.VolumeMount{Name: "data", MountPath: "/x", MountPropagation: ptr(corev1.MountPropagationMode("Sideways"))},
			wantErr: `invalid MountPropagation mode: "Sideways"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, configMap("cfg", map[string]string{"a": "1"}))
			pod := mountsPod(t.TempDir())
			if err := env.m.SetUp(context.Background(), pod); err != nil {
				t.Fatalf("SetUp: %v", err)
			}
			if tt.prepare != nil {
				tt.prepare(t, env.volumePath(pod, emptyDirPlugin, "data"))
			}
			pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{tt.mount}
			_, err := env.m.Mounts(pod, &pod.Spec.Containers[0])
			wantError(t, err, tt.wantErr)
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Errorf("something was created outside the volume: %v", entries)
			}
		})
	}
}

func TestMountsBeforeSetUpFindNoVolume(t *testing.T) {
	env := newTestEnv(t)
	pod := testPod(corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	_, err := env.m.Mounts(pod, &pod.Spec.Containers[0])
	wantError(t, err, `cannot find volume "data" to mount into container "app"`)
}

func TestMountsAddEtcHostsAndTerminationLog(t *testing.T) {
	tests := []struct {
		name            string
		podIPs          []string
		ownEtcHosts     bool
		messagePath     string
		wantEtcHosts    bool
		wantMessagePath string
	}{
		{name: "pod with an IP gets /etc/hosts and the default termination log", podIPs: []string{"10.244.1.5"}, wantEtcHosts: true, wantMessagePath: "/dev/termination-log"},
		{name: "pod without an IP yet gets no /etc/hosts", wantMessagePath: "/dev/termination-log"},
		{name: "a container mounting its own /etc/hosts keeps it", podIPs: []string{"10.244.1.5"}, ownEtcHosts: true, wantMessagePath: "/dev/termination-log"},
		{name: "a custom termination message path", podIPs: []string{"10.244.1.5"}, messagePath: "/tmp/msg", wantEtcHosts: true, wantMessagePath: "/tmp/msg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t)
			pod := testPod(corev1.Volume{Name: "hosts", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			c := &pod.Spec.Containers[0]
			c.TerminationMessagePath = tt.messagePath
			if tt.ownEtcHosts {
				c.VolumeMounts = []corev1.VolumeMount{{Name: "hosts", MountPath: "/etc/hosts", SubPath: "hosts"}}
			}
			if err := env.m.SetUp(context.Background(), pod); err != nil {
				t.Fatalf("SetUp: %v", err)
			}
			if err := env.m.WriteEtcHosts(pod, tt.podIPs); err != nil {
				t.Fatalf("WriteEtcHosts: %v", err)
			}
			mounts, err := env.m.Mounts(pod, c)
			if err != nil {
				t.Fatalf("Mounts: %v", err)
			}
			var etcHosts []*runtimeapi.Mount
			for _, m := range mounts {
				if m.ContainerPath == "/etc/hosts" && m.HostPath == filepath.Join(env.m.PodDir(pod.UID), "etc-hosts") {
					etcHosts = append(etcHosts, m)
				}
			}
			if got := len(etcHosts) == 1; got != tt.wantEtcHosts {
				t.Errorf("managed /etc/hosts mounted: %v, want %v (mounts %v)", got, tt.wantEtcHosts, mounts)
			}

			last := mounts[len(mounts)-1]
			if last.ContainerPath != tt.wantMessagePath {
				t.Fatalf("last mount = %v, want the termination log at %s", last, tt.wantMessagePath)
			}
			dir := filepath.Join(env.m.PodDir(pod.UID), "containers", "app")
			if filepath.Dir(last.HostPath) != dir || !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(filepath.Base(last.HostPath)) {
				t.Errorf("termination log at %s, want %s/<8 hex digits>", last.HostPath, dir)
			}
			if mode := fileMode(t, last.HostPath); mode != 0o666 {
				t.Errorf("termination log mode = %v, want 0666", mode)
			}
		})
	}
}

func TestEveryContainerStartGetsItsOwnTerminationLog(t *testing.T) {
	env := newTestEnv(t)
	pod := testPod()
	ids := []string{"00000001", "00000002"}
	env.m.randomID = func() string { id := ids[0]; ids = ids[1:]; return id }
	var paths []string
	for range 2 {
		mounts, err := env.m.Mounts(pod, &pod.Spec.Containers[0])
		if err != nil {
			t.Fatalf("Mounts: %v", err)
		}
		paths = append(paths, mounts[len(mounts)-1].HostPath)
	}
	if paths[0] == paths[1] {
		t.Errorf("two container starts share termination log %s", paths[0])
	}
}
