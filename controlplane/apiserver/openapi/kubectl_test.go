package openapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kindish/kindish/controlplane/apiserver/discovery"
	"github.com/kindish/kindish/controlplane/apiserver/discovery/discoverytest"
)

// fakeAPIServer serves the real discovery and OpenAPI documents and fakes
// the rest: /version, and the few resource requests the kubectl commands
// below make, which it records.
type fakeAPIServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*recorded
	// live is the pod GET answers with; nil means not found.
	live []byte
}

type recorded struct {
	method, uri, contentType string
	body                     []byte
}

func newFakeAPIServer(t *testing.T) *fakeAPIServer {
	t.Helper()
	disc, err := discovery.Build(discoverytest.Resources(), "127.0.0.1:6443")
	if err != nil {
		t.Fatal(err)
	}
	docs := documents(t)
	f := &fakeAPIServer{}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/openapi/"):
			docs.ServeHTTP(w, r)
		case discovery.IsDiscoveryPath(r.URL.Path):
			disc.ServeHTTP(w, r)
		case r.URL.Path == "/version":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"major":"1","minor":"32","gitVersion":"v1.32.4","platform":"linux/amd64"}`)
		default:
			f.resource(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// resource answers a pod request: GET with the live pod, writes with what
// was sent.
func (f *fakeAPIServer) resource(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, &recorded{method: r.Method, uri: r.URL.RequestURI(), contentType: r.Header.Get("Content-Type"), body: body})
	live := f.live
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && live != nil:
		_, _ = w.Write(live)
	case r.Method == http.MethodPost:
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	case r.Method == http.MethodPatch && live != nil:
		_, _ = w.Write(live)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"web\" not found","reason":"NotFound","details":{"name":"web","kind":"pods"},"code":404}`)
	}
}

func (f *fakeAPIServer) recorded() []*recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*recorded{}, f.requests...)
}

// kubectl runs the real kubectl against a server, with its own kubeconfig
// and discovery cache.
type kubectl struct {
	t          *testing.T
	bin        string
	kubeconfig string
	cacheDir   string
}

func newKubectl(t *testing.T, server string) *kubectl {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		bin = "/usr/bin/kubectl"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("KINDISH_REQUIRE_KUBECTL") == "1" {
			t.Fatalf("kubectl is required (KINDISH_REQUIRE_KUBECTL=1) but not found: %v", err)
		}
		t.Skipf("kubectl is not installed (%v); set KINDISH_REQUIRE_KUBECTL=1 to make this a failure", err)
	}
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: not-checked
contexts:
- name: fake
  context: {cluster: fake, user: admin, namespace: default}
current-context: fake
`, server)
	if err := os.WriteFile(kubeconfig, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return &kubectl{t: t, bin: bin, kubeconfig: kubeconfig, cacheDir: filepath.Join(dir, "cache")}
}

// run runs kubectl with -v=6 and returns its stdout, its stderr without the
// request log, the URLs it fetched with their status codes, and its error.
func (k *kubectl) run(stdin string, args ...string) (stdout, stderr string, fetched []string, err error) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args = append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir, "-v=6"}, args...)
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+filepath.Dir(k.kubeconfig), "KUBECONFIG="+k.kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var rest []string
	for _, line := range strings.Split(errOut.String(), "\n") {
		if m := requestLine.FindStringSubmatch(line); m != nil {
			fetched = append(fetched, m[1]+" "+m[2]+" "+m[3])
			continue
		}
		if strings.TrimSpace(line) != "" && !klogLine.MatchString(line) {
			rest = append(rest, line)
		}
	}
	return out.String(), strings.Join(rest, "\n"), fetched, err
}

var (
	// round_trippers.go logs each request at -v=6:
	//   "GET https://127.0.0.1:1234/api?timeout=32s 200 OK in 1 milliseconds"
	requestLine = regexp.MustCompile(`\] "?(?:Response"? verb="?)?([A-Z]+)"? (?:url="?)?https://[^/ ]+(/[^ "]*)"?.*? (?:status="?)?(\d{3})`)
	klogLine    = regexp.MustCompile(`^[IWE]\d{4} `)
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// expectNoNotFound fails on fetches of the documents that answered 404.
func expectNoNotFound(t *testing.T, command string, fetched []string, allowed ...string) {
	t.Helper()
next:
	for _, f := range fetched {
		if !strings.HasSuffix(f, " 404") {
			continue
		}
		for _, a := range allowed {
			if strings.Contains(f, a) {
				continue next
			}
		}
		t.Errorf("%s: kubectl got a 404 for %s", command, f)
	}
}

func TestRealKubectl(t *testing.T) {
	srv := newFakeAPIServer(t)
	k := newKubectl(t, srv.URL)

	t.Run("api-resources", func(t *testing.T) {
		out, stderr, fetched, err := k.run("", "api-resources")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		// kubectl lists resources grouped by API group, in discovery order
		// within a group, through a tabwriter.
		var want bytes.Buffer
		w := tabwriter.NewWriter(&want, 6, 4, 3, ' ', 0)
		fmt.Fprintln(w, "NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND")
		resources := discoverytest.Resources()
		sort.SliceStable(resources, func(i, j int) bool {
			if resources[i].GroupVersion.Group != resources[j].GroupVersion.Group {
				return resources[i].GroupVersion.Group < resources[j].GroupVersion.Group
			}
			return resources[i].Name < resources[j].Name
		})
		for _, r := range resources {
			fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\n", r.Name, strings.Join(r.ShortNames, ","), r.GroupVersion, r.Namespaced, r.Kind)
		}
		w.Flush()
		if out != want.String() {
			t.Errorf("kubectl api-resources:\n%s\nwant:\n%s", out, want.String())
		}
		// A fresh cache: discovery is fetched, aggregated (nothing else is).
		if !containsFetch(fetched, "GET /api?") || !containsFetch(fetched, "GET /apis?") || len(fetched) != 2 {
			t.Errorf("kubectl api-resources fetched %v, want /api and /apis (or kubectl's log format changed)", fetched)
		}
		expectNoNotFound(t, "api-resources", fetched)
	})

	t.Run("api-versions", func(t *testing.T) {
		out, stderr, fetched, err := k.run("", "api-versions")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		want := "apps/v1\ncoordination.k8s.io/v1\nrbac.authorization.k8s.io/v1\nv1\n"
		if out != want {
			t.Errorf("kubectl api-versions:\n%s\nwant:\n%s", out, want)
		}
		expectNoNotFound(t, "api-versions", fetched)
	})

	t.Run("explain", func(t *testing.T) {
		out, stderr, fetched, err := k.run("", "explain", "pods.spec.containers")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		for _, want := range []string{
			"KIND:       Pod", "VERSION:    v1", "FIELD: containers <[]Container>",
			"List of containers belonging to the pod.",
			"image\t<string>", "imagePullPolicy\t<string>", "ports\t<[]ContainerPort>", "resources\t<ResourceRequirements>",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("kubectl explain lacks %q:\n%s", want, out)
			}
		}
		if !containsFetch(fetched, "/openapi/v3/api/v1?hash=") {
			t.Errorf("kubectl explain did not read the v3 document: %v", fetched)
		}
		expectNoNotFound(t, "explain", fetched)

		out, stderr, _, err = k.run("", "explain", "deployments.spec.strategy.rollingUpdate.maxSurge")
		if err != nil || !strings.Contains(out, "FIELD: maxSurge <IntOrString>") {
			t.Errorf("kubectl explain maxSurge: %v\n%s%s", err, out, stderr)
		}
	})

	t.Run("explain from v2", func(t *testing.T) {
		// The v2 document, fetched as protobuf and parsed with gnostic.
		out, stderr, fetched, err := k.run("", "explain", "pods.spec.containers.ports", "--output=plaintext-openapiv2")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		for _, want := range []string{"RESOURCE: ports <[]Object>", "containerPort\t<integer>", "protocol\t<string>"} {
			if !strings.Contains(out, want) {
				t.Errorf("kubectl explain (v2) lacks %q:\n%s", want, out)
			}
		}
		if !containsFetch(fetched, "GET /openapi/v2") {
			t.Errorf("kubectl did not fetch /openapi/v2: %v", fetched)
		}
		expectNoNotFound(t, "explain (v2)", fetched)
	})

	validPod := writeFile(t, "pod.yaml", podYAML)
	typoPod := writeFile(t, "typo.yaml", strings.Replace(podYAML, "imagePullPolicy", "imagePullPolicyy", 1))

	t.Run("create dry-run=client", func(t *testing.T) {
		out, stderr, fetched, err := k.run("", "create", "-f", validPod, "--dry-run=client", "-o", "yaml", "--validate=strict")
		if err != nil {
			t.Fatalf("a valid pod is refused: %v\n%s", err, stderr)
		}
		if !strings.Contains(out, "imagePullPolicy: IfNotPresent") {
			t.Errorf("output:\n%s", out)
		}
		expectNoNotFound(t, "create --dry-run=client", fetched)
		t.Logf("kubectl create --dry-run=client fetched %v", fetched)

		// The server advertises fieldValidation on every PATCH, so kubectl
		// leaves unknown fields to it, as it does against kube-apiserver:
		// with nothing sent to the server, the typo goes through.
		out, stderr, _, err = k.run("", "create", "-f", typoPod, "--dry-run=client", "-o", "yaml", "--validate=strict")
		if err != nil || !strings.Contains(out, "imagePullPolicyy") {
			t.Errorf("kubectl validated client-side although the server validates fields: %v\n%s%s", err, out, stderr)
		}
	})

	t.Run("create asks the server to validate", func(t *testing.T) {
		before := len(srv.recorded())
		_, stderr, fetched, err := k.run("", "create", "-f", typoPod, "--validate=strict")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		reqs := srv.recorded()[before:]
		if len(reqs) != 1 || reqs[0].method != http.MethodPost || !strings.Contains(reqs[0].uri, "fieldValidation=Strict") {
			var got []string
			for _, r := range reqs {
				got = append(got, r.method+" "+r.uri)
			}
			t.Errorf("kubectl did not ask for server-side strict validation: %v", got)
		}
		expectNoNotFound(t, "create", fetched)
	})

	t.Run("apply computes a strategic merge patch from v3", func(t *testing.T) {
		// The live pod was applied before: its annotation holds the old
		// manifest.
		applied := map[string]interface{}{}
		if err := json.Unmarshal(mustJSON(t, podYAML), &applied); err != nil {
			t.Fatal(err)
		}
		live := mustJSON(t, podYAML)
		var obj map[string]interface{}
		_ = json.Unmarshal(live, &obj)
		old, _ := json.Marshal(applied)
		obj["metadata"].(map[string]interface{})["annotations"] = map[string]interface{}{
			"kubectl.kubernetes.io/last-applied-configuration": string(old) + "\n",
		}
		obj["metadata"].(map[string]interface{})["namespace"] = "default"
		live, _ = json.Marshal(obj)
		srv.mu.Lock()
		srv.live = live
		srv.mu.Unlock()
		defer func() { srv.mu.Lock(); srv.live = nil; srv.mu.Unlock() }()

		changed := writeFile(t, "changed.yaml", strings.Replace(podYAML, "image: nginx", "image: nginx:2", 1)+`
  - name: sidecar
    image: busybox
`)
		before := len(srv.recorded())
		_, stderr, fetched, err := k.run("", "apply", "-f", changed, "--dry-run=server")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		if strings.Contains(stderr, "error calculating patch from openapi") {
			t.Errorf("kubectl could not use the v3 document:\n%s", stderr)
		}
		var patch *recorded
		for _, r := range srv.recorded()[before:] {
			if r.method == http.MethodPatch {
				patch = r
			}
		}
		if patch == nil {
			t.Fatalf("kubectl sent no PATCH; stderr:\n%s", stderr)
		}
		if patch.contentType != "application/strategic-merge-patch+json" ||
			!strings.Contains(string(patch.body), `"$setElementOrder/containers":[{"name":"web"},{"name":"sidecar"}]`) ||
			!strings.Contains(patch.uri, "dryRun=All") || !strings.Contains(patch.uri, "fieldValidation=Strict") {
			t.Errorf("PATCH %s (%s):\n%s", patch.uri, patch.contentType, patch.body)
		}
		if !containsFetch(fetched, "/openapi/v3/api/v1?hash=") {
			t.Errorf("kubectl apply did not read the v3 document: %v", fetched)
		}
		t.Logf("kubectl apply fetched %v and sent %s", fetched, patch.body)
	})
}

func containsFetch(fetched []string, s string) bool {
	for _, f := range fetched {
		if strings.Contains(f, s) {
			return true
		}
	}
	return false
}

func mustJSON(t *testing.T, y string) []byte {
	t.Helper()
	var obj interface{}
	if err := yaml.Unmarshal([]byte(y), &obj); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
