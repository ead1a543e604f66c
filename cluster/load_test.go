package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kindish/kindish/cluster/pki"
	"github.com/kindish/kindish/cluster/provider"
	"github.com/kindish/kindish/cluster/status"
)

// fakeProvider is an engine whose nodes answer the commands that image
// loading and log export run. Methods it does not override panic (the
// embedded interface is nil), which flags any unexpected call.
type fakeProvider struct {
	provider.Provider

	nodes []provider.Node
	// local is the engine's image store: reference → ID.
	local map[string]string
	// held is each node's containerd store: normalized reference → ID.
	held map[string]map[string]string
	// failImport makes a node's import fail after reading a little.
	failImport map[string]bool
	// trees are tar archives of node paths, for CopyFrom: node → path → tar.
	trees map[string]map[string][]byte
	// failInspect makes Inspect fail for a node.
	failInspect map[string]bool

	mu       sync.Mutex
	imported map[string][]byte // node → the archive its import read
	saves    [][]string        // the image lists of each SaveImages
}

func (f *fakeProvider) ListNodes(_ context.Context, cluster string) ([]provider.Node, error) {
	var out []provider.Node
	for _, n := range f.nodes {
		if n.Cluster == cluster {
			out = append(out, n)
		}
	}
	return out, nil
}

func (f *fakeProvider) ImageID(_ context.Context, image string) (string, error) {
	if id, ok := f.local[image]; ok {
		return id, nil
	}
	return "", fmt.Errorf("image %s: %w", image, provider.ErrImageNotFound)
}

// archiveOf is the fake `docker save` of refs: big enough to need several
// pipe writes.
func archiveOf(refs []string) []byte {
	return bytes.Repeat([]byte(strings.Join(refs, ",")+"\n"), 64<<10)
}

func (f *fakeProvider) SaveImages(_ context.Context, refs []string) (io.ReadCloser, error) {
	f.mu.Lock()
	f.saves = append(f.saves, slices.Clone(refs))
	f.mu.Unlock()
	return io.NopCloser(bytes.NewReader(archiveOf(refs))), nil
}

func (f *fakeProvider) Exec(_ context.Context, node string, cmd []string, opts provider.ExecOptions) error {
	line := strings.Join(cmd, " ")
	switch {
	case slices.Equal(cmd[:len(criCommand)], criCommand) && cmd[len(criCommand)] == "image-id":
		if id, ok := f.held[node][cmd[len(criCommand)+1]]; ok {
			fmt.Fprintln(opts.Stdout, id)
			return nil
		}
		return fmt.Errorf("command %q in node %s exited with code 1", line, node)
	case slices.Equal(cmd, importCommand):
		if f.failImport[node] {
			io.CopyN(io.Discard, opts.Stdin, 1000)
			return fmt.Errorf("command %q in node %s exited with code 1: ctr: unexpected EOF", line, node)
		}
		data, err := io.ReadAll(opts.Stdin)
		f.mu.Lock()
		if f.imported == nil {
			f.imported = map[string][]byte{}
		}
		f.imported[node] = data
		f.mu.Unlock()
		return err
	default:
		fmt.Fprintf(opts.Stdout, "output of %s on %s\n", line, node)
		return nil
	}
}

func newTestManager(p provider.Provider) *Manager {
	return &Manager{provider: p, log: slog.New(slog.DiscardHandler), status: status.Discard(), reg: &fakeRegistry{}}
}

// fakeRegistry holds images by reference and the ID they were pushed as.
type fakeRegistry struct {
	held   map[string]string
	pushes []string
}

func (r *fakeRegistry) HasImage(_ context.Context, ref, id string) (bool, error) {
	return r.held[ref] == id, nil
}

func (r *fakeRegistry) Push(_ context.Context, ref string) (v1.Hash, error) {
	r.pushes = append(r.pushes, ref)
	return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}, nil
}

func (r *fakeRegistry) NodeFiles() map[string]pki.File { return nil }

func nodesOf(cluster string, names ...string) []provider.Node {
	var out []provider.Node
	for _, n := range names {
		out = append(out, provider.Node{Name: cluster + "-" + n, Cluster: cluster, Role: n, Running: true})
	}
	return out
}

func TestNormalizeRefSpellsReferencesAsContainerdDoes(t *testing.T) {
	for _, tc := range []struct{ ref, want string }{
		{"nginx", "docker.io/library/nginx:latest"},
		{"nginx:1.25", "docker.io/library/nginx:1.25"},
		{"foo/bar:1", "docker.io/foo/bar:1"},
		{"kindish-test/hello:1", "docker.io/kindish-test/hello:1"},
		{"docker.io/library/nginx:latest", "docker.io/library/nginx:latest"},
		{"localhost:5000/app", "localhost:5000/app:latest"},
		{"registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"},
		{"nginx:1.25@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
			"docker.io/library/nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31"},
	} {
		got, err := normalizeRef(tc.ref)
		if err != nil || got != tc.want {
			t.Errorf("normalizeRef(%q) = %q, %v; want %q", tc.ref, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "Nginx", "nginx:bad tag", "605c77e624ddb75e6110f997c58876baa13f8754486b461117934b24a9dc3a85"} {
		if got, err := normalizeRef(bad); err == nil {
			t.Errorf("normalizeRef(%q) = %q, want an error", bad, got)
		}
	}
}

func TestSelectNodes(t *testing.T) {
	all := nodesOf("c", "control-plane", "worker", "worker2")
	stopped := slices.Clone(all)
	stopped[1].Running = false
	for _, tc := range []struct {
		name    string
		all     []provider.Node
		names   []string
		want    []string
		wantErr string
	}{
		{name: "no names selects every node", all: all, want: []string{"c-control-plane", "c-worker", "c-worker2"}},
		{name: "names select in the order given, once", all: all, names: []string{"c-worker2", "c-control-plane", "c-worker2"}, want: []string{"c-worker2", "c-control-plane"}},
		{name: "a missing cluster is named", all: nil, wantErr: `no cluster named "c"`},
		{name: "an unknown node lists the cluster's nodes", all: all, names: []string{"c-worker3"},
			wantErr: `cluster "c" has no node "c-worker3"; its nodes are: c-control-plane, c-worker, c-worker2`},
		{name: "a stopped node is an error", all: stopped, wantErr: "node c-worker of cluster \"c\" is not running"},
		{name: "a stopped node not selected is fine", all: stopped, names: []string{"c-worker2"}, want: []string{"c-worker2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := selectNodes("c", tc.all, tc.names)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if names := nodeNames(got); !slices.Equal(names, tc.want) {
				t.Fatalf("got %v, want %v", names, tc.want)
			}
		})
	}
}

func TestBatchByImagesSavesEachDistinctSetOnce(t *testing.T) {
	nodes := nodesOf("c", "a", "b", "c", "d")
	lacking := [][]string{{"x", "y"}, nil, {"x", "y"}, {"y"}}
	got := batchByImages(nodes, lacking)
	if len(got) != 2 ||
		!slices.Equal(got[0].refs, []string{"x", "y"}) || !slices.Equal(nodeNames(got[0].nodes), []string{"c-a", "c-c"}) ||
		!slices.Equal(got[1].refs, []string{"y"}) || !slices.Equal(nodeNames(got[1].nodes), []string{"c-d"}) {
		t.Fatalf("got %+v", got)
	}
}

func TestLoadDockerImagesSkipsNodesThatHoldTheImage(t *testing.T) {
	const id = "sha256:aaaa"
	f := &fakeProvider{
		nodes: nodesOf("c", "control-plane", "worker", "worker2"),
		local: map[string]string{"nginx": id, "foo/bar:1": "sha256:bbbb"},
		held: map[string]map[string]string{
			// Same image: skipped.
			"c-control-plane": {"docker.io/library/nginx:latest": id, "docker.io/foo/bar:1": "sha256:bbbb"},
			// Same name, another ID (rebuilt since): loaded again.
			"c-worker": {"docker.io/library/nginx:latest": "sha256:old"},
		},
	}
	err := newTestManager(f).LoadDockerImages(context.Background(), []string{"nginx", "foo/bar:1", "nginx"}, LoadOptions{Cluster: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.saves) != 1 || !slices.Equal(f.saves[0], []string{"nginx", "foo/bar:1"}) {
		t.Fatalf("saves %v, want one save of both images", f.saves)
	}
	want := archiveOf([]string{"nginx", "foo/bar:1"})
	if _, ok := f.imported["c-control-plane"]; ok {
		t.Error("the control plane holds both images; nothing should be imported there")
	}
	for _, n := range []string{"c-worker", "c-worker2"} {
		if !bytes.Equal(f.imported[n], want) {
			t.Errorf("node %s read %d bytes, want the whole archive (%d)", n, len(f.imported[n]), len(want))
		}
	}
}

func TestLoadDockerImagesNamesTheImageMissingLocally(t *testing.T) {
	f := &fakeProvider{nodes: nodesOf("c", "control-plane"), local: map[string]string{"nginx": "sha256:aaaa"}}
	err := newTestManager(f).LoadDockerImages(context.Background(), []string{"nginx", "redis:7"}, LoadOptions{Cluster: "c"})
	if err == nil || !strings.Contains(err.Error(), `image "redis:7" is not present in the local Docker engine`) {
		t.Fatalf("got %v", err)
	}
	if len(f.saves) != 0 {
		t.Fatal("nothing may be loaded when an image is missing")
	}
}

func TestLoadDockerImagesIntoAMissingCluster(t *testing.T) {
	f := &fakeProvider{nodes: nodesOf("c", "control-plane"), local: map[string]string{"nginx": "sha256:aaaa"}}
	err := newTestManager(f).LoadDockerImages(context.Background(), []string{"nginx"}, LoadOptions{Cluster: "x"})
	if err == nil || !strings.Contains(err.Error(), `no cluster named "x"`) {
		t.Fatalf("got %v", err)
	}
}

func TestImportArchiveGoesOnWhenOneNodeFails(t *testing.T) {
	f := &fakeProvider{
		nodes:      nodesOf("c", "control-plane", "worker", "worker2"),
		failImport: map[string]bool{"c-worker": true},
	}
	archive := archiveOf([]string{"big"})
	err := newTestManager(f).importArchive(context.Background(), bytes.NewReader(archive), f.nodes)
	if err == nil || !strings.Contains(err.Error(), "import images into node c-worker") {
		t.Fatalf("got %v, want the worker's failure", err)
	}
	if strings.Contains(err.Error(), "c-worker2") || strings.Contains(err.Error(), "control-plane") {
		t.Fatalf("healthy nodes reported as failed: %v", err)
	}
	for _, n := range []string{"c-control-plane", "c-worker2"} {
		if !bytes.Equal(f.imported[n], archive) {
			t.Errorf("node %s read %d bytes, want %d", n, len(f.imported[n]), len(archive))
		}
	}
}

func TestLoadImageArchive(t *testing.T) {
	f := &fakeProvider{nodes: nodesOf("c", "control-plane", "worker")}
	m := newTestManager(f)
	missing := filepath.Join(t.TempDir(), "absent.tar")
	if err := m.LoadImageArchive(context.Background(), missing, LoadOptions{Cluster: "c"}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing archive: got %v, want an error naming %s", err, missing)
	}
	if err := m.LoadImageArchive(context.Background(), t.TempDir(), LoadOptions{Cluster: "c"}); err == nil {
		t.Fatal("a directory is not an archive")
	}
	path := filepath.Join(t.TempDir(), "images.tar")
	archive := archiveOf([]string{"from", "file"})
	if err := os.WriteFile(path, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.LoadImageArchive(context.Background(), path, LoadOptions{Cluster: "c", Nodes: []string{"c-worker"}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.imported["c-worker"], archive) || f.imported["c-control-plane"] != nil {
		t.Fatalf("imported: %d bytes on the worker, %d on the control plane", len(f.imported["c-worker"]), len(f.imported["c-control-plane"]))
	}
	err := m.LoadImageArchive(context.Background(), path, LoadOptions{Cluster: "c", Nodes: []string{"c-worker9"}})
	if err == nil || !strings.Contains(err.Error(), "its nodes are: c-control-plane, c-worker") {
		t.Fatalf("unknown node: got %v", err)
	}
}

func TestPreloaderImportsEveryImageIntoEveryNewNodeAtOnce(t *testing.T) {
	f := &fakeProvider{nodes: nodesOf("c", "control-plane", "worker"), local: map[string]string{"nginx": "sha256:aaaa", "busybox": "sha256:bbbb"}}
	p := preloader{newTestManager(f)}
	refs := []string{"nginx", "busybox", "nginx"}
	if err := p.Ensure(context.Background(), refs); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if err := p.Load(context.Background(), refs, []string{"c-control-plane", "c-worker"}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(f.saves) != 1 || !slices.Equal(f.saves[0], []string{"nginx", "busybox"}) {
		t.Fatalf("saves %v, want one save of both images", f.saves)
	}
	want := archiveOf([]string{"nginx", "busybox"})
	for _, n := range []string{"c-control-plane", "c-worker"} {
		if !bytes.Equal(f.imported[n], want) {
			t.Errorf("node %s read %d bytes, want the whole archive (%d)", n, len(f.imported[n]), len(want))
		}
	}
}

func TestPreloaderEnsureNamesTheMissingImage(t *testing.T) {
	f := &fakeProvider{local: map[string]string{"nginx": "sha256:aaaa"}}
	err := preloader{newTestManager(f)}.Ensure(context.Background(), []string{"nginx", "nosuch:1"})
	if err == nil || !strings.Contains(err.Error(), `image "nosuch:1" is not present in the local Docker engine`) {
		t.Fatalf("Ensure = %v, want an error naming nosuch:1", err)
	}
}

func TestLoadDockerImagesPushesOnlyWhatTheRegistryLacks(t *testing.T) {
	f := &fakeProvider{nodes: nodesOf("c", "control-plane"), local: map[string]string{"nginx": "sha256:aaaa", "busybox": "sha256:bbbb", "foo@sha256:" + strings.Repeat("1", 64): "sha256:cccc"}}
	m := newTestManager(f)
	reg := &fakeRegistry{held: map[string]string{"nginx": "sha256:aaaa", "busybox": "sha256:old"}}
	m.reg = reg
	refs := []string{"nginx", "busybox", "foo@sha256:" + strings.Repeat("1", 64)}
	if err := m.LoadDockerImages(context.Background(), refs, LoadOptions{Cluster: "c"}); err != nil {
		t.Fatal(err)
	}
	// nginx is held as it is; busybox is held as another image; an image
	// named by digest cannot be pushed under that digest.
	if !slices.Equal(reg.pushes, []string{"busybox"}) {
		t.Errorf("pushed %v, want [busybox]", reg.pushes)
	}
}
