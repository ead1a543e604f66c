package volume

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// setUpFullPod gives a pod every kind of file this package writes.
func setUpFullPod(t *testing.T, env *testEnv, uid types.UID) *corev1.Pod {
	t.Helper()
	pod := tokenPod(corev1.ServiceAccountTokenProjection{Path: "token"})
	pod.UID = uid
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data", SubPath: "sub"}}
	if err := env.m.SetUp(context.Background(), pod); err != nil {
		t.Fatalf("SetUp: %v", err)
	}
	if err := env.m.WriteEtcHosts(pod, []string{"10.244.1.5"}); err != nil {
		t.Fatalf("WriteEtcHosts: %v", err)
	}
	if _, err := env.m.Mounts(pod, &pod.Spec.Containers[0]); err != nil {
		t.Fatalf("Mounts: %v", err)
	}
	return pod
}

func (env *testEnv) cachedTokenPods() map[types.UID]bool {
	env.m.tokens.mu.Lock()
	defer env.m.tokens.mu.Unlock()
	pods := map[types.UID]bool{}
	for k := range env.m.tokens.entries {
		pods[k.pod] = true
	}
	return pods
}

func TestTearDownRemovesOnlyThatPod(t *testing.T) {
	env := newTestEnv(t)
	gone := setUpFullPod(t, env, "uid-gone")
	kept := setUpFullPod(t, env, "uid-kept")

	if err := env.m.TearDown(context.Background(), gone.UID); err != nil {
		t.Fatalf("TearDown: %v", err)
	}
	if _, err := os.Stat(env.m.PodDir(gone.UID)); !isNotExist(err) {
		t.Errorf("pod directory still there (err %v)", err)
	}
	if _, err := os.Stat(filepath.Join(env.m.PodDir(kept.UID), "volumes", projectedPlugin, "token", "token")); err != nil {
		t.Errorf("other pod's volume damaged: %v", err)
	}
	if cached := env.cachedTokenPods(); cached[gone.UID] || !cached[kept.UID] {
		t.Errorf("token cache holds pods %v, want only %s", cached, kept.UID)
	}
	// Tearing down twice is harmless.
	if err := env.m.TearDown(context.Background(), gone.UID); err != nil {
		t.Errorf("second TearDown: %v", err)
	}
}

func TestTearDownRefusesToDeleteThroughAMount(t *testing.T) {
	env := newTestEnv(t)
	pod := setUpFullPod(t, env, "uid-mounted")
	mounted := filepath.Join(env.m.PodDir(pod.UID), "volumes", emptyDirPlugin, "data")
	env.m.mountPoints = func() ([]string, error) { return []string{"/", mounted}, nil }

	err := env.m.TearDown(context.Background(), pod.UID)
	wantErrorContaining(t, err, mounted+" is still mounted")
	if _, err := os.Stat(mounted); err != nil {
		t.Errorf("mounted directory was touched: %v", err)
	}
}

func TestTearDownRefusesUIDsThatAreNotOneDirectory(t *testing.T) {
	env := newTestEnv(t)
	for _, uid := range []types.UID{"", "..", "../pods", "a/b"} {
		if err := env.m.TearDown(context.Background(), uid); err == nil || !strings.Contains(err.Error(), "invalid pod UID") {
			t.Errorf("TearDown(%q) = %v, want an invalid UID error", uid, err)
		}
	}
	if _, err := os.Stat(env.root); err != nil {
		t.Errorf("root directory damaged: %v", err)
	}
}

func TestCleanupRemovesPodsNoLongerRunning(t *testing.T) {
	env := newTestEnv(t)
	keep := setUpFullPod(t, env, "uid-keep")
	orphan := setUpFullPod(t, env, "uid-orphan")
	// A file beside the pod directories is not a pod.
	stray := filepath.Join(env.root, "pods", "README")
	if err := os.WriteFile(stray, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	if err := env.m.Cleanup(context.Background(), map[types.UID]bool{keep.UID: true}); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if _, err := os.Stat(env.m.PodDir(orphan.UID)); !isNotExist(err) {
		t.Errorf("orphaned pod directory still there (err %v)", err)
	}
	for _, p := range []string{env.m.PodDir(keep.UID), stray} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	if cached := env.cachedTokenPods(); cached[orphan.UID] || !cached[keep.UID] {
		t.Errorf("token cache holds pods %v, want only %s", cached, keep.UID)
	}
}

func TestCleanupWithoutPodsDirectory(t *testing.T) {
	env := newTestEnv(t)
	if err := env.m.Cleanup(context.Background(), nil); err != nil {
		t.Errorf("Cleanup on a fresh node: %v", err)
	}
}

func TestParseMountPoints(t *testing.T) {
	in := "22 1 0:21 / / rw,relatime - overlay overlay rw\n" +
		"36 22 98:0 / /var/lib/kubelet/pods/a/volumes/with\\040space rw shared:1 - ext4 /dev/sda rw\n"
	got, err := parseMountPoints(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/", "/var/lib/kubelet/pods/a/volumes/with space"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("mount points = %q, want %q", got, want)
	}
	if _, err := parseMountPoints(strings.NewReader("1 2 3\n")); err == nil {
		t.Errorf("a malformed line was accepted")
	}
}
