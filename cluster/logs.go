package cluster

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/kindish/kindish/cluster/internal/parallel"
	"github.com/kindish/kindish/cluster/provider"
	"github.com/kindish/kindish/cluster/version"
)

// nodeLogTrees are the directories of a node copied into its log folder.
var nodeLogTrees = []struct {
	// path in the node.
	path string
	// strip is how many leading components of the archive's entries are
	// dropped: the archive of /var/log/kindish names its files
	// kindish/<file>, and they land at the top of the node's folder.
	strip int
	// nodeDir is the node directory the node's folder stands for once
	// stripped, so that absolute symlinks into the copied trees become
	// relative links that still work (/var/log/containers/*.log point into
	// /var/log/pods).
	nodeDir string
}{
	// The init's, containerd's and the kubelet's logs.
	{path: "/var/log/kindish", strip: 1, nodeDir: "/var/log/kindish"},
	// The pods' container logs, and the kubelet's links to them.
	{path: "/var/log/pods", nodeDir: "/var/log"},
	{path: "/var/log/containers", nodeDir: "/var/log"},
}

// nodeCommands are commands whose output is saved in the node's folder.
var nodeCommands = []struct {
	file string
	cmd  []string
}{
	{"images.log", []string{"ctr", "-n", "k8s.io", "images", "ls"}},
	{"ps.log", []string{"ps", "fxwwo", "pid,cmd"}},
}

// ExportLogs writes what is needed to understand a cluster's problems into
// dir (a new temporary directory when empty): the engine's description of
// every node, the nodes' service and pod logs, their images and processes.
// It returns the directory's absolute path. One node failing does not stop
// the others: the error then lists what is missing, and the directory holds
// everything else.
func (m *Manager) ExportLogs(ctx context.Context, name, dir string) (string, error) {
	name = m.ResolveName(name)
	nodes, err := m.provider.ListNodes(ctx, name)
	if err != nil {
		return "", err
	}
	if len(nodes) == 0 {
		return "", fmt.Errorf("no cluster named %q (kindish get clusters lists them)", name)
	}
	if dir == "" {
		dir, err = os.MkdirTemp("", "kindish-logs-")
	} else {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return "", fmt.Errorf("export logs of cluster %s: %w", name, err)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", fmt.Errorf("export logs of cluster %s: %w", name, err)
	}

	versionLine := fmt.Sprintf("kindish v%s kubernetes %s %s %s/%s\n",
		version.Version, version.KubernetesVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	errs := []error{
		os.WriteFile(filepath.Join(dir, "kindish-version.txt"), []byte(versionLine), 0o644),
		writeFileFrom(filepath.Join(dir, "engine-info.json"), func(w io.Writer) error {
			return m.provider.EngineInfo(ctx, w)
		}),
		parallel.ForEach(nodes, func(_ int, n provider.Node) error {
			return m.exportNodeLogs(ctx, n, filepath.Join(dir, n.Name))
		}),
	}
	if err := errors.Join(errs...); err != nil {
		return dir, fmt.Errorf("exported logs of cluster %s to %s, but some are missing: %w", name, dir, err)
	}
	return dir, nil
}

// exportNodeLogs fills one node's folder, going on after a failure.
func (m *Manager) exportNodeLogs(ctx context.Context, n provider.Node, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	add := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("node %s: %s: %w", n.Name, what, err))
		}
	}
	add("inspect.json", writeFileFrom(filepath.Join(dir, "inspect.json"), func(w io.Writer) error {
		return m.provider.Inspect(ctx, n.Name, w)
	}))
	add("container.log", writeFileFrom(filepath.Join(dir, "container.log"), func(w io.Writer) error {
		return m.provider.Logs(ctx, n.Name, w)
	}))
	for _, t := range nodeLogTrees {
		add(t.path, m.copyLogTree(ctx, n.Name, t.path, dir, t.strip, t.nodeDir))
	}
	if !n.Running {
		m.log.Info("node is not running: its processes and images are not exported", "node", n.Name)
		return errors.Join(errs...)
	}
	for _, c := range nodeCommands {
		add(c.file, writeFileFrom(filepath.Join(dir, c.file), func(w io.Writer) error {
			return m.provider.Exec(ctx, n.Name, c.cmd, provider.ExecOptions{Stdout: w})
		}))
	}
	return errors.Join(errs...)
}

// copyLogTree extracts a node directory into dir. A directory the node
// does not have is skipped: a node without pods has no /var/log/pods.
func (m *Manager) copyLogTree(ctx context.Context, node, src, dir string, strip int, nodeDir string) error {
	rc, err := m.provider.CopyFrom(ctx, node, src)
	if errors.Is(err, fs.ErrNotExist) {
		m.log.Debug("not in the node, skipped", "node", node, "path", src)
		return nil
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	return extractTar(rc, dir, strip, nodeDir)
}

// writeFileFrom creates path and fills it with what write writes. The file
// stays even when write fails: a partial log still helps.
func writeFileFrom(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// extractTar extracts a tar stream under dest, dropping strip leading
// components of each entry's name. It never writes outside dest: entries
// whose names climb out of it are refused, nothing is written through a
// symlink (parents must be real directories, and the os.Root refuses any
// path that resolves outside dest), and a symlink is recorded only when its
// target stays inside dest. Absolute targets under nodeDir, the node
// directory that dest stands for, are rewritten as relative ones; other
// absolute targets are dropped, since on this machine they would name
// files of the host. Devices and other special files are skipped. It goes
// on past a bad entry and returns every problem at the end.
func extractTar(r io.Reader, dest string, strip int, nodeDir string) error {
	root, err := os.OpenRoot(dest)
	if err != nil {
		return err
	}
	defer root.Close()
	var errs []error
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("read archive: %w", err))
			break
		}
		rel, ok := entryPath(hdr.Name, strip)
		if !ok {
			errs = append(errs, fmt.Errorf("archive entry %q: refused: it leaves the destination", hdr.Name))
			continue
		}
		if rel == "" {
			continue // the copied directory itself
		}
		if err := extractEntry(root, tr, hdr, rel, strip, nodeDir); err != nil {
			errs = append(errs, fmt.Errorf("archive entry %q: %w", hdr.Name, err))
		}
	}
	return errors.Join(errs...)
}

func extractEntry(root *os.Root, tr *tar.Reader, hdr *tar.Header, rel string, strip int, nodeDir string) error {
	if hdr.Typeflag == tar.TypeDir {
		return mkdirReal(root, rel)
	}
	if err := mkdirReal(root, path.Dir(rel)); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		if err := replaceable(root, rel); err != nil {
			return err
		}
		f, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil && !hdr.ModTime.IsZero() {
			// Keep the times: they order the logs of a failure.
			err = root.Chtimes(rel, hdr.ModTime, hdr.ModTime)
		}
		return err
	case tar.TypeSymlink:
		target, ok := linkTarget(rel, hdr.Linkname, nodeDir)
		if !ok {
			return nil // a link out of the copied trees: nothing to keep
		}
		if err := replaceable(root, rel); err != nil {
			return err
		}
		return root.Symlink(target, rel)
	case tar.TypeLink:
		old, ok := entryPath(hdr.Linkname, strip)
		if !ok || old == "" {
			return fmt.Errorf("hard link to %q refused: it leaves the destination", hdr.Linkname)
		}
		if err := replaceable(root, rel); err != nil {
			return err
		}
		return root.Link(old, rel)
	default:
		return nil
	}
}

// entryPath cleans an entry's name and strips its leading components. It
// reports false for names that leave the destination.
func entryPath(name string, strip int) (string, bool) {
	clean := path.Clean(name)
	if path.IsAbs(clean) || !filepath.IsLocal(clean) {
		return "", false
	}
	if clean == "." {
		return "", true
	}
	parts := strings.Split(clean, "/")
	if len(parts) <= strip {
		return "", true
	}
	return path.Join(parts[strip:]...), true
}

// linkTarget returns the target to record for a symlink at rel, or false
// when the link would point out of the destination.
func linkTarget(rel, target, nodeDir string) (string, bool) {
	if path.IsAbs(target) {
		within := path.Clean(target)
		if nodeDir == "" || (within != nodeDir && !strings.HasPrefix(within, nodeDir+"/")) {
			return "", false
		}
		r, err := filepath.Rel(path.Dir(path.Join(nodeDir, rel)), within)
		if err != nil {
			return "", false
		}
		target = filepath.ToSlash(r)
	}
	if !filepath.IsLocal(path.Join(path.Dir(rel), target)) {
		return "", false
	}
	return target, true
}

// mkdirReal creates dir and its parents under root, refusing to pass
// through anything but real directories, so that no entry lands behind a
// symlink.
func mkdirReal(root *os.Root, dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	p := ""
	for _, part := range strings.Split(dir, "/") {
		p = path.Join(p, part)
		fi, err := root.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := root.Mkdir(p, 0o755); err != nil {
				return err
			}
		case err != nil:
			return err
		case !fi.IsDir():
			return fmt.Errorf("%s is not a directory", p)
		}
	}
	return nil
}

// replaceable removes what a previous export left at rel, unless it is a
// directory: an entry never overwrites a file through a link.
func replaceable(root *os.Root, rel string) error {
	fi, err := root.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", rel)
	}
	return root.Remove(rel)
}
