package nodeimage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/kindish/kindish/images"
	"github.com/kindish/kindish/images/archive"
)

// The pause and component images travel in the node image as containerd's
// own content store and snapshots, as kind's node image carries its
// images: imported and unpacked at build time. A node used to import the
// archives at every creation instead, several seconds of hashing and
// syncing on the path to its first pod; and the CRI plugin, given images
// it has to unpack, unpacked the component layer (the one that holds
// kindish-node, 70 MB) in every node while its first pods waited, on a
// machine busy starting the whole cluster.
//
// Once unpacked, the layers' blobs are not needed (containerd's CRI
// plugin discards them itself with discard_unpacked_layers): they are
// removed, and the image carries each layer once.
//
// The unpacked layers stay in the image's own file system, under
// preloadSnapshots; the image's /var/lib/containerd holds containerd's
// databases and, for each committed snapshot, a symbolic link to it.
// Docker copies /var/lib/containerd into each node's volume when it
// creates the node: the links and a few hundred kilobytes, where copying
// the layers themselves wrote 130 MB per node while the cluster started.
// The kernel follows the links when containerd mounts a pod's root file
// system, and a committed snapshot is only ever a read-only lower layer,
// which overlayfs may take from the node's own overlay: only the upper
// (writable) layer must be on a real file system, the volume.
//
// The node image is one layer on the Debian base, made in one container
// of the base: kindish's files (rootfsFiles), the archives and the import
// script are copied in, the script imports, unpacks and arranges, and the
// container is committed as the node image with its settings. The node's
// own kindish-node is then made a hard link to the identical file of the
// component images' unpacked layer, so that the image carries it once.
// Nothing is tagged unless every step succeeded.
//
// containerd unpacks on a tmpfs: a bind mount applies a first layer, and
// a whiteout (a 0/0 character device) written on the container's own
// overlay would be taken by Docker's overlay for a deletion. The script
// refuses layers with whiteouts, which the component images never have,
// and copies the tree into the image's file system.

// Preloader runs the import in a container of the base and commits it;
// *client.Client implements it.
type Preloader interface {
	CopyToContainer(ctx context.Context, containerID, dstPath string, content io.Reader, options container.CopyToContainerOptions) error
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerWait(ctx context.Context, containerID string, condition container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	ContainerLogs(ctx context.Context, containerID string, options container.LogsOptions) (io.ReadCloser, error)
	ContainerCommit(ctx context.Context, containerID string, options container.CommitOptions) (container.CommitResponse, error)
}

// preloadDir holds the archives and containerd's configuration during the
// import; the script removes it before the commit.
const preloadDir = "/kind/preload"

// preloadRoot is containerd's root during the import: a tmpfs.
const preloadRoot = "/kind/preload-root"

// preloadSnapshots holds the unpacked layers in the node image, where the
// links in containerd's snapshot directory point.
const preloadSnapshots = "/kind/snapshots"

// preloadContainerdConfig runs containerd for the import only: the CRI
// plugin, which would set up networking and sandboxes, stays off.
const preloadContainerdConfig = `version = 2
root = "` + preloadRoot + `"
state = "/run/containerd-preload"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "/run/containerd-preload/containerd.sock"
`

// preloadScript imports and unpacks every archive into the k8s.io
// namespace, where the CRI plugin finds images, removes the unpacked
// layers' blobs, stops containerd and copies its root into the image's
// /var/lib/containerd, without what belongs to one containerd instance
// (the introspection plugin's UUID goes, so that each node's containerd
// makes its own), the snapshots moving to preloadSnapshots behind links;
// then it links the node's kindish-node to the layer's copy.
const preloadScript = `set -eu
dir=` + preloadDir + `
root=` + preloadRoot + `
sock=/run/containerd-preload/containerd.sock
ctr() { command ctr --address "$sock" --namespace k8s.io "$@"; }
containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
pid=$!
tries=0
until ctr version >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "containerd did not start:" >&2
    cat "$dir/containerd.log" >&2
    exit 1
  fi
  sleep 0.05
done
for a in "$dir"/*.tar; do
  ctr images import --all-platforms --snapshotter overlayfs "$a" >/dev/null
done
layers=$(ctr content ls | awk 'NR > 1 && /containerd.io\/uncompressed=/ { print $1 }')
[ -n "$layers" ] || { echo "no unpacked layers after the import" >&2; exit 1; }
ctr content rm $layers >/dev/null
kill "$pid"
wait "$pid" || true
whiteouts=$(find "$root" -type c | head -5)
if [ -n "$whiteouts" ]; then
  echo "an image layer has whiteouts, which the node image cannot carry unpacked:" >&2
  echo "$whiteouts" >&2
  exit 1
fi
# containerd deletes a removed blob's file at its next garbage collection,
# which this instance does not live to run.
for l in $layers; do
  rm -f "$root/io.containerd.content.v1.content/blobs/sha256/${l#sha256:}"
done
rm -rf "$root/tmpmounts" "$root/io.containerd.grpc.v1.introspection"
mkdir -p /var/lib/containerd
cp -a "$root/." /var/lib/containerd/
snapshots=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots
mv "$snapshots" ` + preloadSnapshots + `
mkdir "$snapshots"
for s in ` + preloadSnapshots + `/*; do
  ln -s "$s" "$snapshots/${s##*/}"
done
node=` + images.NodeBinary + `
linked=
for f in ` + preloadSnapshots + `/*/fs$node; do
  if [ -f "$f" ] && cmp -s "$f" "$node"; then
    ln -f "$f" "$node"
    linked=yes
    break
  fi
done
[ -n "$linked" ] || { echo "no component image layer holds $node" >&2; exit 1; }
rm -rf "$dir" /run/containerd-preload
`

// preloadFiles are what the import container gets: the archives, the
// configuration and the script. They are part of the build's digest.
func preloadFiles(archives archivePaths) []archive.File {
	return []archive.File{
		archive.HostFile(preloadDir+"/pause.tar", archives.pause, 0o644),
		archive.HostFile(preloadDir+"/components.tar", archives.components, 0o644),
		archive.Bytes(preloadDir+"/config.toml", []byte(preloadContainerdConfig), 0o644),
		archive.Bytes(preloadDir+"/preload.sh", []byte(preloadScript), 0o755),
	}
}

// assemble makes the node image from the base baseRef: kindish's files
// from bins, and the archives imported and unpacked into containerd's
// store; it tags it with digest as its context label, and returns its ID.
func (b *builder) assemble(ctx context.Context, baseRef, digest string, bins binaries, archives archivePaths) (string, error) {
	conf := imageSettings(baseRef)
	labels := maps.Clone(conf.Labels)
	labels[contextLabel] = digest
	// The container's settings become the image's at the commit.
	created, err := b.docker.ContainerCreate(ctx, &container.Config{
		Image:      baseRef,
		Env:        conf.Env,
		Labels:     labels,
		StopSignal: conf.StopSignal,
		Entrypoint: []string{"/bin/sh", preloadDir + "/preload.sh"},
		// containerd talks to nobody: the archives are local.
		NetworkDisabled: true,
	}, &container.HostConfig{
		NetworkMode: "none",
		// containerd bind-mounts a snapshot to apply a first layer.
		CapAdd:      []string{"SYS_ADMIN"},
		SecurityOpt: []string{"apparmor=unconfined"},
		Tmpfs:       map[string]string{preloadRoot: ""},
	}, nil, nil, "")
	if err != nil {
		return "", fmt.Errorf("assemble: create container: %w", err)
	}
	defer b.docker.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})

	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.WriteTar(pw, append(rootfsFiles(bins), preloadFiles(archives)...))) }()
	err = b.docker.CopyToContainer(ctx, created.ID, "/", pr, container.CopyToContainerOptions{})
	pr.Close()
	if err != nil {
		return "", fmt.Errorf("assemble: copy files: %w", err)
	}
	waitC, errC := b.docker.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := b.docker.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return "", fmt.Errorf("assemble: start container: %w", err)
	}
	select {
	case res := <-waitC:
		if res.StatusCode != 0 {
			return "", fmt.Errorf("assemble: import exited %d: %s", res.StatusCode, b.containerOutput(ctx, created.ID))
		}
	case err := <-errC:
		return "", fmt.Errorf("assemble: wait for the import: %w", err)
	}

	entry, err := json.Marshal(conf.Entrypoint)
	if err != nil {
		return "", err
	}
	committed, err := b.docker.ContainerCommit(ctx, created.ID, container.CommitOptions{
		Reference: b.opts.Image,
		Comment:   "kindish's files, and the pause and component images imported and unpacked into containerd",
		// The container ran the script; the image runs the init.
		Changes: []string{"ENTRYPOINT " + string(entry), "CMD []"},
	})
	if err != nil {
		return "", fmt.Errorf("assemble: commit: %w", err)
	}
	return committed.ID, nil
}

// containerOutput is the tail of a container's output, for an error.
func (b *builder) containerOutput(ctx context.Context, id string) string {
	logs, err := b.docker.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "40"})
	if err != nil {
		return fmt.Sprintf("(no output: %v)", err)
	}
	defer logs.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, logs); err != nil {
		return fmt.Sprintf("(output unreadable: %v)", err)
	}
	return strings.TrimSpace(out.String())
}
