// Package volume gives a pod's volumes a place on the node's disk, as
// upstream's kubelet lays them out, and tells the runtime how to bind them
// into each container.
//
// Every volume lives under <root>/pods/<uid>/volumes/kubernetes.io~<plugin>/<name>.
// Nothing is mounted: a kindish node has no reason to give each pod its own
// tmpfs, so emptyDir (medium Memory included) and secret volumes are plain
// directories on the node's filesystem, and an emptyDir's sizeLimit is not
// enforced. hostPath volumes are the host's own paths, checked against their
// declared type.
//
// configMap, secret, downwardAPI and projected volumes are written the way
// upstream's atomic writer writes them: the files live in a hidden timestamped
// directory, "..data" is a symlink to it that is swapped with one rename, and
// each visible name is a symlink into "..data". A reader therefore sees either
// the old set of files or the new one, never a mix, and SetUp rewrites a
// volume only when its content changed.
//
// The pod worker calls SetUp at every sync, which is also when changed
// sources are copied in and ServiceAccount tokens rotated; it turns the
// *MountError values SetUp returns into FailedMount events.
package volume
