package nodeimage

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kindish/kindish/cluster/version"
	"github.com/kindish/kindish/images"
	"github.com/kindish/kindish/images/archive"
	"github.com/kindish/kindish/images/netfilter"
)

func TestBaseKeyChangesWithEveryInputOnly(t *testing.T) {
	base := baseSpec{Suite: "bookworm", Mirror: "http://deb.debian.org/debian", Packages: []string{"runc", "containerd"}, Setup: "set -eu\n"}
	key := base.key()
	if len(key) != 12 {
		t.Fatalf("key %q is not 12 hex digits", key)
	}

	same := map[string]baseSpec{
		"package order": {Suite: base.Suite, Mirror: base.Mirror, Packages: []string{"containerd", "runc"}, Setup: base.Setup},
		"duplicates":    {Suite: base.Suite, Mirror: base.Mirror, Packages: []string{"containerd", "runc", "runc"}, Setup: base.Setup},
	}
	for name, s := range same {
		if s.key() != key {
			t.Errorf("%s changed the key", name)
		}
	}
	changed := map[string]baseSpec{
		"suite":        {Suite: "trixie", Mirror: base.Mirror, Packages: base.Packages, Setup: base.Setup},
		"mirror":       {Suite: base.Suite, Mirror: "http://mirror.example/debian", Packages: base.Packages, Setup: base.Setup},
		"package":      {Suite: base.Suite, Mirror: base.Mirror, Packages: []string{"containerd", "runc", "kmod"}, Setup: base.Setup},
		"setup script": {Suite: base.Suite, Mirror: base.Mirror, Packages: base.Packages, Setup: base.Setup + "true\n"},
		// Fields are delimited: moving text from one input to the next
		// is a change too.
		"shifted": {Suite: base.Suite, Mirror: base.Mirror, Packages: []string{"containerd", "runc\nsetup"}, Setup: base.Setup},
	}
	for name, s := range changed {
		if s.key() == key {
			t.Errorf("changing the %s kept the key", name)
		}
	}
	if BaseImage("http://deb.debian.org/debian") != baseRepository+":"+defaultBaseSpec("http://deb.debian.org/debian").key() {
		t.Error("BaseImage does not name the default recipe")
	}
}

func TestMirrorFromDeb822Sources(t *testing.T) {
	sources := `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`
	if got := mirrorFromSources(sources, "bookworm"); got != "http://deb.debian.org/debian" {
		t.Errorf("mirror %q", got)
	}
	if got := mirrorFromSources(sources, "trixie"); got != "" {
		t.Errorf("mirror for a suite not listed: %q", got)
	}
	srcOnly := "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n"
	if got := mirrorFromSources(srcOnly, "bookworm"); got != "" {
		t.Errorf("deb-src stanza taken as a mirror: %q", got)
	}
}

func TestImageSettings(t *testing.T) {
	got := imageSettings("kindish/node-base:0123456789ab")
	if !slices.Equal(got.Entrypoint, []string{"/sbin/init"}) {
		t.Errorf("entrypoint %q", got.Entrypoint)
	}
	if got.StopSignal != "SIGTERM" {
		t.Errorf("stop signal %q", got.StopSignal)
	}
	if !slices.Contains(got.Env, "container=docker") || !slices.Contains(got.Env, "PATH="+nodePath) {
		t.Errorf("environment %q", got.Env)
	}
	if !strings.HasPrefix(nodePath, "/usr/local/sbin:/usr/local/bin:") {
		t.Errorf("PATH %q does not start with /usr/local", nodePath)
	}
	want := map[string]string{versionLabel: version.Version, baseLabel: "0123456789ab"}
	if !maps.Equal(got.Labels, want) {
		t.Errorf("labels %v, want %v", got.Labels, want)
	}
}

// parseTOML reads the subset of TOML the containerd config uses: section
// headers and key = value lines, values kept as written.
func parseTOML(t *testing.T, text string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{"": {}}
	section := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			if _, dup := out[section]; dup {
				t.Fatalf("section %s twice", section)
			}
			out[section] = map[string]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("not a key = value line: %q", line)
			}
			out[section][strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

func TestContainerdConfig(t *testing.T) {
	cfg := parseTOML(t, string(ContainerdConfig()))
	const cri = `plugins."io.containerd.grpc.v1.cri"`
	for _, want := range []struct{ section, key, value string }{
		{"", "version", "2"},
		{"", "disabled_plugins", "[]"},
		{cri, "sandbox_image", `"docker.io/kindish/pause:` + images.Tag + `"`},
		{cri, "restrict_oom_score_adj", "true"},
		{cri, "tolerate_missing_hugetlb_controller", "true"},
		{cri + ".containerd", "snapshotter", `"overlayfs"`},
		{cri + ".containerd", "default_runtime_name", `"runc"`},
		{cri + ".containerd.runtimes.runc", "runtime_type", `"io.containerd.runc.v2"`},
		{cri + ".containerd.runtimes.runc.options", "SystemdCgroup", "false"},
		{cri + ".cni", "bin_dir", `"/usr/lib/cni"`},
		{cri + ".cni", "conf_dir", `"/etc/cni/net.d"`},
		{cri + ".registry", "config_path", `"/etc/containerd/certs.d"`},
	} {
		if got, ok := cfg[want.section][want.key]; !ok || got != want.value {
			t.Errorf("[%s] %s = %q (set: %v), want %s", want.section, want.key, got, ok, want.value)
		}
	}
	// containerd refuses the deprecated mirrors beside config_path.
	for section := range cfg {
		if strings.HasPrefix(section, cri+".registry.") {
			t.Errorf("[%s] configured; registries are configured by hosts.toml files under config_path only", section)
		}
	}
}

// fakeBinaries writes stand-ins for kindish-node, pause and coredns.
func fakeBinaries(t *testing.T, node string) binaries {
	t.Helper()
	dir := t.TempDir()
	b := binaries{node: filepath.Join(dir, "kindish-node"), pause: filepath.Join(dir, "pause"), coredns: filepath.Join(dir, "coredns")}
	os.WriteFile(b.node, []byte(node), 0o755)
	os.WriteFile(b.pause, []byte("pause"), 0o755)
	os.WriteFile(b.coredns, []byte("coredns"), 0o755)
	return b
}

// fakeNetTools stands in for the netfilter tools layer.
var fakeNetTools = []archive.File{
	archive.Bytes("/usr/sbin/xtables-nft-multi", []byte("iptables"), 0o755),
	archive.Symlink("/usr/sbin/iptables-nft-restore", "xtables-nft-multi"),
}

func readContext(t *testing.T, r io.Reader) map[string]*tar.Header {
	t.Helper()
	tr := tar.NewReader(r)
	out := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

func TestImageFilesLayout(t *testing.T) {
	bins := fakeBinaries(t, "node")
	var buf bytes.Buffer
	if err := archive.WriteTar(&buf, rootfsFiles(bins)); err != nil {
		t.Fatal(err)
	}
	entries := readContext(t, &buf)

	links := map[string]string{
		"usr/sbin/init":   images.NodeBinary,
		"usr/bin/kubelet": images.NodeBinary,
	}
	for name, target := range links {
		h, ok := entries[name]
		if !ok || h.Typeflag != tar.TypeSymlink || h.Linkname != target {
			t.Errorf("%s: want a symlink to %s, got %+v", name, target, h)
		}
	}
	for _, name := range []string{
		"usr/local/bin/kindish-node",
		"etc/containerd/config.toml",
		strings.TrimPrefix(images.VersionFile, "/"),
	} {
		if h, ok := entries[name]; !ok || h.Typeflag != tar.TypeReg {
			t.Errorf("missing file %s", name)
		}
	}
	if h := entries["usr/local/bin/kindish-node"]; h != nil && h.Mode != 0o755 {
		t.Errorf("kindish-node mode %o", h.Mode)
	}
	for _, dir := range []string{"etc/kubernetes/manifests/", "var/lib/kubelet/", "var/lib/etcd/", "etc/cni/net.d/"} {
		if h, ok := entries[dir]; !ok || h.Typeflag != tar.TypeDir {
			t.Errorf("missing directory %s", dir)
		}
	}
	// A directory there would replace the base's merged-/usr symlinks.
	for name := range entries {
		for _, top := range []string{"bin", "sbin", "lib", "lib64"} {
			if name == top+"/" || strings.HasPrefix(name, top+"/") {
				t.Errorf("%s would replace the /%s symlink of the base", name, top)
			}
		}
	}
}

func TestContextDigestFollowsContent(t *testing.T) {
	digest := func(node string) string {
		bins := fakeBinaries(t, node)
		archives, err := writeArchives(t.TempDir(), bins, fakeNetTools)
		if err != nil {
			t.Fatal(err)
		}
		d, err := imageDigest("kindish/node-base:0123456789ab", bins, archives)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if digest("node v1") != digest("node v1") {
		t.Error("same binaries, different context digests")
	}
	if digest("node v1") == digest("node v2") {
		t.Error("a changed binary kept the context digest")
	}
}

// fakeDocker records calls and answers like an engine that has the images
// in its map; containers are created from any image and serve the files of
// rootfs, a host directory.
type fakeDocker struct {
	images  map[string]image.InspectResponse
	imports int
	removed []string
	t       *testing.T

	rootfs         string
	created        []string // the images containers were created from
	containers     map[string]bool
	containerImage map[string]string
	labels         map[string]map[string]string // container -> its labels
	copied         []string

	// The preload: what was copied into its container, which containers
	// started, the exit code and output they give, and the commits.
	copiedIn []string
	started  []string
	exitCode int64
	logs     string
	commits  []container.CommitOptions
}

func (f *fakeDocker) ContainerCreate(_ context.Context, cfg *container.Config, _ *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, _ string) (container.CreateResponse, error) {
	f.created = append(f.created, cfg.Image)
	if f.containers == nil {
		f.containers = map[string]bool{}
	}
	id := fmt.Sprintf("container%d", len(f.created))
	f.containers[id] = true
	if f.containerImage == nil {
		f.containerImage = map[string]string{}
	}
	f.containerImage[id] = cfg.Image
	if f.labels == nil {
		f.labels = map[string]map[string]string{}
	}
	f.labels[id] = cfg.Labels
	return container.CreateResponse{ID: id}, nil
}

func (f *fakeDocker) ContainerRemove(_ context.Context, id string, _ container.RemoveOptions) error {
	if !f.containers[id] {
		return notFound{}
	}
	delete(f.containers, id)
	return nil
}

// CopyFromContainer answers as Docker does: a tar whose entries are named
// from the copied path's base name, links not followed.
func (f *fakeDocker) CopyFromContainer(_ context.Context, id, p string) (io.ReadCloser, container.PathStat, error) {
	if !f.containers[id] {
		return nil, container.PathStat{}, notFound{}
	}
	f.copied = append(f.copied, p)
	src := filepath.Join(f.rootfs, p)
	if _, err := os.Lstat(src); err != nil {
		return nil, container.PathStat{}, notFound{}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.Walk(src, func(file string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(src), file)
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			link, _ = os.Readlink(file)
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(file)
			tw.Write(b)
		}
		return nil
	})
	if err != nil {
		return nil, container.PathStat{}, err
	}
	tw.Close()
	return io.NopCloser(&buf), container.PathStat{Name: filepath.Base(p)}, nil
}

// fakeBase writes the files of a Debian base that the netfilter tools come
// from; text files stand in for the binaries, which have no dependencies
// then.
func fakeBase(t *testing.T) string {
	t.Helper()
	triplet, err := netfilter.Triplet(runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	write := func(p, content string, perm os.FileMode) {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(root, p), []byte(content), perm); err != nil {
			t.Fatal(err)
		}
	}
	write("usr/sbin/xtables-nft-multi", "iptables", 0o755)
	write("usr/sbin/conntrack", "conntrack", 0o755)
	write("usr/sbin/ip", "not taken", 0o755)
	for _, name := range []string{"iptables-nft", "iptables-nft-restore", "iptables-nft-save", "ip6tables-nft", "ip6tables-nft-restore", "ip6tables-nft-save"} {
		os.Symlink("xtables-nft-multi", filepath.Join(root, "usr/sbin", name))
	}
	write("usr/lib/"+triplet+"/xtables/libxt_statistic.so", "statistic", 0o644)
	write("usr/lib/"+triplet+"/libunrelated.so.1", "not taken", 0o644)
	write("etc/protocols", "tcp 6 TCP\n", 0o644)
	write("etc/ethertypes", "IPv4 0800\n", 0o644)
	os.Symlink("usr/lib", filepath.Join(root, "lib"))
	return root
}

func (f *fakeDocker) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if img, ok := f.images[ref]; ok {
		return img, nil
	}
	return image.InspectResponse{}, notFound{}
}

func (f *fakeDocker) ImageImport(context.Context, image.ImportSource, string, image.ImportOptions) (io.ReadCloser, error) {
	f.imports++
	return nil, errors.New("import not expected")
}

func (f *fakeDocker) ImageRemove(_ context.Context, ref string, _ image.RemoveOptions) ([]image.DeleteResponse, error) {
	f.removed = append(f.removed, ref)
	return nil, nil
}

// CopyToContainer records the paths of what is copied in.
func (f *fakeDocker) CopyToContainer(_ context.Context, id, dst string, r io.Reader, _ container.CopyToContainerOptions) error {
	if !f.containers[id] {
		return notFound{}
	}
	for name := range readContext(f.t, r) {
		f.copiedIn = append(f.copiedIn, path.Join(dst, name))
	}
	return nil
}

func (f *fakeDocker) ContainerStart(_ context.Context, id string, _ container.StartOptions) error {
	if !f.containers[id] {
		return notFound{}
	}
	f.started = append(f.started, id)
	return nil
}

// ContainerWait answers that the container exited with f.exitCode.
func (f *fakeDocker) ContainerWait(context.Context, string, container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	res := make(chan container.WaitResponse, 1)
	res <- container.WaitResponse{StatusCode: f.exitCode}
	return res, make(chan error)
}

// ContainerLogs answers with f.logs on stderr, multiplexed as Docker does.
func (f *fakeDocker) ContainerLogs(context.Context, string, container.LogsOptions) (io.ReadCloser, error) {
	var buf bytes.Buffer
	stdcopy.NewStdWriter(&buf, stdcopy.Stderr).Write([]byte(f.logs))
	return io.NopCloser(&buf), nil
}

// ContainerCommit makes an image of the container with the reference and
// the container's labels, as the engine does.
func (f *fakeDocker) ContainerCommit(_ context.Context, id string, opts container.CommitOptions) (container.CommitResponse, error) {
	if !f.containers[id] {
		return container.CommitResponse{}, notFound{}
	}
	f.commits = append(f.commits, opts)
	config := &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Labels: f.labels[id]}}
	committed := image.InspectResponse{ID: "sha256:committed" + strconv.Itoa(len(f.commits)), Config: config}
	f.images[opts.Reference] = committed
	f.images[committed.ID] = committed
	return container.CommitResponse{ID: committed.ID}, nil
}

type notFound struct{}

func (notFound) Error() string { return "No such image" }
func (notFound) NotFound()     {}

const fakeBaseID = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestBuildSkipsWhatIsUpToDate(t *testing.T) {
	bins := fakeBinaries(t, "node")
	docker := &fakeDocker{t: t, rootfs: fakeBase(t), images: map[string]image.InspectResponse{
		BaseImage("http://mirror.invalid/debian"): {ID: fakeBaseID},
		images.NodeImage():                        {ID: "sha256:old", Config: &dockerspec.DockerOCIImageConfig{}},
	}}
	opts := Options{
		BinDir:   filepath.Dir(bins.node),
		Docker:   docker,
		Mirror:   "http://mirror.invalid/debian",
		TempDir:  t.TempDir(),
		CacheDir: t.TempDir(),
	}

	if err := Build(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if docker.imports != 0 {
		t.Error("the base was rebuilt although it exists")
	}
	// The image the new one replaced goes.
	if want := []string{"sha256:old"}; !slices.Equal(docker.removed, want) {
		t.Errorf("removed %v, want %v", docker.removed, want)
	}
	// The netfilter tools were copied out of a container of the base; the
	// image was assembled in another; both are gone.
	if want := []string{fakeBaseID, BaseImage("http://mirror.invalid/debian")}; !slices.Equal(docker.created, want) {
		t.Errorf("containers created from %v, want %v", docker.created, want)
	}
	if len(docker.containers) != 0 {
		t.Errorf("containers left behind: %v", docker.containers)
	}
	wantIn := []string{"/kind/preload/pause.tar", "/kind/preload/components.tar", "/kind/preload/config.toml", "/kind/preload/preload.sh",
		"/usr/local/bin/kindish-node", "/usr/sbin/init", "/etc/containerd/config.toml"}
	for _, p := range wantIn {
		if !slices.Contains(docker.copiedIn, p) {
			t.Errorf("the assembling container lacks %s (got %v)", p, docker.copiedIn)
		}
	}
	if len(docker.started) != 1 || len(docker.commits) != 1 {
		t.Fatalf("assembling containers started %v, commits %v: want one of each", docker.started, docker.commits)
	}
	commit := docker.commits[0]
	if commit.Reference != images.NodeImage() || !slices.Contains(commit.Changes, `ENTRYPOINT ["/sbin/init"]`) {
		t.Errorf("commit %+v, want %s with the init as its entrypoint", commit, images.NodeImage())
	}
	labels := docker.images[images.NodeImage()].Config.Labels
	if labels[contextLabel] == "" || labels[versionLabel] != version.Version {
		t.Errorf("the committed node image's labels %v lack the build's digest or the version", labels)
	}

	// Nothing changed: the second build sends nothing to Docker and copies
	// nothing out of the base.
	if err := Build(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if len(docker.created) != 2 || len(docker.commits) != 1 {
		t.Errorf("an unchanged build created containers from %v and committed %d times", docker.created, len(docker.commits))
	}

	// A new binary is a new image.
	if err := os.WriteFile(bins.node, []byte("node v2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Build(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if len(docker.commits) != 2 {
		t.Errorf("a changed binary did not rebuild the image")
	}
	entries, _ := os.ReadDir(opts.TempDir)
	if len(entries) != 0 {
		t.Errorf("scratch files left in %s: %v", opts.TempDir, entries)
	}
}

// A failed import explains itself with the container's output, and leaves
// no node image that a later build would take for up to date.
func TestBuildFailedImportLeavesNoNodeImage(t *testing.T) {
	bins := fakeBinaries(t, "node")
	docker := &fakeDocker{t: t, rootfs: fakeBase(t), exitCode: 1, logs: "containerd did not start:\nbad config\n",
		images: map[string]image.InspectResponse{BaseImage("http://mirror.invalid/debian"): {ID: fakeBaseID}}}
	err := Build(context.Background(), Options{
		BinDir: filepath.Dir(bins.node), Docker: docker, Mirror: "http://mirror.invalid/debian",
		TempDir: t.TempDir(), CacheDir: t.TempDir(),
	})
	if err == nil || !strings.Contains(err.Error(), "import exited 1") || !strings.Contains(err.Error(), "bad config") {
		t.Fatalf("err = %v, want the exit code and the output", err)
	}
	if _, ok := docker.images[images.NodeImage()]; ok || len(docker.commits) != 0 {
		t.Errorf("a node image was tagged (commits %v)", docker.commits)
	}
	if len(docker.containers) != 0 {
		t.Errorf("containers left behind: %v", docker.containers)
	}
}

// A failing debootstrap explains itself: the command line, the tail of its
// output and where the whole log is; and the scratch root is gone.
func TestBaseBuildFailureKeepsCommandAndOutput(t *testing.T) {
	fakeBin := t.TempDir()
	script := "#!/bin/sh\necho 'I: Retrieving InRelease'\necho 'E: Failed getting release file' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(fakeBin, "debootstrap"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", fakeBin+string(os.PathListSeparator)+os.Getenv("PATH"))

	bins := fakeBinaries(t, "node")
	tmp := t.TempDir()
	docker := &fakeDocker{t: t, images: map[string]image.InspectResponse{}}
	err := Build(context.Background(), Options{
		BinDir: filepath.Dir(bins.node), Docker: docker, Mirror: "http://mirror.invalid/debian", TempDir: tmp,
	})
	if err == nil {
		t.Fatal("no error")
	}
	var cmdErr *CommandError
	if !errors.As(err, &cmdErr) {
		t.Fatalf("error %v is not a CommandError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"debootstrap --variant=minbase --include=ca-certificates,conntrack,containerd,",
		"bookworm", "http://mirror.invalid/debian",
		"E: Failed getting release file",
		cmdErr.LogFile,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if _, err := os.Stat(cmdErr.LogFile); err != nil {
		t.Errorf("the log named in the error is gone: %v", err)
	}
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		if e.Name() != filepath.Base(cmdErr.LogFile) {
			t.Errorf("left behind in the scratch directory: %s", e.Name())
		}
	}
	if len(docker.created) != 0 || len(docker.commits) != 0 {
		t.Errorf("the image was assembled after the base failed: containers from %v, commits %v", docker.created, docker.commits)
	}
}

func TestBuildNeedsSourceOrBinaries(t *testing.T) {
	if err := Build(context.Background(), Options{Docker: &fakeDocker{t: t}}); err == nil {
		t.Error("no error without SourceDir or BinDir")
	}
	if err := Build(context.Background(), Options{SourceDir: t.TempDir(), Docker: &fakeDocker{t: t}}); err == nil || !strings.Contains(err.Error(), "go.mod") {
		t.Errorf("a source directory without go.mod: %v", err)
	}
}

func TestImageExists(t *testing.T) {
	docker := &fakeDocker{t: t, images: map[string]image.InspectResponse{"kindish/node:v1": {}}}
	for ref, want := range map[string]bool{"kindish/node:v1": true, "kindish/node:v2": false} {
		got, err := ImageExists(context.Background(), docker, ref)
		if err != nil || got != want {
			t.Errorf("ImageExists(%s) = %v, %v; want %v", ref, got, err, want)
		}
	}
}

func TestReadJSONStream(t *testing.T) {
	var id string
	err := readJSONStream(strings.NewReader(`{"stream":"Step 1/2 : FROM x\n"}{"aux":{"ID":"sha256:abc"}}`), logDiscard, func(aux json.RawMessage) {
		id = string(aux)
	})
	if err != nil || !strings.Contains(id, "sha256:abc") {
		t.Errorf("err %v aux %q", err, id)
	}
	err = readJSONStream(strings.NewReader(`{"stream":"Step 2/2 : COPY rootfs/ /\n"}{"errorDetail":{"message":"no space left on device"},"error":"no space"}`), logDiscard, nil)
	if err == nil || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), "Step 2/2") {
		t.Errorf("stream error not reported with its context: %v", err)
	}
}

func TestParseMountsUnder(t *testing.T) {
	mountinfo := `22 1 8:1 / / rw,relatime - ext4 /dev/vda rw
40 22 0:5 / /var/tmp/kindish-rootfs-1/root/proc rw - proc proc rw
41 22 0:6 / /var/tmp/kindish-rootfs-1/root/sys rw - sysfs sys rw
42 22 0:7 / /var/tmp/kindish-rootfs-10/root/proc rw - proc proc rw
43 22 0:8 / /var/tmp/kindish-rootfs-1/with\040space rw - tmpfs t rw
`
	got := parseMountsUnder(mountinfo, "/var/tmp/kindish-rootfs-1")
	want := []string{"/var/tmp/kindish-rootfs-1/root/proc", "/var/tmp/kindish-rootfs-1/root/sys", "/var/tmp/kindish-rootfs-1/with space"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("mounts %q, want %q", got, want)
	}
}

func TestDebootstrapPhases(t *testing.T) {
	for line, want := range map[string]string{
		"I: Retrieving libc6 2.36-9+deb12u10":    "retrieving",
		"I: Configuring containerd...":           "configuring",
		"I: Base system installed successfully.": "",
		"W: Failure trying to run":               "",
	} {
		got, ok := debootstrapPhase(line)
		if got != want || ok != (want != "") {
			t.Errorf("%q: phase %q %v, want %q", line, got, ok, want)
		}
	}
}

// Cancelling a build stops debootstrap's children too, before the root
// file system is removed.
func TestCancelStopsDebootstrapAndItsChildren(t *testing.T) {
	fakeBin := t.TempDir()
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	script := "#!/bin/sh\nsleep 60 &\necho $! > " + pidFile + "\nwait\n"
	if err := os.WriteFile(filepath.Join(fakeBin, "debootstrap"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", fakeBin+string(os.PathListSeparator)+os.Getenv("PATH"))

	bins := fakeBinaries(t, "node")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Build(ctx, Options{
			BinDir: filepath.Dir(bins.node), Docker: &fakeDocker{t: t, images: map[string]image.InspectResponse{}},
			Mirror: "http://mirror.invalid/debian", TempDir: t.TempDir(),
		})
	}()
	var pid int
	deadline := time.Now().Add(5 * time.Second)
	for pid == 0 && time.Now().Before(deadline) {
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 1 {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("fake debootstrap did not start")
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("cancelled build succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("build did not return after cancellation")
	}
	// Signal 0 probes for existence; the killed child may linger briefly as
	// a zombie of init, which /proc shows as state Z.
	deadline = time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("debootstrap's child %d survived the cancellation", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
