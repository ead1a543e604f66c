package staticpod

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

const webManifest = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
  - name: web
    image: nginx:1.25
`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadOne loads dir and requires exactly one pod and no error.
func loadOne(t *testing.T, dir, nodeName string) *corev1.Pod {
	t.Helper()
	pods, errs := Load(dir, nodeName)
	if len(errs) > 0 {
		t.Fatalf("Load: unexpected errors %v", errs)
	}
	if len(pods) != 1 {
		t.Fatalf("Load: got %d pods, want 1", len(pods))
	}
	return pods[0]
}

func TestLoadCompletesThePodAsTheKubeletDoes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "web.yaml", webManifest)
	before := time.Now()
	pod := loadOne(t, dir, "kind-worker")

	checks := []struct {
		name      string
		got, want any
	}{
		{"name gets the node name", pod.Name, "web-kind-worker"},
		{"namespace defaults to default", pod.Namespace, "default"},
		{"spec.nodeName is the node", pod.Spec.NodeName, "kind-worker"},
		{"config.hash is the UID", pod.Annotations[ConfigHashAnnotationKey], string(pod.UID)},
		{"config.source is file", pod.Annotations[ConfigSourceAnnotationKey], FileSource},
		{"UID is 128 bits in hex", len(pod.UID), 32},
		{"labels are kept", pod.Labels["app"], "web"},
		{"phase is Pending", pod.Status.Phase, corev1.PodPending},
		{"API defaults: dnsPolicy", pod.Spec.DNSPolicy, corev1.DNSClusterFirst},
		{"API defaults: restartPolicy", pod.Spec.RestartPolicy, corev1.RestartPolicyAlways},
		{"API defaults: schedulerName", pod.Spec.SchedulerName, corev1.DefaultSchedulerName},
		{"API defaults: imagePullPolicy", pod.Spec.Containers[0].ImagePullPolicy, corev1.PullIfNotPresent},
		{"API defaults: terminationMessagePath", pod.Spec.Containers[0].TerminationMessagePath, corev1.TerminationMessagePathDefault},
		{"API defaults: enableServiceLinks", pod.Spec.EnableServiceLinks != nil && *pod.Spec.EnableServiceLinks, true},
		{"one toleration", len(pod.Spec.Tolerations), 1},
		{"it tolerates every NoExecute taint", pod.Spec.Tolerations[0], corev1.Toleration{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}

	seen, err := time.Parse(RFC3339NanoFixed, pod.Annotations[ConfigFirstSeenAnnotationKey])
	if err != nil {
		t.Fatalf("config.seen %q: %v", pod.Annotations[ConfigFirstSeenAnnotationKey], err)
	}
	if seen.Before(before.Truncate(time.Second)) || seen.After(time.Now()) {
		t.Errorf("config.seen %v is not the time of the read", seen)
	}
}

func TestLoadKeepsWhatTheManifestSets(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "etcd.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
  uid: 0123456789abcdef
spec:
  hostNetwork: true
  tolerations:
  - operator: Exists
    effect: NoExecute
  containers:
  - name: etcd
    image: kindish/etcd:v1
`)
	pod := loadOne(t, dir, "cp")
	if pod.Namespace != "kube-system" {
		t.Errorf("namespace: got %q, want kube-system", pod.Namespace)
	}
	if pod.UID != "0123456789abcdef" || pod.Annotations[ConfigHashAnnotationKey] != "0123456789abcdef" {
		t.Errorf("a UID in the manifest is kept as UID and hash: got UID %q, hash %q", pod.UID, pod.Annotations[ConfigHashAnnotationKey])
	}
	if len(pod.Spec.Tolerations) != 1 {
		t.Errorf("the NoExecute toleration is not added twice: got %v", pod.Spec.Tolerations)
	}
}

func TestLoadUID(t *testing.T) {
	uidOf := func(t *testing.T, file, content, node string) types.UID {
		dir := t.TempDir()
		writeFile(t, dir, file, content)
		// The UID covers the file's path: keep it the same across dirs.
		pods, errs := load(dir, node, func(types.UID) string { return "" })
		if len(errs) > 0 || len(pods) != 1 {
			t.Fatalf("load: %d pods, errors %v", len(pods), errs)
		}
		return pods[0].UID
	}
	stableDir := t.TempDir()
	writeFile(t, stableDir, "web.yaml", webManifest)
	first := loadOne(t, stableDir, "node-a").UID
	second := loadOne(t, stableDir, "node-a").UID
	if first != second {
		t.Errorf("UID changed between two reads of the same file: %s, then %s", first, second)
	}

	sameDirUID := func(content, node string) types.UID {
		writeFile(t, stableDir, "web.yaml", content)
		return loadOne(t, stableDir, node).UID
	}
	tests := []struct {
		name     string
		content  string
		node     string
		wantSame bool
	}{
		{"another node gives another UID", webManifest, "node-b", false},
		{"another image gives another UID", strings.Replace(webManifest, "nginx:1.25", "nginx:1.26", 1), "node-a", false},
		{"reformatting and comments keep the UID", "# the web server\n" + strings.ReplaceAll(webManifest, "  - name: web\n    image: nginx:1.25\n", "  - {name: web, image: \"nginx:1.25\"}\n"), "node-a", true},
		{"the same content as JSON keeps the UID", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1.25"}]}}`, "node-a", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sameDirUID(tt.content, tt.node)
			if (got == first) != tt.wantSame {
				t.Errorf("UID %s, first UID %s: same = %v, want %v", got, first, got == first, tt.wantSame)
			}
		})
	}

	t.Run("another file name gives another UID", func(t *testing.T) {
		if a, b := uidOf(t, "a.yaml", webManifest, "n"), uidOf(t, "b.yaml", webManifest, "n"); a == b {
			t.Errorf("same UID %s for two files", a)
		}
	})
}

func TestLoadSkipsBadFilesAndReportsThem(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		wantErr string
	}{
		{"not YAML", "broken.yaml", "apiVersion: v1\nkind: Pod\n  metadata: [", "couldn't parse as pod"},
		{"no kind", "nokind.yaml", "apiVersion: v1\nmetadata:\n  name: x\n", "Object 'Kind' is missing"},
		{"not a pod", "deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n", `kind "Deployment"`},
		{"no name", "noname.yaml", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: b\n", "name is needed for the pod"},
		{"no image", "noimage.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - name: a\n", "spec.containers[0].image: Required value"},
		{"bad name", "badname.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Not_A_Name\nspec:\n  containers:\n  - name: a\n    image: b\n", "metadata.name: Invalid value"},
		{"empty file", "empty.yaml", "", "Object 'Kind' is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "a-good.yaml", webManifest)
			bad := writeFile(t, dir, tt.file, tt.content)
			writeFile(t, dir, "z-good.json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"api"},"spec":{"containers":[{"name":"a","image":"b"}]}}`)

			pods, errs := Load(dir, "n")
			if len(errs) != 1 {
				t.Fatalf("got errors %v, want one", errs)
			}
			if msg := errs[0].Error(); !strings.Contains(msg, bad) || !strings.Contains(msg, tt.wantErr) {
				t.Errorf("error %q should name %s and say %q", msg, bad, tt.wantErr)
			}
			if got := podNames(pods); len(got) != 2 || got[0] != "default/web-n" || got[1] != "default/api-n" {
				t.Errorf("the good files should still load, in file order: got %v", got)
			}
		})
	}
}

func TestLoadReadsOnlyManifestNames(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "web.yaml", webManifest)
	writeFile(t, dir, "other.yml", strings.Replace(webManifest, "name: web\n  labels", "name: other\n  labels", 1))
	for _, ignored := range []string{".web.yaml.swp", ".hidden.yaml", "web.yaml~", "web.yaml.orig", "README", "notes.txt"} {
		writeFile(t, dir, ignored, "not a manifest")
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	pods, errs := Load(dir, "n")
	if len(errs) > 0 {
		t.Errorf("ignored names were read: errors %v", errs)
	}
	if got := podNames(pods); len(got) != 2 || got[0] != "default/other-n" || got[1] != "default/web-n" {
		t.Errorf("got pods %v, want other-n and web-n", got)
	}
}

func TestLoadMissingDirectoryHoldsNoPods(t *testing.T) {
	pods, errs := Load(filepath.Join(t.TempDir(), "manifests"), "n")
	if len(pods) != 0 || len(errs) != 0 {
		t.Errorf("got %d pods and errors %v, want neither", len(pods), errs)
	}
}

func TestLoadSamePodInTwoFilesKeepsTheLast(t *testing.T) {
	dir := t.TempDir()
	first := writeFile(t, dir, "a.yaml", webManifest)
	last := writeFile(t, dir, "b.yaml", strings.Replace(webManifest, "nginx:1.25", "nginx:1.26", 1))
	pods, errs := Load(dir, "n")
	if len(pods) != 1 || pods[0].Spec.Containers[0].Image != "nginx:1.26" {
		t.Fatalf("want the pod of the last file alone, got %d pods", len(pods))
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), first) || !strings.Contains(errs[0].Error(), last) {
		t.Errorf("want one error naming both files, got %v", errs)
	}
}
