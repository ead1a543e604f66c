package apiserver_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	kversion "github.com/kindish/kindish/cluster/version"
	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
	"github.com/kindish/kindish/controlplane/apiserver/strategy"
)

// These tests run the real kubectl against the server and read what it
// prints the way a user would: tables cell by cell, objects field by
// field, errors word for word. kubectl is the reference client: whatever
// it shows against kube-apiserver it must show against kindish.

// startKubectl starts a server and returns it with a kubectl for its admin.
func startKubectl(t *testing.T) (*apiservertest.Env, *apiservertest.Kubectl) {
	t.Helper()
	t.Parallel()
	env := apiservertest.Start(t)
	return env, env.Kubectl(t)
}

// manifest is the path of a file under testdata/kubectl, relative as a
// user would type it (kubectl repeats it in its messages).
func manifest(name string) string { return filepath.Join("testdata", "kubectl", name) }

// anyAge in a wanted table cell or line matches any age kubectl prints
// ("0s", "5m", "2d3h"): how old an object is depends on how fast the test
// runs.
const anyAge = "<age>"

const agePattern = `[0-9]+[smhdy](?:[0-9]+[smh])?`

var ageCell = regexp.MustCompile(`^` + agePattern + `$`)

// headerColumn is one header of a kubectl table: words separated by
// single spaces ("NOMINATED NODE"); columns are three or more apart.
var headerColumn = regexp.MustCompile(`\S+(?: \S+)*`)

// parseTable splits kubectl's table output into cells, by where each
// header starts: kubectl aligns every cell under its header.
func parseTable(out string) [][]string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return nil
	}
	var starts []int
	for _, m := range headerColumn.FindAllStringIndex(lines[0], -1) {
		starts = append(starts, m[0])
	}
	rows := make([][]string, 0, len(lines))
	for _, line := range lines {
		row := make([]string, len(starts))
		for i, start := range starts {
			end := len(line)
			if i+1 < len(starts) && starts[i+1] < end {
				end = starts[i+1]
			}
			if start < end {
				row[i] = strings.TrimSpace(line[start:end])
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// wantTable checks a table kubectl printed; each wanted row is its cells
// joined by "|", anyAge standing for an age.
func wantTable(t *testing.T, res apiservertest.KubectlResult, want ...string) {
	t.Helper()
	if res.ExitCode != 0 {
		t.Fatalf("%s", res)
	}
	got := parseTable(res.Stdout)
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		cells := strings.Split(want[i], "|")
		if len(cells) != len(got[i]) {
			ok = false
			break
		}
		for j, c := range cells {
			if c == anyAge && ageCell.MatchString(got[i][j]) {
				continue
			}
			if c != got[i][j] {
				ok = false
			}
		}
	}
	if !ok {
		var rows []string
		for _, r := range got {
			rows = append(rows, strings.Join(r, "|"))
		}
		t.Errorf("kubectl %s printed\n%s\nread as\n%s\nwant\n%s", strings.Join(res.Args, " "), res.Stdout, strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}

// mustRun runs kubectl and fails t, a subtest or not, unless it exits 0.
func mustRun(t *testing.T, k *apiservertest.Kubectl, args ...string) apiservertest.KubectlResult {
	t.Helper()
	res := k.Run(args...)
	if res.ExitCode != 0 {
		t.Fatalf("%s", res)
	}
	return res
}

// wantOutput checks kubectl's exit code and exact stdout.
func wantOutput(t *testing.T, res apiservertest.KubectlResult, code int, stdout string) {
	t.Helper()
	if res.ExitCode != code || res.Stdout != stdout {
		t.Errorf("%s\nwant exit %d and stdout:\n%s", res, code, stdout)
	}
}

// wantFailure checks that kubectl failed with exactly this on stderr.
func wantFailure(t *testing.T, res apiservertest.KubectlResult, stderr string) {
	t.Helper()
	if res.ExitCode == 0 || strings.TrimRight(res.Stderr, "\n") != stderr {
		t.Errorf("%s\nwant a failure with stderr:\n%s", res, stderr)
	}
}

// wantLines checks that kubectl printed these lines in this order, other
// lines between them allowed; runs of spaces count as one, since the
// alignment of `describe` is kubectl's own, and anyAge stands for an age.
func wantLines(t *testing.T, res apiservertest.KubectlResult, want ...string) {
	t.Helper()
	if res.ExitCode != 0 {
		t.Fatalf("%s", res)
	}
	i := 0
	for _, line := range strings.Split(res.Stdout, "\n") {
		if i < len(want) && lineMatcher(want[i]).MatchString(strings.Join(strings.Fields(line), " ")) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("kubectl %s lacks %q (or has it out of order):\n%s", strings.Join(res.Args, " "), want[i], res.Stdout)
	}
}

// lineMatcher matches a wanted line with its runs of spaces as one and
// anyAge as an age.
func lineMatcher(want string) *regexp.Regexp {
	parts := strings.Split(strings.Join(strings.Fields(want), " "), anyAge)
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, agePattern) + "$")
}

func mustJSONOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func TestKubectlCreateFromFiles(t *testing.T) {
	env, k := startKubectl(t)
	for _, tc := range []struct {
		file, want string
	}{
		{"pod.yaml", "pod/web created\n"},
		{"deployment.yaml", "deployment.apps/frontend created\n"},
		{"configmap.yaml", "configmap/settings created\n"},
		{"service.yaml", "service/frontend created\n"},
		{"namespace.yaml", "namespace/staging created\n"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			wantOutput(t, k.Run("create", "-f", manifest(tc.file)), 0, tc.want)
		})
	}
	pod, err := env.Client.CoreV1().Pods("default").Get(ctx(t), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := pod.Spec.Containers[0]; c.Image != "nginx:1.27" || c.ImagePullPolicy != corev1.PullIfNotPresent || pod.Status.Phase != corev1.PodPending {
		t.Errorf("created pod: %+v %s", c, pod.Status.Phase)
	}
	svc, err := env.Client.CoreV1().Services("default").Get(ctx(t), "frontend", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP == "" || svc.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("created service: %v %+v", err, svc.Spec)
	}
	ns, err := env.Client.CoreV1().Namespaces().Get(ctx(t), "staging", metav1.GetOptions{})
	if err != nil || ns.Status.Phase != corev1.NamespaceActive || ns.Labels["env"] != "staging" {
		t.Errorf("created namespace: %v %+v", err, ns)
	}
	// Several files: each one's error, in order.
	res := k.Run("create", "-f", manifest("pod.yaml"), "-f", manifest("configmap.yaml"))
	wantFailure(t, res, `Error from server (AlreadyExists): error when creating "testdata/kubectl/pod.yaml": pods "web" already exists
Error from server (AlreadyExists): error when creating "testdata/kubectl/configmap.yaml": configmaps "settings" already exists`)
}

func TestKubectlGet(t *testing.T) {
	env, k := startKubectl(t)
	for _, f := range []string{"pod.yaml", "deployment.yaml", "configmap.yaml", "service.yaml", "namespace.yaml"} {
		k.MustRun("create", "-f", manifest(f))
	}
	k.MustRun("create", "configmap", "other", "-n", "staging", "--from-literal=k=v")
	svc, err := env.Client.CoreV1().Services("default").Get(ctx(t), "frontend", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ip := svc.Spec.ClusterIP

	t.Run("tables", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{[]string{"get", "pods"}, []string{
				"NAME|READY|STATUS|RESTARTS|AGE",
				"web|0/1|Pending|0|" + anyAge}},
			{[]string{"get", "pods", "-o", "wide"}, []string{
				"NAME|READY|STATUS|RESTARTS|AGE|IP|NODE|NOMINATED NODE|READINESS GATES",
				"web|0/1|Pending|0|" + anyAge + "|<none>|<none>|<none>|<none>"}},
			{[]string{"get", "deployments", "-o", "wide"}, []string{
				"NAME|READY|UP-TO-DATE|AVAILABLE|AGE|CONTAINERS|IMAGES|SELECTOR",
				"frontend|0/2|0|0|" + anyAge + "|nginx|nginx:1.27|app=frontend"}},
			{[]string{"get", "services", "frontend", "-o", "wide"}, []string{
				"NAME|TYPE|CLUSTER-IP|EXTERNAL-IP|PORT(S)|AGE|SELECTOR",
				"frontend|ClusterIP|" + ip + "|<none>|80/TCP|" + anyAge + "|app=frontend"}},
			{[]string{"get", "configmaps"}, []string{
				"NAME|DATA|AGE",
				"settings|2|" + anyAge}},
			{[]string{"get", "namespaces", "staging", "--show-labels"}, []string{
				"NAME|STATUS|AGE|LABELS",
				"staging|Active|" + anyAge + "|env=staging,kubernetes.io/metadata.name=staging"}},
			{[]string{"get", "configmaps", "-A"}, []string{
				"NAMESPACE|NAME|DATA|AGE",
				"default|settings|2|" + anyAge,
				"staging|other|1|" + anyAge}},
			{[]string{"get", "configmaps", "--all-namespaces", "-l", "app=web"}, []string{
				"NAMESPACE|NAME|DATA|AGE",
				"default|settings|2|" + anyAge}},
			{[]string{"get", "pods", "-l", "app=web,tier in (frontend,backend)"}, []string{
				"NAME|READY|STATUS|RESTARTS|AGE",
				"web|0/1|Pending|0|" + anyAge}},
			{[]string{"get", "pods", "--field-selector", "status.phase=Pending,spec.nodeName="}, []string{
				"NAME|READY|STATUS|RESTARTS|AGE",
				"web|0/1|Pending|0|" + anyAge}},
			{[]string{"get", "configmaps", "-A", "--field-selector", "metadata.namespace!=default"}, []string{
				"NAMESPACE|NAME|DATA|AGE",
				"staging|other|1|" + anyAge}},
			{[]string{"get", "pods", "-o", "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image,POLICY:.spec.restartPolicy"}, []string{
				"NAME|IMAGE|POLICY",
				"web|nginx:1.27|Always"}},
		} {
			t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) { wantTable(t, k.Run(tc.args...), tc.want...) })
		}
	})

	t.Run("two kinds", func(t *testing.T) {
		// One table per kind, a blank line apart, names with their kind.
		res := k.Run("get", "pods,configmaps")
		parts := strings.SplitN(res.Stdout, "\n\n", 2)
		if len(parts) != 2 {
			t.Fatalf("want two tables:\n%s", res)
		}
		first, second := res, res
		first.Stdout, second.Stdout = parts[0]+"\n", parts[1]
		wantTable(t, first, "NAME|READY|STATUS|RESTARTS|AGE", "pod/web|0/1|Pending|0|"+anyAge)
		wantTable(t, second, "NAME|DATA|AGE", "configmap/settings|2|"+anyAge)
	})

	t.Run("nothing found", func(t *testing.T) {
		res := k.Run("get", "pods", "-l", "app=none")
		if res.ExitCode != 0 || res.Stdout != "" || res.Stderr != "No resources found in default namespace.\n" {
			t.Errorf("%s", res)
		}
		wantFailure(t, k.Run("get", "pod", "missing"), `Error from server (NotFound): pods "missing" not found`)
		wantFailure(t, k.Run("get", "pods", "--field-selector", "spec.color=blue"),
			`Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label selector "", field selector "spec.color=blue": field label not supported: spec.color`)
	})

	t.Run("-o name", func(t *testing.T) {
		wantOutput(t, k.Run("get", "pods,deployments,configmaps", "-o", "name"), 0, "pod/web\ndeployment.apps/frontend\nconfigmap/settings\n")
		wantOutput(t, k.Run("get", "namespaces", "-o", "name"), 0,
			"namespace/default\nnamespace/kube-node-lease\nnamespace/kube-public\nnamespace/kube-system\nnamespace/staging\n")
	})

	t.Run("-o yaml", func(t *testing.T) {
		res := mustRun(t, k, "get", "pod", "web", "-o", "yaml")
		if !strings.HasPrefix(res.Stdout, "apiVersion: v1\nkind: Pod\nmetadata:\n") {
			t.Errorf("-o yaml does not start as upstream's:\n%s", res.Stdout)
		}
		var pod corev1.Pod
		if err := yaml.UnmarshalStrict([]byte(res.Stdout), &pod); err != nil {
			t.Fatalf("-o yaml is not a pod: %v\n%s", err, res.Stdout)
		}
		live, err := env.Client.CoreV1().Pods("default").Get(ctx(t), "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		live.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
		if a, b := mustJSONOf(t, &pod), mustJSONOf(t, live); a != b {
			t.Errorf("-o yaml differs from the stored pod:\n%s\n%s", a, b)
		}
		for _, line := range []string{
			"  restartPolicy: Always", "  dnsPolicy: ClusterFirst", "  schedulerName: default-scheduler",
			"    imagePullPolicy: IfNotPresent", "      protocol: TCP", "  terminationGracePeriodSeconds: 30",
			"status:\n  phase: Pending\n  qosClass: BestEffort",
		} {
			if !strings.Contains(res.Stdout, line+"\n") {
				t.Errorf("-o yaml lacks upstream's default %q:\n%s", line, res.Stdout)
			}
		}
	})

	t.Run("-o json", func(t *testing.T) {
		res := mustRun(t, k, "get", "configmap", "settings", "-o", "json")
		var cm corev1.ConfigMap
		if err := json.Unmarshal([]byte(res.Stdout), &cm); err != nil {
			t.Fatalf("-o json: %v\n%s", err, res.Stdout)
		}
		if cm.Kind != "ConfigMap" || cm.APIVersion != "v1" || cm.Data["color"] != "blue" || cm.UID == "" || cm.ResourceVersion == "" {
			t.Errorf("-o json: %+v", cm)
		}
		if !strings.HasPrefix(res.Stdout, "{\n    \"apiVersion\": \"v1\",\n") {
			t.Errorf("-o json is not kubectl's indented JSON:\n%s", res.Stdout)
		}
		res = mustRun(t, k, "get", "configmaps", "-A", "-o", "json")
		var list corev1.List
		if err := json.Unmarshal([]byte(res.Stdout), &list); err != nil {
			t.Fatal(err)
		}
		if list.Kind != "List" || len(list.Items) != 2 {
			t.Fatalf("-o json of a list: %s", res.Stdout)
		}
		for _, item := range list.Items {
			var cm corev1.ConfigMap
			if err := json.Unmarshal(item.Raw, &cm); err != nil || cm.Kind != "ConfigMap" || cm.APIVersion != "v1" {
				t.Errorf("list item %v: %s", err, item.Raw)
			}
		}
	})

	t.Run("jsonpath", func(t *testing.T) {
		wantOutput(t, k.Run("get", "pods", "-o", "jsonpath={.items[*].metadata.labels.app}"), 0, "web")
		wantOutput(t, k.Run("get", "deployment", "frontend", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"), 0, "2 1")
	})
}

func TestKubectlGetWatch(t *testing.T) {
	env, k := startKubectl(t)
	k.MustRun("create", "-f", manifest("configmap.yaml"))
	w := k.Start("get", "configmaps", "-w")
	lines := w.WaitForLines(2, 20*time.Second)
	if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"NAME", "DATA", "AGE"}) {
		t.Errorf("watch header %q", lines[0])
	}
	if got := strings.Fields(lines[1]); len(got) != 3 || got[0] != "settings" || got[1] != "2" {
		t.Errorf("watch first row %q", lines[1])
	}
	// The change arrives after the list: kubectl prints it as a row.
	cm := configMap("arrived")
	cm.Data = map[string]string{"a": "1", "b": "2", "c": "3"}
	if _, err := env.Client.CoreV1().ConfigMaps("default").Create(ctx(t), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lines = w.WaitForLines(3, 20*time.Second)
	if got := strings.Fields(lines[2]); len(got) != 3 || got[0] != "arrived" || got[1] != "3" || !ageCell.MatchString(got[2]) {
		t.Errorf("watched row %q", lines[2])
	}
	if err := env.Client.CoreV1().ConfigMaps("default").Delete(ctx(t), "settings", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	lines = w.WaitForLines(4, 20*time.Second)
	if got := strings.Fields(lines[3]); len(got) != 3 || got[0] != "settings" {
		t.Errorf("watched deletion %q", lines[3])
	}
	w.Stop()

	// --watch-only with -o name: one line per change, nothing before.
	w = k.Start("get", "pods", "--watch-only", "-o", "name", "-v=6")
	// At -v=6 kubectl logs the watch request once the server answers it:
	// a change made after that reaches it.
	w.WaitForStderr("watch=true", 20*time.Second)
	k.MustRun("create", "-f", manifest("pod.yaml"))
	if lines := w.WaitForLines(1, 20*time.Second); lines[0] != "pod/web" {
		t.Errorf("--watch-only -o name printed %q", lines)
	}
}

func TestKubectlApply(t *testing.T) {
	env, k := startKubectl(t)
	cms := env.Client.CoreV1().ConfigMaps("default")

	t.Run("configmap", func(t *testing.T) {
		wantOutput(t, k.Run("apply", "-f", manifest("applied-configmap.yaml")), 0, "configmap/applied created\n")
		first, err := cms.Get(ctx(t), "applied", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantOutput(t, k.Run("apply", "-f", manifest("applied-configmap.yaml")), 0, "configmap/applied unchanged\n")
		if again, _ := cms.Get(ctx(t), "applied", metav1.GetOptions{}); again.ResourceVersion != first.ResourceVersion {
			t.Errorf("an unchanged apply wrote the object: %s -> %s", first.ResourceVersion, again.ResourceVersion)
		}
		wantOutput(t, k.Run("apply", "-f", manifest("applied-configmap-changed.yaml")), 0, "configmap/applied configured\n")
		got, err := cms.Get(ctx(t), "applied", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The three-way merge removes what the last applied file had and
		// the new one has not.
		if len(got.Data) != 1 || got.Data["color"] != "red" {
			t.Errorf("applied data %v, want only color=red", got.Data)
		}
		last := got.Annotations[corev1.LastAppliedConfigAnnotation]
		if last != `{"apiVersion":"v1","data":{"color":"red"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"applied","namespace":"default"}}`+"\n" {
			t.Errorf("last-applied annotation %q", last)
		}
	})

	t.Run("deployment", func(t *testing.T) {
		deployments := env.Client.AppsV1().Deployments("default")
		wantOutput(t, k.Run("apply", "-f", manifest("applied-deployment.yaml")), 0, "deployment.apps/api created\n")
		wantOutput(t, k.Run("apply", "-f", manifest("applied-deployment.yaml")), 0, "deployment.apps/api unchanged\n")
		// A change made by someone else (kubectl scale, a controller) is
		// kept: apply only owns what its files said.
		if _, err := deployments.Patch(ctx(t), "api", "application/merge-patch+json",
			[]byte(`{"metadata":{"labels":{"owner":"ops"}},"spec":{"template":{"metadata":{"annotations":{"restarted":"now"}}}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		wantOutput(t, k.Run("apply", "-f", manifest("applied-deployment-changed.yaml")), 0, "deployment.apps/api configured\n")
		d, err := deployments.Get(ctx(t), "api", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names, images []string
		for _, c := range d.Spec.Template.Spec.Containers {
			names, images = append(names, c.Name), append(images, c.Image)
		}
		// Containers merge by name and keep the file's order.
		if !slices.Equal(names, []string{"api", "sidecar", "logger"}) || !slices.Equal(images, []string{"nginx:1.28", "busybox:1.36", "busybox:1.36"}) {
			t.Errorf("containers %v %v", names, images)
		}
		if env := d.Spec.Template.Spec.Containers[0].Env; len(env) != 1 || env[0].Name != "MODE" {
			t.Errorf("env of api %v, want only MODE", env)
		}
		if _, ok := d.Labels["track"]; ok || d.Labels["owner"] != "ops" || d.Spec.Template.Annotations["restarted"] != "now" {
			t.Errorf("labels %v, template annotations %v", d.Labels, d.Spec.Template.Annotations)
		}
		if d.Generation != 3 {
			t.Errorf("generation %d after two spec changes, want 3", d.Generation)
		}
		wantOutput(t, k.Run("apply", "-f", manifest("applied-deployment-changed.yaml")), 0, "deployment.apps/api unchanged\n")
	})

	t.Run("service keeps what the server allocated", func(t *testing.T) {
		services := env.Client.CoreV1().Services("default")
		wantOutput(t, k.Run("apply", "-f", manifest("applied-service.yaml")), 0, "service/edge created\n")
		first, err := services.Get(ctx(t), "edge", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantOutput(t, k.Run("apply", "-f", manifest("applied-service.yaml")), 0, "service/edge unchanged\n")
		changed := filepath.Join(t.TempDir(), "service.yaml")
		b, err := os.ReadFile(manifest("applied-service.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(changed, []byte(strings.Replace(string(b), "targetPort: 8080", "targetPort: 9090", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		wantOutput(t, k.Run("apply", "-f", changed), 0, "service/edge configured\n")
		svc, err := services.Get(ctx(t), "edge", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The file names neither the cluster IP nor the node port: the
		// ones allocated at creation stay.
		if p, p0 := svc.Spec.Ports[0], first.Spec.Ports[0]; svc.Spec.ClusterIP != first.Spec.ClusterIP || p.NodePort != p0.NodePort || p.TargetPort.IntValue() != 9090 {
			t.Errorf("service after apply: %s %+v, first %s %+v", svc.Spec.ClusterIP, p, first.Spec.ClusterIP, p0)
		}
		wantTable(t, k.Run("get", "service", "edge"),
			"NAME|TYPE|CLUSTER-IP|EXTERNAL-IP|PORT(S)|AGE",
			fmt.Sprintf("edge|NodePort|%s|<none>|80:%d/TCP|%s", first.Spec.ClusterIP, first.Spec.Ports[0].NodePort, anyAge))
	})

	t.Run("server dry run", func(t *testing.T) {
		wantOutput(t, k.Run("apply", "-f", manifest("applied-configmap.yaml"), "--dry-run=server"), 0, "configmap/applied configured (server dry run)\n")
		if got, _ := cms.Get(ctx(t), "applied", metav1.GetOptions{}); got.Data["color"] != "red" {
			t.Errorf("a dry run changed the object: %v", got.Data)
		}
	})

	t.Run("over an object made by create", func(t *testing.T) {
		mustRun(t, k, "create", "-f", manifest("pod.yaml"))
		res := k.Run("apply", "-f", manifest("pod.yaml"))
		wantOutput(t, res, 0, "pod/web configured\n")
		if !strings.Contains(res.Stderr, "Warning: resource pods/web is missing the kubectl.kubernetes.io/last-applied-configuration annotation") {
			t.Errorf("no warning about the missing annotation:\n%s", res.Stderr)
		}
		wantOutput(t, k.Run("apply", "-f", manifest("pod.yaml")), 0, "pod/web unchanged\n")
	})
}

func TestKubectlPatchLabelAnnotate(t *testing.T) {
	env, k := startKubectl(t)
	k.MustRun("create", "-f", manifest("pod.yaml"))
	k.MustRun("create", "-f", manifest("configmap.yaml"))

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"merge", []string{"patch", "configmap", "settings", "--type", "merge", "-p", `{"data":{"color":"green"}}`}, "configmap/settings patched\n"},
		{"merge, again", []string{"patch", "configmap", "settings", "--type", "merge", "-p", `{"data":{"color":"green"}}`}, "configmap/settings patched (no change)\n"},
		{"json", []string{"patch", "configmap", "settings", "--type", "json", "-p", `[{"op":"remove","path":"/data/size"},{"op":"add","path":"/data/shape","value":"round"}]`}, "configmap/settings patched\n"},
		{"strategic, the default", []string{"patch", "pod", "web", "-p", `{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}`}, "pod/web patched\n"},
		{"strategic", []string{"patch", "pod", "web", "--type", "strategic", "-p", `{"metadata":{"labels":{"tier":null,"release":"r1"}}}`}, "pod/web patched\n"},
		{"label", []string{"label", "pod", "web", "env=prod"}, "pod/web labeled\n"},
		{"label --overwrite", []string{"label", "pod", "web", "env=dev", "--overwrite"}, "pod/web labeled\n"},
		{"label removal", []string{"label", "pod", "web", "release-"}, "pod/web unlabeled\n"},
		{"label by selector", []string{"label", "configmaps", "-l", "app=web", "checked=yes"}, "configmap/settings labeled\n"},
		{"annotate", []string{"annotate", "pod", "web", "note=hello"}, "pod/web annotated\n"},
		{"annotate --overwrite", []string{"annotate", "pod", "web", "note=bye", "--overwrite"}, "pod/web annotated\n"},
		{"annotate removal", []string{"annotate", "pod", "web", "note-", "other=kept"}, "pod/web annotated\n"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantOutput(t, k.Run(tc.args...), 0, tc.want) })
	}
	t.Run("refusals", func(t *testing.T) {
		wantFailure(t, k.Run("label", "pod", "web", "env=qa"), "error: 'env' already has a value (dev), and --overwrite is false")
		wantFailure(t, k.Run("annotate", "pod", "web", "other=changed"), "error: --overwrite is false but found the following declared annotation(s): 'other' already has a value (kept)")
		wantFailure(t, k.Run("patch", "configmap", "missing", "--type", "merge", "-p", `{"data":{}}`), `Error from server (NotFound): configmaps "missing" not found`)
		wantFailure(t, k.Run("patch", "configmap", "settings", "--type", "json", "-p", `[{"op":"remove","path":"/data/nothing"}]`),
			`The request is invalid: the server rejected our request due to an error in our request`)
		wantFailure(t, k.Run("patch", "configmap", "settings", "--type", "merge", "-p", `{"data":{"color":1}}`),
			`Error from server (BadRequest): ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string`)
	})

	cm, err := env.Client.CoreV1().ConfigMaps("default").Get(ctx(t), "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"color": "green", "shape": "round"}; !mapsEqual(cm.Data, want) || cm.Labels["checked"] != "yes" {
		t.Errorf("configmap data %v labels %v, want data %v", cm.Data, cm.Labels, want)
	}
	pod, err := env.Client.CoreV1().Pods("default").Get(ctx(t), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"app": "web", "env": "dev"}; !mapsEqual(pod.Labels, want) {
		t.Errorf("pod labels %v, want %v", pod.Labels, want)
	}
	if want := map[string]string{"other": "kept"}; !mapsEqual(pod.Annotations, want) {
		t.Errorf("pod annotations %v, want %v", pod.Annotations, want)
	}
	if len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].Image != "nginx:1.28" || pod.Spec.Containers[0].Ports[0].ContainerPort != 80 {
		t.Errorf("strategic patch of the containers: %+v", pod.Spec.Containers)
	}
	wantTable(t, k.Run("get", "pod", "web", "--show-labels"),
		"NAME|READY|STATUS|RESTARTS|AGE|LABELS",
		"web|0/1|Pending|0|"+anyAge+"|app=web,env=dev")
}

func TestKubectlScale(t *testing.T) {
	env, k := startKubectl(t)
	k.MustRun("create", "-f", manifest("deployment.yaml"))
	k.MustRun("create", "-f", manifest("replicaset.yaml"))
	wantOutput(t, k.Run("scale", "--replicas=6", "-f", manifest("replicaset.yaml")), 0, "replicaset.apps/backend scaled\n")
	wantOutput(t, k.Run("scale", "deployment/frontend", "--replicas=3"), 0, "deployment.apps/frontend scaled\n")
	rs, err := env.Client.AppsV1().ReplicaSets("default").Get(ctx(t), "backend", metav1.GetOptions{})
	if err != nil || *rs.Spec.Replicas != 6 || rs.Generation != 2 {
		t.Errorf("scaled replica set: %v %+v", err, rs)
	}
	wantTable(t, k.Run("get", "deployment", "frontend"),
		"NAME|READY|UP-TO-DATE|AVAILABLE|AGE",
		"frontend|0/3|0|0|"+anyAge)
	wantTable(t, k.Run("get", "replicaset", "backend"),
		"NAME|DESIRED|CURRENT|READY|AGE",
		"backend|6|0|0|"+anyAge)
	// --current-replicas is a precondition on the scale.
	wantFailure(t, k.Run("scale", "deployment/frontend", "--current-replicas=2", "--replicas=4"),
		"error: Expected replicas to be 2, was 3")
	wantOutput(t, k.Run("scale", "deployments", "--all", "--replicas=0"), 0, "deployment.apps/frontend scaled\n")
}

func TestKubectlDelete(t *testing.T) {
	env, k := startKubectl(t)
	for _, f := range []string{"pod.yaml", "deployment.yaml", "configmap.yaml", "service.yaml", "namespace.yaml", "scheduled-pod.yaml"} {
		k.MustRun("create", "-f", manifest(f))
	}
	for _, name := range []string{"a", "b", "c"} {
		k.MustRun("create", "configmap", name, "--from-literal=k=v")
	}
	k.MustRun("label", "configmaps", "a", "b", "group=ab")

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"by file", []string{"delete", "-f", manifest("deployment.yaml")}, "deployment.apps \"frontend\" deleted\n"},
		{"by name", []string{"delete", "service", "frontend"}, "service \"frontend\" deleted\n"},
		{"by label", []string{"delete", "configmaps", "-l", "group=ab"}, "configmap \"a\" deleted\nconfigmap \"b\" deleted\n"},
		{"all", []string{"delete", "configmaps", "--all"}, "configmap \"c\" deleted\nconfigmap \"settings\" deleted\n"},
		{"an unscheduled pod goes at once", []string{"delete", "pod", "web"}, "pod \"web\" deleted\n"},
		{"a scheduled pod waits for its kubelet", []string{"delete", "pod", "bound", "--wait=false"}, "pod \"bound\" deleted\n"},
		{"a namespace waits for its controller", []string{"delete", "namespace", "staging", "--wait=false"}, "namespace \"staging\" deleted\n"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantOutput(t, k.Run(tc.args...), 0, tc.want) })
	}
	t.Run("what is left", func(t *testing.T) {
		res := k.Run("get", "configmaps,services,deployments")
		if res.ExitCode != 0 || res.Stdout != "" || res.Stderr != "No resources found in default namespace.\n" {
			t.Errorf("%s", res)
		}
		wantTable(t, k.Run("get", "pods"),
			"NAME|READY|STATUS|RESTARTS|AGE",
			"bound|0/1|Terminating|0|"+anyAge)
		wantTable(t, k.Run("get", "namespace", "staging"),
			"NAME|STATUS|AGE",
			"staging|Terminating|"+anyAge)
		pod, err := env.Client.CoreV1().Pods("default").Get(ctx(t), "bound", metav1.GetOptions{})
		if err != nil || pod.DeletionTimestamp == nil || *pod.DeletionGracePeriodSeconds != 30 {
			t.Errorf("pod being deleted: %v %+v", err, pod.ObjectMeta)
		}
	})
	t.Run("missing", func(t *testing.T) {
		wantFailure(t, k.Run("delete", "pod", "web"), `Error from server (NotFound): pods "web" not found`)
		wantOutput(t, k.Run("delete", "pod", "web", "--ignore-not-found"), 0, "")
		wantFailure(t, k.Run("delete", "namespace", "default", "--wait=false"), `Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted`)
	})
}

func TestKubectlDescribe(t *testing.T) {
	env, k := startKubectl(t)
	for _, f := range []string{"pod.yaml", "deployment.yaml", "namespace.yaml"} {
		k.MustRun("create", "-f", manifest(f))
	}
	pod, err := env.Client.CoreV1().Pods("default").Get(ctx(t), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// describe lists the object's events, found by a field selector on
	// the involved object.
	then := metav1.NewTime(time.Now().Add(-2 * time.Minute).Truncate(time.Second))
	for i, ev := range []corev1.Event{
		{Reason: "Scheduled", Message: "Successfully assigned default/web to node-1", Type: corev1.EventTypeNormal, Source: corev1.EventSource{Component: "default-scheduler"}, Count: 1},
		{Reason: "BackOff", Message: "Back-off pulling image \"nginx:1.27\"", Type: corev1.EventTypeWarning, Source: corev1.EventSource{Component: "kubelet", Host: "node-1"}, Count: 4},
	} {
		ev.ObjectMeta = metav1.ObjectMeta{Name: fmt.Sprintf("web.%d", i)}
		ev.InvolvedObject = corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web", UID: pod.UID, APIVersion: "v1"}
		ev.FirstTimestamp, ev.LastTimestamp = then, then
		if _, err := env.Client.CoreV1().Events("default").Create(ctx(t), &ev, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// An event of an earlier pod of the same name: not this pod's.
	other := corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.old"}, Reason: "Killing", Type: corev1.EventTypeNormal,
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web", UID: "0000"}, FirstTimestamp: then, LastTimestamp: then}
	if _, err := env.Client.CoreV1().Events("default").Create(ctx(t), &other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("pod", func(t *testing.T) {
		res := k.Run("describe", "pod", "web")
		wantLines(t, res,
			"Name:             web",
			"Namespace:        default",
			"Service Account:  default",
			"Node:             <none>",
			"Labels:           app=web",
			"                  tier=frontend",
			"Annotations:      <none>",
			"Status:           Pending",
			"IPs:              <none>",
			"Containers:",
			"  nginx:",
			"    Image:        nginx:1.27",
			"    Port:         80/TCP",
			"    Host Port:    0/TCP",
			"QoS Class:                   BestEffort",
			"Tolerations:                 node.kubernetes.io/not-ready:NoExecute op=Exists for 300s",
			"                             node.kubernetes.io/unreachable:NoExecute op=Exists for 300s",
			"Events:",
			"  Type     Reason     Age    From               Message",
			"  ----     ------     ----   ----               -------",
			"  Normal   Scheduled  <age>  default-scheduler  Successfully assigned default/web to node-1",
			`  Warning  BackOff    <age> (x4 over <age>)  kubelet  Back-off pulling image "nginx:1.27"`,
		)
		if strings.Contains(res.Stdout, "Killing") {
			t.Errorf("describe shows another pod's event:\n%s", res.Stdout)
		}
	})

	t.Run("namespace", func(t *testing.T) {
		wantLines(t, k.Run("describe", "namespace", "staging"),
			"Name:         staging",
			"Labels:       env=staging",
			"              kubernetes.io/metadata.name=staging",
			"Annotations:  <none>",
			"Status:       Active",
			"No resource quota.",
			"No LimitRange resource.",
		)
	})

	t.Run("deployment", func(t *testing.T) {
		wantLines(t, k.Run("describe", "deployment", "frontend"),
			"Name:                   frontend",
			"Namespace:              default",
			"Labels:                 app=frontend",
			"Annotations:            <none>",
			"Selector:               app=frontend",
			"Replicas:               2 desired | 0 updated | 0 total | 0 available | 0 unavailable",
			"StrategyType:           RollingUpdate",
			"MinReadySeconds:        0",
			"RollingUpdateStrategy:  25% max unavailable, 25% max surge",
			"Pod Template:",
			"  Labels:  app=frontend",
			"  Containers:",
			"   nginx:",
			"    Image:         nginx:1.27",
			"Events:            <none>",
		)
	})

	t.Run("events table", func(t *testing.T) {
		// Upstream's events table has no NAME column but with -o wide,
		// and then last.
		wantTable(t, k.Run("get", "events", "--field-selector", "involvedObject.uid="+string(pod.UID), "--sort-by=.metadata.name"),
			"LAST SEEN|TYPE|REASON|OBJECT|MESSAGE",
			anyAge+"|Normal|Scheduled|pod/web|Successfully assigned default/web to node-1",
			anyAge+`|Warning|BackOff|pod/web|Back-off pulling image "nginx:1.27"`)
		wantTable(t, k.Run("get", "events", "web.1", "-o", "wide"),
			"LAST SEEN|TYPE|REASON|OBJECT|SUBOBJECT|SOURCE|MESSAGE|FIRST SEEN|COUNT|NAME",
			anyAge+`|Warning|BackOff|pod/web||kubelet, node-1|Back-off pulling image "nginx:1.27"|`+anyAge+"|4|web.1")
	})
}

func TestKubectlImperativeCommands(t *testing.T) {
	env, k := startKubectl(t)

	t.Run("create namespace", func(t *testing.T) {
		wantOutput(t, k.Run("create", "namespace", "dev"), 0, "namespace/dev created\n")
		wantTable(t, k.Run("get", "namespace", "dev"), "NAME|STATUS|AGE", "dev|Active|"+anyAge)
		wantFailure(t, k.Run("create", "namespace", "dev"), `Error from server (AlreadyExists): namespaces "dev" already exists`)
	})

	t.Run("run", func(t *testing.T) {
		wantOutput(t, k.Run("run", "nginx", "--image", "nginx"), 0, "pod/nginx created\n")
		pod, err := env.Client.CoreV1().Pods("default").Get(ctx(t), "nginx", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].Name != "nginx" || pod.Spec.Containers[0].Image != "nginx" ||
			!mapsEqual(pod.Labels, map[string]string{"run": "nginx"}) || pod.Spec.RestartPolicy != corev1.RestartPolicyAlways {
			t.Errorf("kubectl run made %+v %+v", pod.ObjectMeta, pod.Spec)
		}
		// An image without a tag is :latest, pulled every time.
		if p := pod.Spec.Containers[0].ImagePullPolicy; p != corev1.PullAlways {
			t.Errorf("imagePullPolicy %s, want Always", p)
		}
		wantOutput(t, k.Run("run", "busy", "--image=busybox:1.36", "-n", "dev", "--restart=Never", "--labels=app=busy", "--", "sleep", "3600"), 0, "pod/busy created\n")
		busy, err := env.Client.CoreV1().Pods("dev").Get(ctx(t), "busy", metav1.GetOptions{})
		if err != nil || busy.Spec.RestartPolicy != corev1.RestartPolicyNever || !slices.Equal(busy.Spec.Containers[0].Args, []string{"sleep", "3600"}) || busy.Labels["app"] != "busy" {
			t.Errorf("kubectl run --restart=Never: %v %+v", err, busy)
		}
	})

	t.Run("create generators", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"create", "deployment", "hello", "--image=nginx:1.27", "--replicas=2"}, "deployment.apps/hello created\n"},
			{[]string{"create", "configmap", "conf", "--from-literal=a=1", "--from-literal=b=2"}, "configmap/conf created\n"},
			{[]string{"create", "secret", "generic", "creds", "--from-literal=password=s3cret"}, "secret/creds created\n"},
			{[]string{"create", "service", "clusterip", "hello", "--tcp=80:8080"}, "service/hello created\n"},
			{[]string{"create", "serviceaccount", "robot"}, "serviceaccount/robot created\n"},
			{[]string{"create", "role", "reader", "--verb=get,list", "--resource=pods"}, "role.rbac.authorization.k8s.io/reader created\n"},
			{[]string{"create", "rolebinding", "read", "--role=reader", "--user=jane"}, "rolebinding.rbac.authorization.k8s.io/read created\n"},
		} {
			t.Run(strings.Join(tc.args[1:3], " "), func(t *testing.T) { wantOutput(t, k.Run(tc.args...), 0, tc.want) })
		}
		wantTable(t, k.Run("get", "secret", "creds"), "NAME|TYPE|DATA|AGE", "creds|Opaque|1|"+anyAge)
		wantTable(t, k.Run("get", "rolebinding", "read", "-o", "wide"),
			"NAME|ROLE|AGE|USERS|GROUPS|SERVICEACCOUNTS",
			"read|Role/reader|"+anyAge+"|jane||")
	})

	t.Run("storage class", func(t *testing.T) {
		sc := &storagev1.StorageClass{
			ObjectMeta:  metav1.ObjectMeta{Name: "standard", Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
			Provisioner: "rancher.io/local-path",
		}
		if _, err := env.Client.StorageV1().StorageClasses().Create(ctx(t), sc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		wantTable(t, k.Run("get", "storageclasses"),
			"NAME|PROVISIONER|RECLAIMPOLICY|VOLUMEBINDINGMODE|ALLOWVOLUMEEXPANSION|AGE",
			"standard (default)|rancher.io/local-path|Delete|Immediate|false|"+anyAge)
	})
}

func TestKubectlDiscovery(t *testing.T) {
	env, k := startKubectl(t)

	t.Run("api-resources", func(t *testing.T) {
		resources := strategy.Resources()
		sort.SliceStable(resources, func(i, j int) bool {
			if a, b := resources[i].GroupVersion.Group, resources[j].GroupVersion.Group; a != b {
				return a < b
			}
			return resources[i].Name < resources[j].Name
		})
		want := []string{"NAME|SHORTNAMES|APIVERSION|NAMESPACED|KIND"}
		for _, r := range resources {
			want = append(want, fmt.Sprintf("%s|%s|%s|%v|%s", r.Name, strings.Join(r.ShortNames, ","), r.GroupVersion, r.Namespaced, r.Kind))
		}
		wantTable(t, k.Run("api-resources"), want...)
		wantOutput(t, k.Run("api-resources", "--api-group=apps", "-o", "name"), 0,
			"controllerrevisions.apps\ndaemonsets.apps\ndeployments.apps\nreplicasets.apps\nstatefulsets.apps\n")
		wantTable(t, k.Run("api-resources", "--api-group=rbac.authorization.k8s.io", "-o", "wide", "--namespaced=true"),
			"NAME|SHORTNAMES|APIVERSION|NAMESPACED|KIND|VERBS|CATEGORIES",
			"rolebindings||rbac.authorization.k8s.io/v1|true|RoleBinding|create,delete,deletecollection,get,list,patch,update,watch|",
			"roles||rbac.authorization.k8s.io/v1|true|Role|create,delete,deletecollection,get,list,patch,update,watch|")
	})

	t.Run("api-versions", func(t *testing.T) {
		seen := map[string]bool{}
		var want []string
		for _, r := range strategy.Resources() {
			if gv := r.GroupVersion.String(); !seen[gv] {
				seen[gv] = true
				want = append(want, gv)
			}
		}
		sort.Strings(want)
		wantOutput(t, k.Run("api-versions"), 0, strings.Join(want, "\n")+"\n")
	})

	t.Run("explain", func(t *testing.T) {
		wantLines(t, k.Run("explain", "pods.spec"),
			"KIND:       Pod",
			"VERSION:    v1",
			"FIELD: spec <PodSpec>",
			"DESCRIPTION:",
			"FIELDS:",
			// Upstream adds " -required-": kindish's OpenAPI marks no
			// field required.
			"  containers	<[]Container>",
			"  restartPolicy	<string>",
		)
		wantLines(t, k.Run("explain", "deployment.spec.replicas"),
			"GROUP:      apps",
			"KIND:       Deployment",
			"VERSION:    v1",
			"FIELD: replicas <integer>",
		)
		wantFailure(t, k.Run("explain", "pods.spec.nonsense"), `error: field "nonsense" does not exist`)
	})

	t.Run("version", func(t *testing.T) {
		res := mustRun(t, k, "version")
		lines := strings.Split(strings.TrimRight(res.Stdout, "\n"), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "Client Version: v1.") || !strings.HasPrefix(lines[1], "Kustomize Version: ") ||
			lines[2] != "Server Version: "+kversion.KubernetesVersion {
			t.Errorf("%s", res)
		}
		res = mustRun(t, k, "version", "-o", "json")
		var v struct {
			ServerVersion struct{ Major, Minor, GitVersion, Platform string }
		}
		if err := json.Unmarshal([]byte(res.Stdout), &v); err != nil {
			t.Fatal(err)
		}
		if sv := v.ServerVersion; sv.GitVersion != "v1.36.4" || sv.Major != "1" || sv.Minor != "36" || sv.Platform == "" {
			t.Errorf("server version %+v", sv)
		}
	})

	t.Run("cluster-info", func(t *testing.T) {
		if err := env.Server.ReconcileKubernetesService(ctx(t), netip.MustParseAddr("127.0.0.1"), 6443); err != nil {
			t.Fatal(err)
		}
		res := mustRun(t, k, "cluster-info")
		want := "Kubernetes control plane is running at " + env.URL + "\n\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.\n"
		if got := stripColors(res.Stdout); got != want {
			t.Errorf("kubectl cluster-info:\n%s\nwant:\n%s", got, want)
		}
	})
}

var colorCode = regexp.MustCompile("\x1b\\[[0-9;]*m")

func stripColors(s string) string { return colorCode.ReplaceAllString(s, "") }

func TestKubectlAuth(t *testing.T) {
	env, admin := startKubectl(t)
	jane := env.KubectlFor(t, "jane", "developers")

	t.Run("forbidden", func(t *testing.T) {
		wantFailure(t, jane.Run("get", "pods"),
			`Error from server (Forbidden): pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"`)
		wantFailure(t, jane.Run("create", "-f", manifest("configmap.yaml")),
			`Error from server (Forbidden): error when creating "testdata/kubectl/configmap.yaml": configmaps is forbidden: User "jane" cannot create resource "configmaps" in API group "" in the namespace "default"`)
		wantFailure(t, jane.Run("get", "nodes"),
			`Error from server (Forbidden): nodes is forbidden: User "jane" cannot list resource "nodes" in API group "" at the cluster scope`)
	})

	t.Run("can-i", func(t *testing.T) {
		wantOutput(t, admin.Run("auth", "can-i", "create", "pods"), 0, "yes\n")
		wantOutput(t, admin.Run("auth", "can-i", "delete", "nodes"), 0, "yes\n")
		wantOutput(t, jane.Run("auth", "can-i", "create", "pods"), 1, "no\n")
		// A role bound to jane turns the answer.
		mustRun(t, admin, "create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods")
		mustRun(t, admin, "create", "rolebinding", "jane-reads-pods", "--role=pod-reader", "--user=jane")
		waitFor(t, func() bool { return jane.Run("auth", "can-i", "list", "pods").Stdout == "yes\n" })
		wantOutput(t, jane.Run("auth", "can-i", "list", "pods", "-n", "kube-system"), 1, "no\n")
		wantOutput(t, jane.Run("auth", "can-i", "create", "pods"), 1, "no\n")
		wantOutput(t, admin.Run("auth", "can-i", "list", "pods", "--as=jane"), 0, "yes\n")
	})
}

// waitFor polls cond for a few seconds: RBAC reaches the authorizer
// through a watch.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestKubectlBadInput(t *testing.T) {
	env, k := startKubectl(t)
	k.MustRun("create", "-f", manifest("configmap.yaml"))

	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"unknown field", []string{"create", "-f", manifest("unknown-field.yaml")},
			`Error from server (BadRequest): error when creating "testdata/kubectl/unknown-field.yaml": ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "datta"`},
		{"missing required field", []string{"create", "-f", manifest("missing-containers.yaml")},
			`The Pod "empty" is invalid: spec.containers: Required value`},
		{"invalid name", []string{"create", "-f", manifest("invalid-name.yaml")},
			`The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{"created twice", []string{"create", "-f", manifest("configmap.yaml")},
			`Error from server (AlreadyExists): error when creating "testdata/kubectl/configmap.yaml": configmaps "settings" already exists`},
		{"missing namespace", []string{"create", "-f", manifest("configmap.yaml"), "-n", "nowhere"},
			`Error from server (NotFound): error when creating "testdata/kubectl/configmap.yaml": namespaces "nowhere" not found`},
		{"unknown resource", []string{"get", "widgets"},
			`error: the server doesn't have a resource type "widgets"`},
	} {
		t.Run(tc.name, func(t *testing.T) { wantFailure(t, k.Run(tc.args...), tc.stderr) })
	}

	t.Run("unknown field, warned", func(t *testing.T) {
		res := k.Run("create", "-f", manifest("unknown-field.yaml"), "--validate=warn")
		wantOutput(t, res, 0, "configmap/typo created\n")
		if res.Stderr != "Warning: unknown field \"datta\"\n" {
			t.Errorf("stderr %q, want the server's warning", res.Stderr)
		}
	})

	t.Run("stale replace", func(t *testing.T) {
		old := mustRun(t, k, "get", "configmap", "settings", "-o", "yaml")
		stale := filepath.Join(t.TempDir(), "settings.yaml")
		if err := os.WriteFile(stale, []byte(old.Stdout), 0o600); err != nil {
			t.Fatal(err)
		}
		mustRun(t, k, "label", "configmap", "settings", "bumped=yes")
		wantFailure(t, k.Run("replace", "-f", stale),
			fmt.Sprintf(`Error from server (Conflict): error when replacing %q: Operation cannot be fulfilled on configmaps "settings": the object has been modified; please apply your changes to the latest version and try again`, stale))
		// Without the resourceVersion, replace wins.
		fresh := strings.Replace(old.Stdout, "color: blue", "color: teal", 1)
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(fresh), &obj); err != nil {
			t.Fatal(err)
		}
		delete(obj["metadata"].(map[string]any), "resourceVersion")
		b, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(stale, b, 0o600); err != nil {
			t.Fatal(err)
		}
		wantOutput(t, k.Run("replace", "-f", stale), 0, "configmap/settings replaced\n")
		cm, err := env.Client.CoreV1().ConfigMaps("default").Get(ctx(t), "settings", metav1.GetOptions{})
		if err != nil || cm.Data["color"] != "teal" || cm.Labels["bumped"] != "" {
			t.Errorf("replaced configmap: %v %+v", err, cm)
		}
	})

	t.Run("immutable field", func(t *testing.T) {
		mustRun(t, k, "create", "-f", manifest("deployment.yaml"))
		res := k.Run("patch", "deployment", "frontend", "--type", "merge", "-p", `{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}`)
		wantFailure(t, res, `The Deployment "frontend" is invalid: spec.selector: Invalid value: {"matchLabels":{"app":"other"}}: field is immutable`)
		if d, err := env.Client.AppsV1().Deployments("default").Get(ctx(t), "frontend", metav1.GetOptions{}); err != nil || d.Spec.Selector.MatchLabels["app"] != "frontend" {
			t.Errorf("refused patch changed the deployment: %v %+v", err, d)
		}
	})
}
