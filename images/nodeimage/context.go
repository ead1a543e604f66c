package nodeimage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker/api/types/build"

	"github.com/kindish/kindish/cluster/version"
	"github.com/kindish/kindish/images"
	"github.com/kindish/kindish/images/archive"
	"github.com/kindish/kindish/nodeagent/criclient"
)

// archivePaths are the host paths of the written image archives.
type archivePaths struct {
	pause      string
	components string
}

// writeArchives writes the pause and component image archives into dir;
// netTools is the netfilter tools layer of the kube-proxy and kindnetd
// images.
func writeArchives(dir string, bins binaries, netTools []archive.File) (archivePaths, error) {
	a := archivePaths{
		pause:      filepath.Join(dir, "pause.tar"),
		components: filepath.Join(dir, "components.tar"),
	}
	if err := writeFile(a.pause, func(w io.Writer) error { return archive.WritePause(w, bins.pause) }); err != nil {
		return archivePaths{}, fmt.Errorf("pause image archive: %w", err)
	}
	if err := writeFile(a.components, func(w io.Writer) error {
		return archive.WriteComponents(w, archive.ComponentSources{
			NodeBinary: bins.node,
			Netfilter:  netTools,
			CoreDNS:    bins.coredns,
		})
	}); err != nil {
		return archivePaths{}, fmt.Errorf("component images archive: %w", err)
	}
	return a, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rootfsFiles is what the node image adds to the Debian base. Paths under
// /bin, /sbin and /lib are spelled with their merged-/usr targets: copying a
// directory named sbin would replace the base's /sbin symlink.
func rootfsFiles(bins binaries) []archive.File {
	files := []archive.File{
		archive.HostFile(images.NodeBinary, bins.node, 0o755),
		// PID 1 and the kubelet are kindish-node under other names.
		archive.Symlink("/usr/sbin/init", images.NodeBinary),
		archive.Symlink("/usr/bin/kubelet", images.NodeBinary),
		archive.Bytes("/etc/containerd/config.toml", ContainerdConfig(), 0o644),
		archive.Bytes(images.VersionFile, []byte(version.Version+"\n"), 0o644),
		archive.Dir("/etc/kubernetes/manifests", 0o755),
		archive.Dir("/etc/cni/net.d", 0o755),
		archive.Dir("/var/lib/kubelet", 0o755),
		archive.Dir("/var/lib/etcd", 0o700),
	}
	// Every component under its own name in the node too, so that one can
	// be run by hand (`docker exec node etcd --help`) for debugging; the
	// pods run them from the component images.
	for _, c := range images.Components() {
		files = append(files, archive.Symlink("/usr/local/bin/"+c.Name, images.NodeBinary))
	}
	return append(files, archive.Symlink("/usr/local/bin/"+criclient.CommandName, images.NodeBinary))
}

// entrypoint is the node image's: PID 1 is kindish-node as init.
const entrypoint = "/sbin/init"

// dockerfile turns the base into the node image.
func dockerfile(baseRef string) []byte {
	key := baseRef[strings.LastIndexByte(baseRef, ':')+1:]
	return []byte(fmt.Sprintf(`FROM %s
COPY rootfs/ /
# container=docker tells programs they run in a container, as systemd expects.
ENV container=docker PATH=%s
STOPSIGNAL SIGTERM
LABEL %s=%q %s=%q
ENTRYPOINT ["%s"]
`, baseRef, nodePath, versionLabel, version.Version, baseLabel, key, entrypoint))
}

// contextFiles is the build context: the Dockerfile and the rootfs/ tree it
// copies.
func contextFiles(baseRef string, bins binaries) []archive.File {
	files := []archive.File{archive.Bytes("/Dockerfile", dockerfile(baseRef), 0o644)}
	for _, f := range rootfsFiles(bins) {
		f.Path = "/rootfs" + f.Path
		files = append(files, f)
	}
	return files
}

// imageDigest identifies everything the node image is made of: the build
// context, and the archives preloaded with the script that imports them.
func imageDigest(baseRef string, bins binaries, archives archivePaths) (string, error) {
	return contextDigest(append(contextFiles(baseRef, bins), preloadFiles(archives)...))
}

// contextDigest identifies a build context. archive.WriteTar is
// reproducible, so equal digests mean equal images.
func contextDigest(files []archive.File) (string, error) {
	h := sha256.New()
	if err := archive.WriteTar(h, files); err != nil {
		return "", fmt.Errorf("build context: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// dockerBuild runs the classic builder on the context, streamed from the
// files as it is read, tags the result tag and returns its ID.
func (b *builder) dockerBuild(ctx context.Context, files []archive.File, digest, tag string) (string, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.WriteTar(pw, files)) }()
	defer pr.Close()

	resp, err := b.docker.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  "Dockerfile",
		Version:     build.BuilderV1,
		Remove:      true,
		ForceRemove: true,
		// The base is local; there is nothing to pull from.
		PullParent: false,
		Labels:     map[string]string{contextLabel: digest},
	})
	if err != nil {
		return "", fmt.Errorf("docker build: %w", err)
	}
	defer resp.Body.Close()
	var id string
	err = readJSONStream(resp.Body, b.log, func(aux json.RawMessage) {
		var m struct{ ID string }
		if json.Unmarshal(aux, &m) == nil && m.ID != "" {
			id = m.ID
		}
	})
	if err != nil {
		return "", fmt.Errorf("docker build: %w", err)
	}
	if id == "" {
		// Engines that do not report the ID: look the tag up.
		img, err := b.docker.ImageInspect(ctx, tag)
		if err != nil {
			return "", fmt.Errorf("docker build: image not found after build: %w", err)
		}
		id = img.ID
	}
	return id, nil
}
