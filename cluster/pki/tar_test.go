package pki

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

type tarEntry struct {
	hdr  *tar.Header
	data []byte
}

func readTar(t *testing.T, data []byte) (map[string]tarEntry, []string) {
	t.Helper()
	entries := map[string]tarEntry{}
	var order []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries, order
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries[hdr.Name] = tarEntry{hdr: hdr, data: body}
		order = append(order, hdr.Name)
	}
}

func TestNodeTarHoldsNodeFilesAndExtras(t *testing.T) {
	b := mustGenerate(t, testOptions())
	extra := map[string]File{
		"/etc/kubernetes/admin.conf":                    {Mode: 0o600, Data: []byte("kubeconfig")},
		"/etc/kubernetes/manifests/kube-apiserver.yaml": {Mode: 0o644, Data: []byte("pod")},
	}
	for _, node := range []string{"kindish-control-plane", "kindish-worker"} {
		data, err := b.NodeTar(node, extra)
		if err != nil {
			t.Fatal(err)
		}
		entries, order := readTar(t, data)
		want := mustNodeFiles(t, b, node)
		for p, f := range extra {
			want[p] = f
		}

		files := 0
		for name, e := range entries {
			if e.hdr.Uid != 0 || e.hdr.Gid != 0 || e.hdr.Uname != "root" || e.hdr.Gname != "root" {
				t.Errorf("%s: %s owned by %d:%d (%s:%s), want root", node, name, e.hdr.Uid, e.hdr.Gid, e.hdr.Uname, e.hdr.Gname)
			}
			if strings.HasPrefix(name, "/") {
				t.Errorf("%s: %s: absolute name; Docker extracts relative to the copy path", node, name)
			}
			switch e.hdr.Typeflag {
			case tar.TypeDir:
				if e.hdr.Mode != 0o755 {
					t.Errorf("%s: directory %s mode %o, want 755", node, name, e.hdr.Mode)
				}
			case tar.TypeReg:
				files++
				f, ok := want["/"+name]
				if !ok {
					t.Errorf("%s: unexpected file %s", node, name)
					continue
				}
				if e.hdr.Mode != int64(f.Mode) {
					t.Errorf("%s: %s mode %o, want %o", node, name, e.hdr.Mode, f.Mode)
				}
				if !bytes.Equal(e.data, f.Data) {
					t.Errorf("%s: %s content differs from NodeFiles", node, name)
				}
			default:
				t.Errorf("%s: %s: unexpected type %c", node, name, e.hdr.Typeflag)
			}
		}
		if files != len(want) {
			t.Errorf("%s: tar holds %d files, want %d", node, files, len(want))
		}

		// Every file's directories come before it, so extraction never has
		// to invent one with a default mode.
		seen := map[string]bool{}
		for _, name := range order {
			parts := strings.Split(strings.TrimSuffix(name, "/"), "/")
			for i := 1; i < len(parts); i++ {
				dir := strings.Join(parts[:i], "/") + "/"
				if !seen[dir] {
					t.Errorf("%s: %s comes before its directory %s", node, name, dir)
				}
			}
			seen[name] = true
		}
	}
}

func TestNodeTarRejectsBadExtras(t *testing.T) {
	b := mustGenerate(t, testOptions())
	tests := map[string]string{
		"relative path":       "etc/kubernetes/admin.conf",
		"unclean path":        "/etc/kubernetes/../admin.conf",
		"root":                "/",
		"replaces a PKI file": CACertPath,
		"file over directory": "/etc/kubernetes/pki",
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := b.NodeTar("kindish-worker", map[string]File{p: {Mode: 0o644}}); err == nil {
				t.Errorf("extra file %q: got no error", p)
			}
		})
	}
}
