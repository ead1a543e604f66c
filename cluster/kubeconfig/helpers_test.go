package kubeconfig

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// otherClusters is a kubeconfig another tool wrote: every kind of entry,
// relative paths, extensions and preferences, none of which kindish owns.
const otherClusters = `apiVersion: v1
kind: Config
preferences:
  colors: true
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
    certificate-authority: certs/prod-ca.crt
    extensions:
    - name: client.authentication.k8s.io/exec
      extension:
        audience: prod
- name: kind-kind
  cluster:
    server: https://127.0.0.1:40000
    insecure-skip-tls-verify: true
users:
- name: prod-admin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: get-token
      args: ["--cluster", "prod"]
      interactiveMode: Never
- name: kind-kind
  user:
    token: abc
contexts:
- name: prod
  context:
    cluster: prod
    user: prod-admin
    namespace: payments
- name: kind-kind
  context:
    cluster: kind-kind
    user: kind-kind
current-context: prod
`

func testConfig(cluster string) *clientcmdapi.Config {
	return Build(cluster, "https://127.0.0.1:6443", []byte("ca"), []byte("cert-"+cluster), []byte("key-"+cluster))
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func load(t *testing.T, path string) *clientcmdapi.Config {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func loadString(t *testing.T, content string) *clientcmdapi.Config {
	t.Helper()
	cfg, err := clientcmd.Load([]byte(content))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func assertMode(t *testing.T, path string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("%s: mode %o, want 600", path, got)
	}
}

// assertHasCluster checks that cfg holds all of cluster's entries as Build
// made them.
func assertHasCluster(t *testing.T, cfg *clientcmdapi.Config, cluster string) {
	t.Helper()
	name := ContextName(cluster)
	want := testConfig(cluster)
	c, u, x := cfg.Clusters[name], cfg.AuthInfos[name], cfg.Contexts[name]
	if c == nil || u == nil || x == nil {
		t.Errorf("%s: missing entries (cluster %v, user %v, context %v)", name, c != nil, u != nil, x != nil)
		return
	}
	if c.Server != want.Clusters[name].Server || string(c.CertificateAuthorityData) != "ca" {
		t.Errorf("%s: cluster entry = %+v", name, c)
	}
	if string(u.ClientCertificateData) != "cert-"+cluster || string(u.ClientKeyData) != "key-"+cluster {
		t.Errorf("%s: user entry holds the wrong certificate or key", name)
	}
	if x.Cluster != name || x.AuthInfo != name {
		t.Errorf("%s: context = %+v", name, x)
	}
}
