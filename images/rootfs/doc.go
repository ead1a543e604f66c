// Package rootfs picks files out of a root file system on the host (a
// Debian tree copied out of an image) for a layer of another image: a
// program with the shared libraries and dynamic loader it needs, found by
// reading ELF headers rather than by running ldd, so that any root file
// system can be read without executing anything from it; or a whole
// directory, such as a package's configuration. Symbolic links are followed
// inside the root, never on the host.
//
// Save writes what was picked as a small root file system of its own, from
// which a later build picks the same files again: builds cache it per base
// image instead of copying the base out again.
package rootfs
