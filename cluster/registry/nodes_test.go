package registry

import (
	"maps"
	"path"
	"slices"
	"strings"
	"testing"
	"time"
)

// parseHostsTOML reads the subset of TOML hosts.toml uses: top-level
// key = value lines, values kept as written, and table headers.
func parseHostsTOML(t *testing.T, text string) (keys map[string]string, tables []string) {
	t.Helper()
	keys = map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			tables = append(tables, line)
		case len(tables) > 0:
			t.Fatalf("key %q inside table %s: the registry must be the server, not a host", line, tables[len(tables)-1])
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("not a key = value line: %q", line)
			}
			keys[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return keys, tables
}

var testTLS = NodeTLS{CA: "/etc/c/ca.crt", ClientCert: "/etc/c/client.crt", ClientKey: "/etc/c/client.key"}

func TestHostsTOMLSendsAnUpstreamToItsPlaceInTheRegistryOnly(t *testing.T) {
	keys, tables := parseHostsTOML(t, string(HostsTOML("kindish-registry:5000", "docker.io", testTLS)))
	for k, want := range map[string]string{
		"server":        `"https://kindish-registry:5000/v2/docker.io"`,
		"override_path": "true",
		"capabilities":  `["pull", "resolve"]`,
		"ca":            `"/etc/c/ca.crt"`,
		"client":        `[["/etc/c/client.crt", "/etc/c/client.key"]]`,
	} {
		if keys[k] != want {
			t.Errorf("%s = %s, want %s", k, keys[k], want)
		}
	}
	if len(keys) != 5 {
		t.Errorf("keys %v, want only the server's", slices.Sorted(maps.Keys(keys)))
	}
	// The empty table containerd 1.6 needs, and no host that would be
	// tried before the server.
	if !slices.Equal(tables, []string{"[host]"}) {
		t.Errorf("tables %q, want the empty [host] alone", tables)
	}
}

func TestHostsTOMLForTheRegistrysOwnName(t *testing.T) {
	keys, tables := parseHostsTOML(t, string(HostsTOML("kindish-registry:5000", "", testTLS)))
	if keys["server"] != `"https://kindish-registry:5000"` {
		t.Errorf("server = %s", keys["server"])
	}
	if _, ok := keys["override_path"]; ok {
		t.Error("override_path set: containerd must add /v2 itself")
	}
	if keys["client"] == "" || keys["ca"] == "" || !slices.Equal(tables, []string{"[host]"}) {
		t.Errorf("keys %v, tables %q", keys, tables)
	}
}

// What containerd asks for an upstream's image is where Push put it.
func TestHostsTOMLPathsAreWhereLocatePutsImages(t *testing.T) {
	const self = "kindish-registry:5000"
	for _, upstream := range Upstreams() {
		keys, _ := parseHostsTOML(t, string(HostsTOML(self, upstream, testTLS)))
		root := strings.TrimPrefix(strings.Trim(keys["server"], `"`), "https://"+self+"/v2/")
		loc, err := Locate(upstream+"/team/app:1", self)
		if err != nil {
			t.Fatal(err)
		}
		if want := root + "/team/app"; loc.Repository != want {
			t.Errorf("%s: containerd asks for %s, Push stores %s", upstream, want, loc.Repository)
		}
	}
}

func TestNodeFiles(t *testing.T) {
	p, err := loadOrCreatePKI(t.TempDir(), "kindish-registry", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	files := nodeFiles("kindish-registry:5000", p)
	want := []string{
		"/etc/containerd/certs.d/docker.io/hosts.toml",
		"/etc/containerd/certs.d/ghcr.io/hosts.toml",
		"/etc/containerd/certs.d/kindish-registry:5000/ca.crt",
		"/etc/containerd/certs.d/kindish-registry:5000/client.crt",
		"/etc/containerd/certs.d/kindish-registry:5000/client.key",
		"/etc/containerd/certs.d/kindish-registry:5000/hosts.toml",
		"/etc/containerd/certs.d/quay.io/hosts.toml",
		"/etc/containerd/certs.d/registry.k8s.io/hosts.toml",
	}
	if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, want) {
		t.Fatalf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for p, f := range files {
		wantMode := certMode
		if path.Ext(p) == ".key" {
			wantMode = keyMode
		}
		if f.Mode != wantMode {
			t.Errorf("%s mode %v, want %v", p, f.Mode, wantMode)
		}
	}
	dir := "/etc/containerd/certs.d/kindish-registry:5000/"
	if string(files[dir+"client.key"].Data) != string(p.ClientKey) || string(files[dir+"ca.crt"].Data) != string(p.CACert) || string(files[dir+"client.crt"].Data) != string(p.ClientCert) {
		t.Error("the node's TLS files are not the PKI's")
	}
	// Every hosts.toml names the files that are there.
	for name, f := range files {
		if path.Base(name) != "hosts.toml" {
			continue
		}
		for _, want := range []string{dir + "ca.crt", dir + "client.crt", dir + "client.key"} {
			if !strings.Contains(string(f.Data), `"`+want+`"`) {
				t.Errorf("%s does not name %s", name, want)
			}
		}
	}
	if strings.Contains(string(files["/etc/containerd/certs.d/docker.io/hosts.toml"].Data), "PRIVATE KEY") {
		t.Error("a hosts.toml holds a key")
	}
}

func TestUpstreamsCannotBeChangedFromOutside(t *testing.T) {
	u := Upstreams()
	u[0] = "evil.example"
	if Upstreams()[0] != "docker.io" {
		t.Error("Upstreams returned the package's own slice")
	}
}
