package cluster

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

type entry struct {
	name     string
	typ      byte
	body     string // file content
	linkname string
}

func tarOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.linkname, Mode: 0o600, ModTime: time.Unix(1700000000, 0)}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if e.typ == tar.TypeDir {
			hdr.Mode = 0o700
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tree lists what lies under dir: "path" for files (with their content),
// "path -> target" for links, "path/" for directories.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+" -> "+target)
		case d.IsDir():
			out = append(out, rel+"/")
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+": "+string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExtractTarStaysInsideTheDestination(t *testing.T) {
	outer := t.TempDir()
	dest := filepath.Join(outer, "node")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := tarOf(t,
		entry{name: "pods/", typ: tar.TypeDir},
		entry{name: "pods/ns_p_uid/c/0.log", typ: tar.TypeReg, body: "hello"},
		entry{name: "../escaped", typ: tar.TypeReg, body: "x"},
		entry{name: "pods/../../escaped2", typ: tar.TypeReg, body: "x"},
		entry{name: "/etc/escaped3", typ: tar.TypeReg, body: "x"},
		// An absolute link into the copied tree becomes a relative link.
		entry{name: "containers/p_ns_c-1.log", typ: tar.TypeSymlink, linkname: "/var/log/pods/ns_p_uid/c/0.log"},
		// A link to the host's files is dropped, so what follows it lands
		// in a real directory inside.
		entry{name: "etc", typ: tar.TypeSymlink, linkname: "/etc"},
		entry{name: "etc/inside", typ: tar.TypeReg, body: "x"},
		// A relative link climbing out is dropped too.
		entry{name: "up", typ: tar.TypeSymlink, linkname: "../.."},
		// A link inside is kept, but never written through.
		entry{name: "alias", typ: tar.TypeSymlink, linkname: "pods"},
		entry{name: "alias/through-link", typ: tar.TypeReg, body: "x"},
		entry{name: "pods/hard.log", typ: tar.TypeLink, linkname: "pods/ns_p_uid/c/0.log"},
		entry{name: "dev-null", typ: tar.TypeChar},
	)
	err := extractTar(bytes.NewReader(archive), dest, 0, "/var/log")
	if err == nil {
		t.Fatal("unsafe entries must be reported")
	}
	for _, name := range []string{"../escaped", "pods/../../escaped2", "/etc/escaped3", "alias/through-link"} {
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
			t.Errorf("error does not report %s: %v", name, err)
		}
	}
	if got := tree(t, outer); !slices.Equal(got, []string{
		"node/",
		"node/alias -> pods",
		"node/containers/",
		"node/containers/p_ns_c-1.log -> ../pods/ns_p_uid/c/0.log",
		"node/etc/",
		"node/etc/inside: x",
		"node/pods/",
		"node/pods/hard.log: hello",
		"node/pods/ns_p_uid/",
		"node/pods/ns_p_uid/c/",
		"node/pods/ns_p_uid/c/0.log: hello",
	}) {
		t.Fatalf("extracted:\n%s", strings.Join(got, "\n"))
	}
	if b, err := os.ReadFile(filepath.Join(dest, "containers/p_ns_c-1.log")); err != nil || string(b) != "hello" {
		t.Fatalf("the rewritten link does not reach the pod's log: %q, %v", b, err)
	}
	fi, err := os.Stat(filepath.Join(dest, "pods/ns_p_uid/c/0.log"))
	if err != nil || !fi.ModTime().Equal(time.Unix(1700000000, 0)) || fi.Mode().Perm() != 0o644 {
		t.Fatalf("file kept neither its time nor readable permissions: %v %v", fi, err)
	}
}

func TestExtractTarStripsTheCopiedDirectory(t *testing.T) {
	dest := t.TempDir()
	// A previous export left a link where a file now lands: the file
	// replaces the link rather than writing through it.
	if err := os.Symlink("/etc/passwd", filepath.Join(dest, "kubelet.log")); err != nil {
		t.Fatal(err)
	}
	archive := tarOf(t,
		entry{name: "kindish/", typ: tar.TypeDir},
		entry{name: "kindish/init.log", typ: tar.TypeReg, body: "init"},
		entry{name: "kindish/kubelet.log", typ: tar.TypeReg, body: "kubelet"},
		entry{name: "kindish/current", typ: tar.TypeSymlink, linkname: "/var/log/kindish/init.log"},
	)
	if err := extractTar(bytes.NewReader(archive), dest, 1, "/var/log/kindish"); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dest); !slices.Equal(got, []string{"current -> init.log", "init.log: init", "kubelet.log: kubelet"}) {
		t.Fatalf("extracted:\n%s", strings.Join(got, "\n"))
	}
}

func TestEntryPath(t *testing.T) {
	for _, tc := range []struct {
		name  string
		strip int
		want  string
		ok    bool
	}{
		{"kindish/init.log", 1, "init.log", true},
		{"kindish/", 1, "", true},
		{"./pods/a", 0, "pods/a", true},
		{"pods/a/../b", 0, "pods/b", true},
		{"..", 0, "", false},
		{"../x", 0, "", false},
		{"kindish/../../x", 1, "", false},
		{"/abs", 0, "", false},
	} {
		got, ok := entryPath(tc.name, tc.strip)
		if got != tc.want || ok != tc.ok {
			t.Errorf("entryPath(%q, %d) = %q, %v; want %q, %v", tc.name, tc.strip, got, ok, tc.want, tc.ok)
		}
	}
}

// Log export's side of the fake engine.

func (f *fakeProvider) Inspect(_ context.Context, node string, w io.Writer) error {
	if f.failInspect[node] {
		return errors.New("inspect: engine hiccup")
	}
	_, err := fmt.Fprintf(w, "[{\"Name\": \"/%s\"}]\n", node)
	return err
}

func (f *fakeProvider) Logs(_ context.Context, node string, w io.Writer) error {
	_, err := fmt.Fprintf(w, "init of %s\n", node)
	return err
}

func (f *fakeProvider) EngineInfo(_ context.Context, w io.Writer) error {
	_, err := io.WriteString(w, "{}\n")
	return err
}

func (f *fakeProvider) CopyFrom(_ context.Context, node, path string) (io.ReadCloser, error) {
	data, ok := f.trees[node][path]
	if !ok {
		return nil, fmt.Errorf("copy %s from node %s: %w", path, node, fs.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func TestExportLogs(t *testing.T) {
	nodes := nodesOf("c", "control-plane", "worker")
	nodes[1].Running = false
	f := &fakeProvider{
		nodes: nodes,
		trees: map[string]map[string][]byte{
			"c-control-plane": {
				"/var/log/kindish": tarOf(t,
					entry{name: "kindish/", typ: tar.TypeDir},
					entry{name: "kindish/containerd.log", typ: tar.TypeReg, body: "containerd"},
				),
				"/var/log/pods": tarOf(t,
					entry{name: "pods/kube-system_etcd_1/etcd/0.log", typ: tar.TypeReg, body: "etcd"},
				),
				"/var/log/containers": tarOf(t,
					entry{name: "containers/etcd_kube-system_etcd-1.log", typ: tar.TypeSymlink, linkname: "/var/log/pods/kube-system_etcd_1/etcd/0.log"},
				),
			},
		},
		failInspect: map[string]bool{"c-worker": true},
	}
	m := newTestManager(f)

	if _, err := m.ExportLogs(context.Background(), "x", t.TempDir()); err == nil || !strings.Contains(err.Error(), `no cluster named "x"`) {
		t.Fatalf("missing cluster: got %v", err)
	}

	dir, err := m.ExportLogs(context.Background(), "c", filepath.Join(t.TempDir(), "logs"))
	if err == nil || !strings.Contains(err.Error(), "node c-worker: inspect.json") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("got %v, want the worker's failure, naming the directory", err)
	}
	if !filepath.IsAbs(dir) {
		t.Fatalf("dir %q is not absolute", dir)
	}
	want := []string{
		"c-control-plane/",
		"c-control-plane/container.log: init of c-control-plane\n",
		"c-control-plane/containerd.log: containerd",
		"c-control-plane/containers/",
		"c-control-plane/containers/etcd_kube-system_etcd-1.log -> ../pods/kube-system_etcd_1/etcd/0.log",
		"c-control-plane/images.log: output of ctr -n k8s.io images ls on c-control-plane\n",
		"c-control-plane/inspect.json: [{\"Name\": \"/c-control-plane\"}]\n",
		"c-control-plane/pods/",
		"c-control-plane/pods/kube-system_etcd_1/",
		"c-control-plane/pods/kube-system_etcd_1/etcd/",
		"c-control-plane/pods/kube-system_etcd_1/etcd/0.log: etcd",
		"c-control-plane/ps.log: output of ps fxwwo pid,cmd on c-control-plane\n",
		// The stopped worker still gets what the engine keeps.
		"c-worker/",
		"c-worker/container.log: init of c-worker\n",
		"c-worker/inspect.json: ",
		"engine-info.json: {}\n",
	}
	got := tree(t, dir)
	if len(got) != len(want)+1 || !slices.Equal(got[:len(got)-1], want) || !strings.HasPrefix(got[len(got)-1], "kindish-version.txt: kindish v") {
		t.Fatalf("exported:\n%s", strings.Join(got, "\n"))
	}

	tmp, err := m.ExportLogs(context.Background(), "c", "")
	if err == nil {
		t.Fatal("the worker still fails")
	}
	defer os.RemoveAll(tmp)
	if !strings.HasPrefix(filepath.Base(tmp), "kindish-logs-") {
		t.Fatalf("temporary dir %q", tmp)
	}
}
