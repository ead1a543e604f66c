package printers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

// serverTable builds the Table the API server sends for a list: its Name
// column first, then the convertor's, as controlplane/apiserver/rest does.
func serverTable(t *testing.T, conv *registry.TableConvertor, list runtime.Object) *metav1.Table {
	t.Helper()
	table := &metav1.Table{
		TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "Table"},
		ColumnDefinitions: append([]metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
		}, conv.Columns...),
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range items {
		m, err := meta.Accessor(item)
		if err != nil {
			t.Fatal(err)
		}
		cells, err := conv.Cells(item)
		if err != nil {
			t.Fatal(err)
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells: append([]any{m.GetName()}, cells...),
			Object: runtime.RawExtension{Object: &metav1.PartialObjectMetadata{
				TypeMeta:   metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadata"},
				ObjectMeta: *item.(metav1.ObjectMetaAccessor).GetObjectMeta().(*metav1.ObjectMeta),
			}},
		})
	}
	return table
}

// fakeAPIServer answers what `kubectl get pods` and `kubectl get nodes` ask:
// the version, discovery of core/v1, and the two lists as tables.
func fakeAPIServer(t *testing.T, tables map[string]*metav1.Table) *httptest.Server {
	var mu sync.Mutex
	var unexpected []string
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, u := range unexpected {
			t.Errorf("fake API server: %s", u)
		}
	})
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(v); err != nil {
			t.Errorf("encode reply: %v", err)
		}
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api":
			reply(w, &metav1.APIVersions{
				TypeMeta:                   metav1.TypeMeta{Kind: "APIVersions"},
				Versions:                   []string{"v1"},
				ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}},
			})
			return
		case "/version":
			reply(w, &version.Info{Major: "1", Minor: "32", GitVersion: "v1.32.2", Platform: "linux/amd64"})
			return
		case "/apis":
			reply(w, &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{}})
			return
		case "/api/v1":
			verbs := metav1.Verbs{"get", "list"}
			reply(w, &metav1.APIResourceList{
				TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
				GroupVersion: "v1",
				APIResources: []metav1.APIResource{
					{Name: "nodes", SingularName: "node", Kind: "Node", Verbs: verbs, ShortNames: []string{"no"}},
					{Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod", Verbs: verbs, ShortNames: []string{"po"}, Categories: []string{"all"}},
				},
			})
			return
		}
		table, ok := tables[r.URL.Path]
		if !ok {
			mu.Lock()
			unexpected = append(unexpected, "unexpected "+r.Method+" "+r.URL.String())
			mu.Unlock()
			http.NotFound(w, r)
			return
		}
		if !strings.Contains(r.Header.Get("Accept"), "as=Table") {
			mu.Lock()
			unexpected = append(unexpected, r.URL.Path+" asked for "+r.Header.Get("Accept")+", not a table")
			mu.Unlock()
		}
		reply(w, table)
	}))
}

func kubectlBinary(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kubectl")
	if err != nil {
		if _, statErr := os.Stat("/usr/bin/kubectl"); statErr == nil {
			return "/usr/bin/kubectl"
		}
		if os.Getenv("KINDISH_REQUIRE_KUBECTL") == "1" {
			t.Fatalf("kubectl is required (KINDISH_REQUIRE_KUBECTL=1) but not found: %v", err)
		}
		t.Skipf("kubectl not found, so its rendering of the tables cannot be checked: %v", err)
	}
	return path
}

// The real kubectl renders our tables as it renders kube-apiserver's.
func TestKubectlGetRendersTheTables(t *testing.T) {
	kubectl := kubectlBinary(t)
	c := NewConvertors(func() time.Time { return testNow })

	web := testPod(corev1.PodRunning, "web")
	web.Name = "web-7d4b9c6f5d-x2x7q"
	web.Spec.NodeName = "kind-worker"
	web.Status.PodIP = "10.244.1.5"
	web.Status.ContainerStatuses = []corev1.ContainerStatus{running("web", true)}
	crash := testPod(corev1.PodRunning, "app", "proxy")
	crash.Name = "crash"
	crash.Spec.NodeName = "kind-worker"
	crash.Status.PodIP = "10.244.1.6"
	crash.Status.ContainerStatuses = []corev1.ContainerStatus{restarted(waiting("app", "CrashLoopBackOff"), 3, 5*time.Minute), running("proxy", true)}
	setup := withInit(testPod(corev1.PodPending, "app"), "migrate")
	setup.Name = "setup"
	setup.Status.InitContainerStatuses = []corev1.ContainerStatus{running("migrate", false)}
	pending := testPod(corev1.PodPending, "app")
	pending.Name = "pending"
	pending.CreationTimestamp = ago(78 * time.Second)
	pending.Status.NominatedNodeName = "kind-worker2"
	pods := &corev1.PodList{Items: []corev1.Pod{*web, *crash, *setup, *pending}}

	controlPlane := testNode(corev1.ConditionTrue, map[string]string{"node-role.kubernetes.io/control-plane": ""})
	worker := testNode(corev1.ConditionTrue, nil)
	worker.Name = "kind-worker"
	worker.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.18.0.3"}}
	cordoned := testNode(corev1.ConditionFalse, nil)
	cordoned.Name = "kind-worker2"
	cordoned.Spec.Unschedulable = true
	cordoned.CreationTimestamp = ago(3 * 24 * time.Hour)
	cordoned.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.18.0.4"}}
	nodes := &corev1.NodeList{Items: []corev1.Node{*controlPlane, *worker, *cordoned}}

	server := fakeAPIServer(t, map[string]*metav1.Table{
		"/api/v1/namespaces/default/pods": serverTable(t, c.For(podsGVR), pods),
		"/api/v1/nodes":                   serverTable(t, c.For(registry.CoreV1.WithResource("nodes")), nodes),
	})
	defer server.Close()

	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: kindish
  cluster:
    server: `+server.URL+`
contexts:
- name: kindish
  context:
    cluster: kindish
    user: kindish
    namespace: default
users:
- name: kindish
  user: {}
current-context: kindish
`), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "pods"}, `
NAME                   READY   STATUS             RESTARTS     AGE
web-7d4b9c6f5d-x2x7q   1/1     Running            0            10m
crash                  1/2     CrashLoopBackOff   3 (5m ago)   10m
setup                  0/1     Init:0/1           0            10m
pending                0/1     Pending            0            78s
`},
		{[]string{"get", "pods", "-o", "wide"}, `
NAME                   READY   STATUS             RESTARTS     AGE   IP           NODE          NOMINATED NODE   READINESS GATES
web-7d4b9c6f5d-x2x7q   1/1     Running            0            10m   10.244.1.5   kind-worker   <none>           <none>
crash                  1/2     CrashLoopBackOff   3 (5m ago)   10m   10.244.1.6   kind-worker   <none>           <none>
setup                  0/1     Init:0/1           0            10m   <none>       <none>        <none>           <none>
pending                0/1     Pending            0            78s   <none>       <none>        kind-worker2     <none>
`},
		{[]string{"get", "nodes"}, `
NAME                 STATUS                        ROLES           AGE   VERSION
kind-control-plane   Ready                         control-plane   78s   v1.32.2
kind-worker          Ready                         <none>          78s   v1.32.2
kind-worker2         NotReady,SchedulingDisabled   <none>          3d    v1.32.2
`},
		{[]string{"get", "nodes", "-o", "wide"}, `
NAME                 STATUS                        ROLES           AGE   VERSION   INTERNAL-IP   EXTERNAL-IP   OS-IMAGE                         KERNEL-VERSION     CONTAINER-RUNTIME
kind-control-plane   Ready                         control-plane   78s   v1.32.2   172.18.0.2    <none>        Debian GNU/Linux 12 (bookworm)   6.8.0-45-generic   containerd://2.0.2
kind-worker          Ready                         <none>          78s   v1.32.2   172.18.0.3    <none>        Debian GNU/Linux 12 (bookworm)   6.8.0-45-generic   containerd://2.0.2
kind-worker2         NotReady,SchedulingDisabled   <none>          3d    v1.32.2   172.18.0.4    <none>        Debian GNU/Linux 12 (bookworm)   6.8.0-45-generic   containerd://2.0.2
`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			args := append([]string{"--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(dir, "cache")}, tc.args...)
			cmd := exec.CommandContext(ctx, kubectl, args...)
			cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("kubectl %s: %v\n%s", strings.Join(tc.args, " "), err, stderr.String())
			}
			if got, want := string(out), strings.TrimPrefix(tc.want, "\n"); got != want {
				t.Errorf("kubectl %s printed\n%s\nwant\n%s\nstderr: %s", strings.Join(tc.args, " "), got, want, stderr.String())
			}
		})
	}
}
