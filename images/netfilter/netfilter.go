// Package netfilter makes the layer of netfilter tools that the kube-proxy
// and kindnetd images carry: iptables 1.8 (the nft variant, with its
// extensions) and conntrack. Both components run in pods from their own
// images and program the node's tables with iptables-nft-restore, as
// Docker's embedded-DNS rules in the node are nft rules too.
//
// The tools are Debian's, taken from the node's base root file system with
// the shared libraries they load, found by reading their ELF headers rather
// than by running ldd, so any root file system can be read without
// executing anything from it.
package netfilter

import (
	"fmt"
	"path"

	"github.com/kindish/kindish/images/archive"
)

// sbin is where Debian installs the tools, and where the layer keeps them.
const sbin = "/usr/sbin"

// programs are the executables the layer is built around.
var programs = []string{sbin + "/xtables-nft-multi", sbin + "/conntrack"}

// nftCommands are the names under which xtables-nft-multi runs the nft
// variant; Debian installs them as links to it.
var nftCommands = []string{
	"iptables-nft", "iptables-nft-restore", "iptables-nft-save",
	"ip6tables-nft", "ip6tables-nft-restore", "ip6tables-nft-save",
}

// aliases are the plain names, pointing at the nft variant as Debian's
// alternatives do on a node. They are the layer's own links rather than the
// root file system's: there they go through /etc/alternatives, and would
// select the legacy variant on a system set up that way.
var aliases = map[string]string{
	"iptables":          "iptables-nft",
	"iptables-restore":  "iptables-nft-restore",
	"iptables-save":     "iptables-nft-save",
	"ip6tables":         "ip6tables-nft",
	"ip6tables-restore": "ip6tables-nft-restore",
	"ip6tables-save":    "ip6tables-nft-save",
}

// dataFiles are read by iptables: protocol names (`-p sctp`) and ethernet
// types.
var dataFiles = []string{"/etc/protocols", "/etc/ethertypes"}

// extensionPrefixes select the iptables extensions that the IPv4 and IPv6
// commands load (-m statistic, -j MASQUERADE, DNAT, REJECT...); the libebt_
// and libarpt_ ones serve ebtables and arptables, which the layer lacks.
var extensionPrefixes = []string{"libxt_", "libipt_", "libip6t_"}

// triplets are Debian's multiarch directory names, by Go architecture.
var triplets = map[string]string{
	"amd64":   "x86_64-linux-gnu",
	"arm64":   "aarch64-linux-gnu",
	"ppc64le": "powerpc64le-linux-gnu",
	"s390x":   "s390x-linux-gnu",
}

// layout is where things are in a Debian root file system of one
// architecture.
type layout struct {
	libDirs       []string // searched in order for DT_NEEDED names
	extensionsDir string   // XTABLES_LIBDIR, compiled into libxtables
}

// Triplet is Debian's multiarch name for a Go architecture, the directory
// under /usr/lib that holds its libraries ("x86_64-linux-gnu" for amd64).
func Triplet(goarch string) (string, error) {
	t, ok := triplets[goarch]
	if !ok {
		return "", fmt.Errorf("no Debian multiarch directory known for architecture %q", goarch)
	}
	return t, nil
}

func debianLayout(goarch string) (layout, error) {
	t, err := Triplet(goarch)
	if err != nil {
		return layout{}, err
	}
	// The real directories of a merged-/usr system come first, so that
	// libraries are found where they are rather than through /lib.
	return layout{
		libDirs:       []string{"/usr/lib/" + t, "/usr/lib", "/lib/" + t, "/lib"},
		extensionsDir: "/usr/lib/" + t + "/xtables",
	}, nil
}

// SourcePaths are the paths of a Debian root file system that hold
// everything Files takes from it, for copying them out of an image: the
// tools, the libraries, the loader's links and the data files.
func SourcePaths(goarch string) ([]string, error) {
	l, err := debianLayout(goarch)
	if err != nil {
		return nil, err
	}
	paths := []string{sbin, l.libDirs[0], "/usr/lib64", "/lib64", "/lib"}
	return append(paths, dataFiles...), nil
}

// Files returns the layer's entries, taken from the Debian root file system
// at root (a host directory) for the architecture goarch: the programs,
// the nft command links, the plain-name aliases, the libraries every
// program and extension needs (recursively, with the dynamic loader), the
// extensions and the data files. Regular files keep their modes and are
// read from root when the layer is written.
func Files(root, goarch string) ([]archive.File, error) {
	l, err := debianLayout(goarch)
	if err != nil {
		return nil, err
	}
	c := newCollector(root, l)
	for _, p := range programs {
		if err := c.require(p); err != nil {
			return nil, fmt.Errorf("netfilter tools from %s: %w", root, err)
		}
	}
	for _, name := range nftCommands {
		if err := c.require(path.Join(sbin, name)); err != nil {
			return nil, fmt.Errorf("netfilter tools from %s: %w", root, err)
		}
	}
	exts, err := c.extensions()
	if err != nil {
		return nil, fmt.Errorf("netfilter tools from %s: %w", root, err)
	}
	for _, p := range append(exts, dataFiles...) {
		if err := c.require(p); err != nil {
			return nil, fmt.Errorf("netfilter tools from %s: %w", root, err)
		}
	}
	for name, target := range aliases {
		if err := c.add(archive.Symlink(path.Join(sbin, name), target)); err != nil {
			return nil, fmt.Errorf("netfilter tools from %s: %w", root, err)
		}
	}
	return c.files(), nil
}
