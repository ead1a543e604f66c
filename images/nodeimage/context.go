package nodeimage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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

// settings are the node image's configuration, besides its files.
type settings struct {
	Env        []string
	StopSignal string
	Labels     map[string]string
	Entrypoint []string
}

// imageSettings are the node image's settings on the base baseRef.
func imageSettings(baseRef string) settings {
	key := baseRef[strings.LastIndexByte(baseRef, ':')+1:]
	return settings{
		// container=docker tells programs they run in a container, as
		// systemd expects.
		Env:        []string{"container=docker", "PATH=" + nodePath},
		StopSignal: "SIGTERM",
		Labels:     map[string]string{versionLabel: version.Version, baseLabel: key},
		Entrypoint: []string{entrypoint},
	}
}

// imageDigest identifies everything the node image is made of: its base
// and settings, its files, and the archives preloaded with the script that
// imports them.
func imageDigest(baseRef string, bins binaries, archives archivePaths) (string, error) {
	conf, err := json.Marshal(struct {
		Base     string
		Settings settings
	}{baseRef, imageSettings(baseRef)})
	if err != nil {
		return "", err
	}
	files := append([]archive.File{archive.Bytes("/settings.json", conf, 0o644)}, rootfsFiles(bins)...)
	return contextDigest(append(files, preloadFiles(archives)...))
}

// contextDigest identifies a set of files. archive.WriteTar is
// reproducible, so equal digests mean equal images.
func contextDigest(files []archive.File) (string, error) {
	h := sha256.New()
	if err := archive.WriteTar(h, files); err != nil {
		return "", fmt.Errorf("image files: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
