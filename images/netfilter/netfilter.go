// Package netfilter makes the layer of netfilter tools that the kube-proxy
// and kindnetd images carry: iptables 1.8 (the nft variant, with its
// extensions) and conntrack. Both components run in pods from their own
// images and program the node's tables with iptables-nft-restore, as
// Docker's embedded-DNS rules in the node are nft rules too.
//
// The tools are Debian's, taken from the node's base root file system with
// the shared libraries they load (images/rootfs).
package netfilter

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/kindish/kindish/images/archive"
	"github.com/kindish/kindish/images/rootfs"
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

// layout is where things are in a Debian root file system of one
// architecture.
type layout struct {
	libDirs       []string // searched in order for DT_NEEDED names
	extensionsDir string   // XTABLES_LIBDIR, compiled into libxtables
}

// Triplet is Debian's multiarch name for a Go architecture (rootfs.Triplet).
func Triplet(goarch string) (string, error) { return rootfs.Triplet(goarch) }

func debianLayout(goarch string) (layout, error) {
	t, err := rootfs.Triplet(goarch)
	if err != nil {
		return layout{}, err
	}
	libDirs, err := rootfs.DebianLibDirs(goarch)
	if err != nil {
		return layout{}, err
	}
	return layout{libDirs: libDirs, extensionsDir: "/usr/lib/" + t + "/xtables"}, nil
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
	c := rootfs.NewCollector(root, l.libDirs)
	for _, p := range programs {
		if err := c.Require(p); err != nil {
			return nil, fmt.Errorf("netfilter tools from %s: %w", root, err)
		}
	}
	for _, name := range nftCommands {
		if err := c.Require(path.Join(sbin, name)); err != nil {
			return nil, fmt.Errorf("netfilter tools from %s: %w", root, err)
		}
	}
	exts, err := extensions(c, l.extensionsDir)
	if err != nil {
		return nil, fmt.Errorf("netfilter tools from %s: %w", root, err)
	}
	for _, p := range append(exts, dataFiles...) {
		if err := c.Require(p); err != nil {
			return nil, fmt.Errorf("netfilter tools from %s: %w", root, err)
		}
	}
	for name, target := range aliases {
		if err := c.Add(archive.Symlink(path.Join(sbin, name), target)); err != nil {
			return nil, fmt.Errorf("netfilter tools from %s: %w", root, err)
		}
	}
	return c.Files(), nil
}

// extensions lists the iptables extensions of the IPv4 and IPv6 commands.
func extensions(c *rootfs.Collector, dir string) ([]string, error) {
	real, err := c.Resolve(dir)
	if err != nil {
		return nil, fmt.Errorf("iptables extensions: %w", err)
	}
	entries, err := os.ReadDir(c.Host(real))
	if err != nil {
		return nil, fmt.Errorf("iptables extensions: %w", err)
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".so") {
			continue
		}
		for _, prefix := range extensionPrefixes {
			if strings.HasPrefix(name, prefix) {
				out = append(out, path.Join(dir, name))
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("iptables extensions: none in %s", dir)
	}
	return out, nil
}

// Save writes the layer's files under dir as a root file system of their
// own, from which Files gives the same layer again (rootfs.Save).
func Save(files []archive.File, dir string) error { return rootfs.Save(files, dir) }
