package volume

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type wantFile struct {
	content string
	mode    os.FileMode
}

func TestSetUpProjectsFilesOfEachVolumeType(t *testing.T) {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1"},
		Status:     corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: mustQuantity("4")}},
	}
	cfg := configMap("cfg", map[string]string{"a": "1", "b": "2"})
	cfg.BinaryData = map[string][]byte{"bin": {0, 1, 2}}
	rootCA := configMap("kube-root-ca.crt", map[string]string{"ca.crt": "CA"})
	creds := secret("creds", map[string]string{"tls.key": "KEY", "tls.crt": "CRT"})

	tests := []struct {
		name   string
		volume corev1.Volume
		plugin string
		want   map[string]wantFile
		absent []string
	}{
		{
			name:   "configMap projects every key, binaryData included, at mode 0644",
			volume: corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
			plugin: configMapPlugin,
			want:   map[string]wantFile{"a": {"1", 0o644}, "b": {"2", 0o644}, "bin": {"\x00\x01\x02", 0o644}},
		},
		{
			name: "configMap items choose keys, paths and per-item modes over defaultMode",
			volume: corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
				DefaultMode:          ptr[int32](0o640),
				Items: []corev1.KeyToPath{
					{Key: "a", Path: "conf/deep/a.txt", Mode: ptr[int32](0o400)},
					{Key: "bin", Path: "bin.dat"},
				},
			}}},
			plugin: configMapPlugin,
			want:   map[string]wantFile{"conf/deep/a.txt": {"1", 0o400}, "bin.dat": {"\x00\x01\x02", 0o640}},
			absent: []string{"a", "b"},
		},
		{
			name:   "secret honours defaultMode",
			volume: corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds", DefaultMode: ptr[int32](0o600)}}},
			plugin: secretPlugin,
			want:   map[string]wantFile{"tls.key": {"KEY", 0o600}, "tls.crt": {"CRT", 0o600}},
		},
		{
			name: "secret items with per-item mode fall back to 0644",
			volume: corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: "creds",
				Items:      []corev1.KeyToPath{{Key: "tls.key", Path: "key", Mode: ptr[int32](0o400)}, {Key: "tls.crt", Path: "crt"}},
			}}},
			plugin: secretPlugin,
			want:   map[string]wantFile{"key": {"KEY", 0o400}, "crt": {"CRT", 0o644}},
			absent: []string{"tls.key"},
		},
		{
			name: "downwardAPI writes the pod's metadata in upstream's formats",
			volume: corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}},
				{Path: "uid", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.uid"}},
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
				{Path: "annotations", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations"}, Mode: ptr[int32](0o600)},
				{Path: "app", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}},
			}}}},
			plugin: downwardAPIPlugin,
			want: map[string]wantFile{
				"name":        {"web", 0o644},
				"namespace":   {"default", 0o644},
				"uid":         {"0b7c9a2e-uid", 0o644},
				"labels":      {"app=\"web\"\ntier=\"front\"", 0o644},
				"annotations": {`note="hi \"there\""`, 0o600},
				"app":         {"web", 0o644},
			},
		},
		{
			name: "downwardAPI resources use the divisor and the node's allocatable for unset limits",
			volume: corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.memory", Divisor: mustQuantity("1Mi")}},
				{Path: "cpu-limit", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.cpu"}},
				{Path: "cpu-request", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "requests.cpu", Divisor: mustQuantity("1m")}},
				{Path: "cpu-request-cores", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "requests.cpu"}},
			}}}},
			plugin: downwardAPIPlugin,
			want: map[string]wantFile{
				"mem": {"128", 0o644}, "cpu-limit": {"4", 0o644}, "cpu-request": {"250", 0o644}, "cpu-request-cores": {"1", 0o644},
			},
		},
		{
			name: "projected merges a token, a configMap and the downward API like kube-api-access",
			volume: corev1.Volume{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				DefaultMode: ptr[int32](0o644),
				Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr[int64](3607)}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
					{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Items: []corev1.KeyToPath{{Key: "tls.crt", Path: "certs/tls.crt", Mode: ptr[int32](0o444)}}}},
				},
			}}},
			plugin: projectedPlugin,
			want: map[string]wantFile{
				"token": {"token-1", 0o644}, "ca.crt": {"CA", 0o644}, "namespace": {"default", 0o644}, "certs/tls.crt": {"CRT", 0o444},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, node, cfg, rootCA, creds)
			pod := testPod(tt.volume)
			if err := env.m.SetUp(context.Background(), pod); err != nil {
				t.Fatalf("SetUp: %v", err)
			}
			dir := env.volumePath(pod, tt.plugin, tt.volume.Name)
			for name, want := range tt.want {
				p := filepath.Join(dir, name)
				if got := readFile(t, p); got != want.content {
					t.Errorf("%s = %q, want %q", name, got, want.content)
				}
				if got := fileMode(t, p); got != want.mode {
					t.Errorf("%s mode = %v, want %v", name, got, want.mode)
				}
			}
			for _, name := range tt.absent {
				if _, err := os.Lstat(filepath.Join(dir, name)); !isNotExist(err) {
					t.Errorf("%s exists (err %v), want absent", name, err)
				}
			}
			if got := fileMode(t, dir); got != 0o777 {
				t.Errorf("volume directory mode = %v, want 0777", got)
			}
		})
	}
}

func TestSetUpLaysFilesOutLikeUpstreamsAtomicWriter(t *testing.T) {
	env := newTestEnv(t, configMap("cfg", map[string]string{"a": "1"}))
	pod := testPod(corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
		Items:                []corev1.KeyToPath{{Key: "a", Path: "a"}, {Key: "a", Path: "sub/dir/a"}},
	}}})
	if err := env.m.SetUp(context.Background(), pod); err != nil {
		t.Fatalf("SetUp: %v", err)
	}
	dir := env.volumePath(pod, configMapPlugin, "v")

	target := dataTarget(t, dir)
	if !strings.HasPrefix(target, "..2026_03_01_12_00_00.") {
		t.Errorf("..data -> %q, want a timestamped directory named after the clock", target)
	}
	if got := fileMode(t, filepath.Join(dir, target)); got != 0o755 {
		t.Errorf("timestamped directory mode = %v, want 0755", got)
	}
	for name, want := range map[string]string{"a": "..data/a", "sub": "..data/sub"} {
		got, err := os.Readlink(filepath.Join(dir, name))
		if err != nil || got != want {
			t.Errorf("%s -> %q (%v), want a symlink to %q", name, got, err, want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 { // ..data, the timestamped directory, a, sub
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("volume holds %v, want ..data, one data directory, a and sub", names)
	}
}

func TestSetUpEmptyDirIsAWritableDirectory(t *testing.T) {
	for _, medium := range []corev1.StorageMedium{corev1.StorageMediumDefault, corev1.StorageMediumMemory} {
		t.Run("medium "+string(medium), func(t *testing.T) {
			env := newTestEnv(t)
			pod := testPod(corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: medium, SizeLimit: ptr(mustQuantity("1Mi"))}}})
			ctx := context.Background()
			if err := env.m.SetUp(ctx, pod); err != nil {
				t.Fatalf("SetUp: %v", err)
			}
			dir := env.volumePath(pod, emptyDirPlugin, "scratch")
			if got := fileMode(t, dir); got != 0o777 {
				t.Errorf("mode = %v, want 0777", got)
			}
			// What the pod wrote survives the next sync.
			if err := os.WriteFile(filepath.Join(dir, "state"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := env.m.SetUp(ctx, pod); err != nil {
				t.Fatalf("second SetUp: %v", err)
			}
			if got := readFile(t, filepath.Join(dir, "state")); got != "x" {
				t.Errorf("pod's file = %q after resync, want it kept", got)
			}
		})
	}
}

// testGID is a group the test process may give files to.
func testGID() int64 {
	if os.Geteuid() == 0 {
		return 4321
	}
	return int64(os.Getgid())
}

func TestSetUpAppliesFSGroup(t *testing.T) {
	gid := testGID()
	env := newTestEnv(t, configMap("cfg", map[string]string{"a": "1"}))
	pod := testPod(
		corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		corev1.Volume{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		corev1.Volume{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
		}}}},
	)
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: &gid}
	if err := env.m.SetUp(context.Background(), pod); err != nil {
		t.Fatalf("SetUp: %v", err)
	}
	cfgDir := env.volumePath(pod, configMapPlugin, "cfg")
	tests := []struct {
		path string
		mode os.FileMode
	}{
		{env.volumePath(pod, emptyDirPlugin, "scratch"), 0o777 | os.ModeSetgid},
		{cfgDir, 0o777 | os.ModeSetgid},
		{filepath.Join(cfgDir, dataTarget(t, cfgDir)), 0o755 | os.ModeSetgid},
		{filepath.Join(cfgDir, "a"), 0o644},
		// 0600 for a token with an fsGroup, which the group then may read.
		{filepath.Join(env.volumePath(pod, projectedPlugin, "token"), "token"), 0o640},
	}
	for _, tt := range tests {
		if got := fileMode(t, tt.path); got != tt.mode {
			t.Errorf("%s mode = %v, want %v", tt.path, got, tt.mode)
		}
		if got := fileGID(t, tt.path); got != gid {
			t.Errorf("%s group = %d, want fsGroup %d", tt.path, got, gid)
		}
	}
}

func TestSetUpReportsMissingSourcesUnlessOptional(t *testing.T) {
	cfg := configMap("cfg", map[string]string{"a": "1"})
	creds := secret("creds", map[string]string{"k": "v"})
	cmVolume := func(name string, optional bool, items ...corev1.KeyToPath) corev1.Volume {
		return corev1.Volume{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Optional: &optional, Items: items,
		}}}
	}
	secretVolume := func(name string, optional bool, items ...corev1.KeyToPath) corev1.Volume {
		return corev1.Volume{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: name, Optional: &optional, Items: items,
		}}}
	}
	tests := []struct {
		name    string
		volume  corev1.Volume
		wantErr string
	}{
		{"required configMap that does not exist", cmVolume("x", false), `MountVolume.SetUp failed for volume "cfg" : configmap "x" not found`},
		{"optional configMap that does not exist", cmVolume("x", true), ""},
		{"required secret that does not exist", secretVolume("s", false), `MountVolume.SetUp failed for volume "creds" : secret "s" not found`},
		{"optional secret that does not exist", secretVolume("s", true), ""},
		{"required configMap key that does not exist", cmVolume("cfg", false, corev1.KeyToPath{Key: "nope", Path: "p"}), `MountVolume.SetUp failed for volume "cfg" : configmap references non-existent config key: nope`},
		{"optional configMap key that does not exist", cmVolume("cfg", true, corev1.KeyToPath{Key: "nope", Path: "p"}), ""},
		{"required secret key that does not exist", secretVolume("creds", false, corev1.KeyToPath{Key: "nope", Path: "p"}), `MountVolume.SetUp failed for volume "creds" : references non-existent secret key: nope`},
		{
			"projected sources that fail are all reported",
			corev1.Volume{Name: "all", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: ptr(true)}},
			}}}},
			`MountVolume.SetUp failed for volume "all" : [configmap "x" not found, secret "s" not found]`,
		},
		{
			"clusterTrustBundle projections are refused by name",
			corev1.Volume{Name: "bundle", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Name: ptr("b"), Path: "b.pem"}},
			}}}},
			`MountVolume.SetUp failed for volume "bundle" : clusterTrustBundle projections are not supported by this kubelet`,
		},
		{
			"unsupported volume types are refused by name",
			corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}}},
			`MountVolume.SetUp failed for volume "data" : volume type persistentVolumeClaim is not supported by this kubelet`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, cfg, creds)
			pod := testPod(tt.volume)
			err := env.m.SetUp(context.Background(), pod)
			wantError(t, err, tt.wantErr)
			if err != nil {
				var me *MountError
				if !errors.As(err, &me) || me.Volume != tt.volume.Name {
					t.Fatalf("error %v is not a *MountError for volume %q", err, tt.volume.Name)
				}
				return
			}
			// An optional source that is missing still gives the container
			// its (empty) volume.
			plugin := configMapPlugin
			if tt.volume.Secret != nil {
				plugin = secretPlugin
			}
			dir := env.volumePath(pod, plugin, tt.volume.Name)
			if _, err := os.Lstat(filepath.Join(dir, dataDirName)); err != nil {
				t.Errorf("optional volume has no ..data: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(dir, "p")); !isNotExist(err) {
				t.Errorf("missing optional key was projected (err %v)", err)
			}
		})
	}
}

func TestSetUpReportsEveryFailedVolumeAndSetsUpTheRest(t *testing.T) {
	env := newTestEnv(t)
	pod := testPod(
		corev1.Volume{Name: "one", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}}},
		corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		corev1.Volume{Name: "two", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "y"}}},
	)
	err := env.m.SetUp(context.Background(), pod)
	got := MountErrors(err)
	if len(got) != 2 || got[0].Volume != "one" || got[1].Volume != "two" {
		t.Fatalf("MountErrors = %v, want volumes one and two", got)
	}
	if want := `MountVolume.SetUp failed for volume "two" : secret "y" not found`; got[1].Error() != want {
		t.Errorf("second error = %q, want %q", got[1].Error(), want)
	}
	if _, err := os.Stat(env.volumePath(pod, emptyDirPlugin, "scratch")); err != nil {
		t.Errorf("the healthy volume was not set up: %v", err)
	}
	if MountErrors(nil) != nil {
		t.Errorf("MountErrors(nil) is not empty")
	}
}

func TestConfigMapUpdateReachesFilesOnNextSetUp(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, configMap("cfg", map[string]string{"a": "1", "b": "2"}))
	pod := testPod(corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}})
	if err := env.m.SetUp(ctx, pod); err != nil {
		t.Fatalf("SetUp: %v", err)
	}
	dir := env.volumePath(pod, configMapPlugin, "v")
	first := dataTarget(t, dir)

	if err := env.m.SetUp(ctx, pod); err != nil {
		t.Fatalf("resync: %v", err)
	}
	if got := dataTarget(t, dir); got != first {
		t.Errorf("an unchanged configMap was rewritten: ..data %s -> %s", first, got)
	}

	if _, err := env.client.CoreV1().ConfigMaps("default").Update(ctx, configMap("cfg", map[string]string{"a": "changed", "c": "3"}), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.m.SetUp(ctx, pod); err != nil {
		t.Fatalf("SetUp after update: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, "a")); got != "changed" {
		t.Errorf("a = %q, want the updated value", got)
	}
	if got := readFile(t, filepath.Join(dir, "c")); got != "3" {
		t.Errorf("c = %q, want the added key", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "b")); !isNotExist(err) {
		t.Errorf("deleted key b still visible (err %v)", err)
	}
	second := dataTarget(t, dir)
	if second == first {
		t.Fatalf("..data still points to %s after an update", first)
	}
	for _, gone := range []string{first, newDataDirName} {
		if _, err := os.Lstat(filepath.Join(dir, gone)); !isNotExist(err) {
			t.Errorf("%s left behind after the update (err %v)", gone, err)
		}
	}
}

func TestDownwardAPILabelsFollowThePod(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	pod := testPod(corev1.Volume{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
		{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
		{Path: "annotations", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations"}},
	}}}})
	if err := env.m.SetUp(ctx, pod); err != nil {
		t.Fatalf("SetUp: %v", err)
	}
	updated := pod.DeepCopy()
	updated.Labels = map[string]string{"app": "web", "version": "v2"}
	updated.Annotations = nil
	if err := env.m.SetUp(ctx, updated); err != nil {
		t.Fatalf("SetUp after relabel: %v", err)
	}
	dir := env.volumePath(pod, downwardAPIPlugin, "info")
	if got, want := readFile(t, filepath.Join(dir, "labels")), "app=\"web\"\nversion=\"v2\""; got != want {
		t.Errorf("labels = %q, want %q", got, want)
	}
	if got := readFile(t, filepath.Join(dir, "annotations")); got != "" {
		t.Errorf("annotations = %q, want empty", got)
	}
}

func TestDownwardAPIRejectsWhatUpstreamRejects(t *testing.T) {
	tests := []struct {
		name    string
		item    corev1.DownwardAPIVolumeFile
		wantErr string
	}{
		{"field outside metadata", corev1.DownwardAPIVolumeFile{Path: "p", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}, "unsupported fieldPath: spec.nodeName"},
		{"unknown container", corev1.DownwardAPIVolumeFile{Path: "p", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "nope", Resource: "limits.cpu"}}, "container nope not found"},
		{"unknown resource", corev1.DownwardAPIVolumeFile{Path: "p", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.gpu"}}, "unsupported container resource : limits.gpu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t)
			pod := testPod(corev1.Volume{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{tt.item}}}})
			wantError(t, env.m.SetUp(context.Background(), pod), `MountVolume.SetUp failed for volume "info" : `+tt.wantErr)
		})
	}
}

func TestSetUpWithoutClientStillHandlesLocalVolumes(t *testing.T) {
	m := New(Config{RootDir: t.TempDir()})
	pod := testPod(
		corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		corev1.Volume{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}}},
	)
	got := MountErrors(m.SetUp(context.Background(), pod))
	if len(got) != 1 || got[0].Volume != "cfg" || !errors.Is(got[0], errNoClient) {
		t.Fatalf("MountErrors = %v, want only cfg failing for lack of a client", got)
	}
}
