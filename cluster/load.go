package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/distribution/reference"

	"github.com/kindish/kindish/cluster/internal/parallel"
	"github.com/kindish/kindish/cluster/provider"
	"github.com/kindish/kindish/images"
	"github.com/kindish/kindish/images/workload"
)

// LoadOptions selects the nodes that images are loaded into.
type LoadOptions struct {
	// Cluster is the cluster's name; empty means the default cluster.
	Cluster string
	// Nodes are node names; empty means every node of the cluster.
	Nodes []string
}

// importCommand imports an image archive read from stdin into the
// namespace the CRI plugin reads, as kind does: every platform, so that
// multi-platform archives import whole; with --digests, so that images
// saved without a tag still get a name; unpacked for the snapshotter
// the CRI plugin uses, so that the first pod starts without an unpack.
var importCommand = []string{"ctr", "--namespace=k8s.io", "images", "import", "--all-platforms", "--digests", "--snapshotter=overlayfs", "-"}

// criCommand asks a node's runtime about its images (nodeagent/criclient).
var criCommand = []string{images.NodeBinary, "kindish-cri"}

// LoadDockerImages pushes images from the local engine to the registry the
// nodes pull through, and copies them into the nodes' containerd, so that
// pods find them whatever their pull policy. Every image must be present
// locally. The registry, or a node, that already holds an image as the same
// ID is skipped for it, so loading again after no change is quick.
func (m *Manager) LoadDockerImages(ctx context.Context, refs []string, opts LoadOptions) error {
	name := m.ResolveName(opts.Cluster)
	refs = uniq(refs)
	if len(refs) == 0 {
		return errors.New("no image to load")
	}
	ids, err := m.localImageIDs(ctx, refs)
	if err != nil {
		return err
	}
	nodes, err := m.loadTargets(ctx, name, opts.Nodes)
	if err != nil {
		return err
	}
	if err := m.pushImages(ctx, refs, ids, true); err != nil {
		return err
	}

	// lacking[i] are the images node i does not hold yet.
	lacking := make([][]string, len(nodes))
	_ = parallel.ForEach(nodes, func(i int, n provider.Node) error {
		for j, ref := range refs {
			if m.nodeHasImage(ctx, n.Name, ref, ids[j]) {
				m.log.Info("image already present on node", "image", ref, "node", n.Name, "id", ids[j])
				continue
			}
			lacking[i] = append(lacking[i], ref)
		}
		return nil
	})
	return m.loadBatches(ctx, batchByImages(nodes, lacking))
}

// pushImages puts the images into the registry the nodes pull through,
// unless it holds them already, so that pods pulling them (imagePullPolicy
// Always, a :latest tag) find them. Each push has a status line of its own
// when statusLines is set; otherwise the caller's line covers them.
func (m *Manager) pushImages(ctx context.Context, refs, ids []string, statusLines bool) error {
	reg, err := m.registry(ctx)
	if err != nil {
		return err
	}
	for i, ref := range refs {
		if named, err := reference.ParseNormalizedNamed(ref); err == nil {
			if _, ok := named.(reference.Digested); ok {
				m.log.Info("image named by digest: loaded into the nodes but not pushed to the registry", "image", ref)
				continue
			}
		}
		has, err := reg.HasImage(ctx, ref, ids[i])
		if err != nil {
			return err
		}
		if has {
			m.log.Info("image already in the registry", "image", ref, "id", ids[i])
			continue
		}
		if statusLines {
			m.status.Start(fmt.Sprintf("Pushing image %s to the registry", ref))
		}
		_, err = reg.Push(ctx, ref)
		if statusLines {
			m.status.End(err == nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// localImageIDs returns the engine's ID of each image, failing on the
// first one that is not present.
func (m *Manager) localImageIDs(ctx context.Context, refs []string) ([]string, error) {
	ids := make([]string, len(refs))
	for i, ref := range refs {
		id, err := m.provider.ImageID(ctx, ref)
		if errors.Is(err, provider.ErrImageNotFound) {
			return nil, fmt.Errorf("image %q is not present in the local Docker engine, where kindish loads images from", ref)
		}
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

// loadBatches imports each batch of images into its nodes, a status line
// a batch.
func (m *Manager) loadBatches(ctx context.Context, batches []loadBatch) error {
	for _, b := range batches {
		m.status.Start(fmt.Sprintf("Loading %s into %d node(s)", describeImages(b.refs), len(b.nodes)))
		err := m.loadFromEngine(ctx, b.refs, b.nodes)
		m.status.End(err == nil)
		if err != nil {
			return err
		}
	}
	return nil
}

// preloader loads images into the nodes of a cluster being created.
type preloader struct{ m *Manager }

// Ensure checks that every image to preload is present locally, building
// kindish's workload images (busybox, nginx, kindish/testbox) first when
// one of them is asked for and missing, as the node image is.
func (p preloader) Ensure(ctx context.Context, refs []string) error {
	refs = uniq(refs)
	_, err := p.m.localImageIDs(ctx, refs)
	if err == nil || !slices.ContainsFunc(refs, p.m.missingWorkloadImage(ctx)) {
		return err
	}
	p.m.log.Info("workload images missing: building them")
	if _, err := p.m.BuildImages(ctx); err != nil {
		return err
	}
	_, err = p.m.localImageIDs(ctx, refs)
	return err
}

// missingWorkloadImage returns a test of whether a reference names one of
// kindish's workload images that the engine lacks.
func (m *Manager) missingWorkloadImage(ctx context.Context) func(ref string) bool {
	return func(ref string) bool {
		name, err := normalizeRef(ref)
		if err != nil {
			return false
		}
		for _, w := range workload.Refs() {
			if wn, _ := normalizeRef(w); wn == name {
				_, err := m.provider.ImageID(ctx, ref)
				return errors.Is(err, provider.ErrImageNotFound)
			}
		}
		return false
	}
}

// Load pushes the images to the registry and imports them into new nodes,
// which hold none of them yet.
func (p preloader) Load(ctx context.Context, refs []string, nodes []string) error {
	refs = uniq(refs)
	ids, err := p.m.localImageIDs(ctx, refs)
	if err != nil {
		return err
	}
	if err := p.m.pushImages(ctx, refs, ids, false); err != nil {
		return err
	}
	targets := make([]provider.Node, len(nodes))
	for i, n := range nodes {
		targets[i] = provider.Node{Name: n, Running: true}
	}
	return p.m.loadFromEngine(ctx, refs, targets)
}

// LoadImageArchive imports an image archive (docker save or OCI layout tar)
// into the nodes' containerd.
func (m *Manager) LoadImageArchive(ctx context.Context, path string, opts LoadOptions) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("image archive: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return fmt.Errorf("image archive: %w", err)
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("image archive %s is not a regular file", path)
	}
	nodes, err := m.loadTargets(ctx, m.ResolveName(opts.Cluster), opts.Nodes)
	if err != nil {
		return err
	}
	m.status.Start(fmt.Sprintf("Loading image archive %s into %d node(s)", filepath.Base(path), len(nodes)))
	err = m.importArchive(ctx, f, nodes)
	m.status.End(err == nil)
	return err
}

// loadTargets returns the running nodes of the cluster that opts names.
func (m *Manager) loadTargets(ctx context.Context, cluster string, names []string) ([]provider.Node, error) {
	all, err := m.provider.ListNodes(ctx, cluster)
	if err != nil {
		return nil, err
	}
	return selectNodes(cluster, all, names)
}

// selectNodes picks the named nodes of a cluster (all of them when names is
// empty). Loading needs each node's containerd, so a stopped node is an
// error rather than a silent gap in the cluster.
func selectNodes(cluster string, all []provider.Node, names []string) ([]provider.Node, error) {
	if len(all) == 0 {
		return nil, fmt.Errorf("no cluster named %q (kindish get clusters lists them)", cluster)
	}
	selected := all
	if len(names) > 0 {
		selected = nil
		for _, name := range uniq(names) {
			i := slices.IndexFunc(all, func(n provider.Node) bool { return n.Name == name })
			if i < 0 {
				return nil, fmt.Errorf("cluster %q has no node %q; its nodes are: %s", cluster, name, strings.Join(nodeNames(all), ", "))
			}
			selected = append(selected, all[i])
		}
	}
	for _, n := range selected {
		if !n.Running {
			return nil, fmt.Errorf("node %s of cluster %q is not running", n.Name, cluster)
		}
	}
	return selected, nil
}

func nodeNames(nodes []provider.Node) []string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	return names
}

// nodeHasImage reports whether the node's containerd holds the image under
// its name with the given ID. Any doubt (a reference containerd cannot
// name, a node that cannot answer) counts as absent: loading again is
// always correct, only slower.
func (m *Manager) nodeHasImage(ctx context.Context, node, ref, id string) bool {
	name, err := normalizeRef(ref)
	if err != nil {
		m.log.Debug("cannot name the image as containerd does; loading it", "image", ref, "error", err)
		return false
	}
	var out bytes.Buffer
	cmd := append(slices.Clone(criCommand), "image-id", name)
	if err := m.provider.Exec(ctx, node, cmd, provider.ExecOptions{Stdout: &out}); err != nil {
		m.log.Debug("image not found on node", "image", name, "node", node, "error", err)
		return false
	}
	return strings.TrimSpace(out.String()) == id
}

// normalizeRef spells a reference as containerd records the images it
// imports: "nginx" is "docker.io/library/nginx:latest", "foo/bar:1" is
// "docker.io/foo/bar:1", and a reference with a digest keeps only the
// digest.
func normalizeRef(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", err
	}
	return named.String(), nil
}

// loadBatch is a set of images going to the nodes that lack exactly them:
// one `docker save` serves the whole batch.
type loadBatch struct {
	refs  []string
	nodes []provider.Node
}

// batchByImages groups the nodes by the images they lack, in node order.
// Nodes lacking nothing are left out.
func batchByImages(nodes []provider.Node, lacking [][]string) []loadBatch {
	var batches []loadBatch
	for i, n := range nodes {
		if len(lacking[i]) == 0 {
			continue
		}
		j := slices.IndexFunc(batches, func(b loadBatch) bool { return slices.Equal(b.refs, lacking[i]) })
		if j < 0 {
			batches = append(batches, loadBatch{refs: lacking[i]})
			j = len(batches) - 1
		}
		batches[j].nodes = append(batches[j].nodes, n)
	}
	return batches
}

func describeImages(refs []string) string {
	if len(refs) == 1 {
		return "image " + refs[0]
	}
	return "images " + strings.Join(refs, ", ")
}

// loadFromEngine streams one `docker save` of the images into every node.
func (m *Manager) loadFromEngine(ctx context.Context, refs []string, nodes []provider.Node) error {
	archive, err := m.provider.SaveImages(ctx, refs)
	if err != nil {
		return err
	}
	defer archive.Close()
	return m.importArchive(ctx, archive, nodes)
}

// importArchive feeds one archive to every node's import at once. The
// archive is read once and fanned out through a pipe per node, so that it
// is neither saved several times nor staged on disk; a node whose import
// fails drops out while the others go on.
func (m *Manager) importArchive(ctx context.Context, archive io.Reader, nodes []provider.Node) error {
	readers := make([]*io.PipeReader, len(nodes))
	fan := &fanOut{writers: make([]*io.PipeWriter, len(nodes))}
	for i := range nodes {
		readers[i], fan.writers[i] = io.Pipe()
	}
	feed := func() error {
		_, err := io.Copy(fan, archive)
		if errors.Is(err, errNoReader) {
			// Every import ended; their own errors tell why.
			err = nil
		}
		fan.closeAll(err)
		if err != nil {
			return fmt.Errorf("read the image archive: %w", err)
		}
		return nil
	}
	fns := []func() error{feed}
	for i, n := range nodes {
		fns = append(fns, func() error {
			err := m.provider.Exec(ctx, n.Name, importCommand, provider.ExecOptions{Stdin: readers[i]})
			// An import that ended early must not block the feed.
			readers[i].CloseWithError(errImportEnded)
			if err != nil {
				return fmt.Errorf("import images into node %s: %w", n.Name, err)
			}
			return nil
		})
	}
	return parallel.All(fns...)
}

var (
	errImportEnded = errors.New("the import ended")
	errNoReader    = errors.New("no import is reading the archive")
)

// fanOut writes to every pipe still open: unlike io.MultiWriter, one
// reader going away does not stop the others.
type fanOut struct {
	writers []*io.PipeWriter
}

func (f *fanOut) Write(p []byte) (int, error) {
	live := 0
	for i, w := range f.writers {
		if w == nil {
			continue
		}
		if _, err := w.Write(p); err != nil {
			f.writers[i] = nil
			continue
		}
		live++
	}
	if live == 0 {
		return 0, errNoReader
	}
	return len(p), nil
}

// closeAll ends every stream: at EOF when err is nil, else with err.
func (f *fanOut) closeAll(err error) {
	for _, w := range f.writers {
		if w != nil {
			w.CloseWithError(err)
		}
	}
}

// uniq drops repeated strings, keeping the first occurrence's order.
func uniq(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
