package nodeimage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/image"
)

// Suite is the Debian release of every base image, and so of every node.
const Suite = "bookworm"

// DefaultMirror is used when the machine names no Debian mirror.
const DefaultMirror = "http://deb.debian.org/debian"

// debianSources is where a Debian 12 machine names its mirror.
const debianSources = "/etc/apt/sources.list.d/debian.sources"

// Packages are what a node needs on top of debootstrap's minbase (which
// already has mount, util-linux and dpkg): the container runtime, the CNI
// plugins (installed in /usr/lib/cni), the tools kube-proxy and kindnetd
// call, and ps for the demo's process trees. Dependencies such as
// libseccomp2 come along.
var Packages = []string{
	"ca-certificates",
	"conntrack",
	"containerd",
	"containernetworking-plugins",
	"iproute2",
	"iptables",
	"procps",
	"runc",
}

// nodeSetup is the node base's own setup (see Base.Setup).
const nodeSetup = `# Nodes add their files under /usr/sbin and /usr/bin: the top layer must
# never replace the merged-/usr symlinks with directories.
for d in bin sbin lib; do
	test -L "$root/$d" || { echo "$root/$d is not a symlink: expected a merged /usr" >&2; exit 1; }
done

# Docker writes its embedded-DNS rules into the node with nft; kube-proxy
# and the CNI plugins must use the same backend (bookworm's default).
chroot "$root" update-alternatives --set iptables /usr/sbin/iptables-nft
chroot "$root" update-alternatives --set ip6tables /usr/sbin/ip6tables-nft

# containerd runs from /usr/local/bin, and so do its shims: containerd
# starts the shim found next to its own executable (/proc/self/exe, which
# a symlink would resolve to /usr/bin), and a shim re-executes itself the
# same way. The old paths stay valid as links.
for b in containerd containerd-shim-runc-v2; do
	mv "$root/usr/bin/$b" "$root/usr/local/bin/$b"
	ln -s "/usr/local/bin/$b" "$root/usr/bin/$b"
done
# Only the runc v2 shim is used, and of the CNI plugins only those the
# CRI plugin and kindnetd use, plus the common chained ones.
rm -f "$root/usr/bin/containerd-shim" "$root/usr/bin/containerd-shim-runc-v1"
for p in "$root"/usr/lib/cni/*; do
	case "${p##*/}" in
	bandwidth|bridge|firewall|host-local|loopback|portmap|ptp|tuning) ;;
	*) rm -f "$p" ;;
	esac
done

`

// setupPrologue and setupEpilogue wrap every base's own setup into the
// script that runs on the host after debootstrap, with the new root as $1.
// The whole script is part of the base image's key: editing it rebuilds
// every base.
const setupPrologue = `set -eu
root=$1

`

// setupEpilogue trims what no image built from a base needs.
const setupEpilogue = `# Nothing is installed later: drop the package lists and caches, and the
# documentation except the copyright notices.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
	"$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
	"$root"/usr/share/lintian "$root"/usr/share/linda "$root"/var/log/*
find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete

# debootstrap copies them from the host; Docker provides them per container.
rm -f "$root/etc/hostname" "$root/etc/resolv.conf"
`

// Base is the recipe of a Debian base image: debootstrap's minbase of Suite
// with Packages (and what they depend on), then Setup. The image is tagged
// Repository:<key>, the key being a hash of the whole recipe and of the
// mirror, so that a base is built once and reused until its recipe changes.
// The node's base is NodeBase; the workload images (images/workload) take
// their files from a base of their own.
type Base struct {
	// Repository names the image, e.g. "kindish/node-base".
	Repository string
	Packages   []string
	// Setup is shell run on the host once debootstrap is done, with the new
	// root file system in $root (it may chroot into it); the package lists,
	// caches and documentation are then removed, and the host's hostname
	// and resolv.conf that debootstrap copied in.
	Setup string
	// Description is the image's comment in `docker history`.
	Description string
}

// NodeBase is the node image's base.
var NodeBase = Base{
	Repository:  baseRepository,
	Packages:    Packages,
	Setup:       nodeSetup,
	Description: "kindish Debian " + Suite + " base",
}

const baseRepository = "kindish/node-base"

// Image is the reference of the base built from mirror.
func (r Base) Image(mirror string) string {
	return r.Repository + ":" + r.spec(mirror).key()
}

func (r Base) spec(mirror string) baseSpec {
	return baseSpec{Suite: Suite, Mirror: mirror, Packages: r.Packages, Setup: setupPrologue + r.Setup + setupEpilogue}
}

// baseSpec is everything a base image's content is made from.
type baseSpec struct {
	Suite    string
	Mirror   string
	Packages []string
	Setup    string // the whole script
}

func defaultBaseSpec(mirror string) baseSpec { return NodeBase.spec(mirror) }

// key names the base image: the same inputs give the same key, any change
// gives another, so a base built once is reused until its recipe changes.
func (s baseSpec) key() string {
	pkgs := slices.Clone(s.Packages)
	sort.Strings(pkgs)
	pkgs = slices.Compact(pkgs)
	h := sha256.New()
	fmt.Fprintf(h, "suite %s\nvariant minbase\nmirror %s\npackages %s\nsetup %d\n%s",
		s.Suite, s.Mirror, strings.Join(pkgs, ","), len(s.Setup), s.Setup)
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// BaseImage is the reference of the node's Debian base image built from
// mirror.
func BaseImage(mirror string) string { return NodeBase.Image(mirror) }

// MachineMirror returns the first mirror that the machine's deb822 sources
// list for Suite, or DefaultMirror.
func MachineMirror() string {
	b, err := os.ReadFile(debianSources)
	if err != nil {
		return DefaultMirror
	}
	if m := mirrorFromSources(string(b), Suite); m != "" {
		return m
	}
	return DefaultMirror
}

// mirrorFromSources parses deb822 sources (stanzas separated by blank
// lines) and returns the first URI of the first stanza serving suite.
func mirrorFromSources(sources, suite string) string {
	for _, stanza := range strings.Split(sources, "\n\n") {
		fields := map[string][]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			fields[strings.ToLower(strings.TrimSpace(k))] = strings.Fields(v)
		}
		if slices.Contains(fields["suites"], suite) && slices.Contains(fields["types"], "deb") && len(fields["uris"]) > 0 {
			return fields["uris"][0]
		}
	}
	return ""
}

// BaseOptions configure EnsureBase.
type BaseOptions struct {
	// Docker is the engine to build in; required.
	Docker Docker
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// Mirror, TempDir and PackageCache are as in Options.
	Mirror       string
	TempDir      string
	PackageCache string
}

// EnsureBase makes sure the engine has the image of base, building it with
// debootstrap when missing, and returns its reference.
func EnsureBase(ctx context.Context, base Base, opts BaseOptions) (string, error) {
	if opts.Docker == nil {
		return "", fmt.Errorf("base image %s: no Docker engine given", base.Repository)
	}
	if opts.Mirror == "" {
		opts.Mirror = MachineMirror()
	}
	if opts.TempDir == "" {
		opts.TempDir = "/var/tmp"
	}
	b := &builder{
		opts:   Options{Mirror: opts.Mirror, TempDir: opts.TempDir, PackageCache: opts.PackageCache},
		log:    opts.Logger,
		docker: opts.Docker,
	}
	if b.log == nil {
		b.log = logDiscard
	}
	return b.ensureBase(ctx, base)
}

// CopyFromImage copies paths (files, links or whole directories) of an
// image's root file system to the same paths under dst, a host directory,
// through a container that is created and never started. Paths the image
// lacks are skipped: whoever needs them reports them missing.
func CopyFromImage(ctx context.Context, docker Docker, imageID string, paths []string, dst string) error {
	b := &builder{docker: docker, log: logDiscard}
	return b.copyFromImage(ctx, imageID, paths, dst)
}

// ensureBase makes sure the image of base exists, building it when missing,
// and returns its reference.
func (b *builder) ensureBase(ctx context.Context, base Base) (string, error) {
	spec := base.spec(b.opts.Mirror)
	ref := base.Repository + ":" + spec.key()
	exists, err := ImageExists(ctx, b.docker, ref)
	if err != nil {
		return "", err
	}
	if exists {
		b.log.Info("Debian base image present", "image", ref)
		return ref, nil
	}
	b.log.Info("building a Debian base image (debootstrap, about a minute or two)", "image", ref, "mirror", spec.Mirror)
	start := time.Now()
	if err := b.buildBase(ctx, spec, ref, base.Description); err != nil {
		return "", fmt.Errorf("build base image %s: %w", ref, err)
	}
	b.log.Info("Debian base image built", "image", ref, "took", time.Since(start).Round(100*time.Millisecond))
	return ref, nil
}

func (b *builder) buildBase(ctx context.Context, spec baseSpec, ref, description string) (err error) {
	// /var/tmp, not /tmp: the root file system is a few hundred MB and /tmp
	// may be a small tmpfs.
	dir, err := os.MkdirTemp(b.opts.TempDir, "kindish-rootfs-")
	if err != nil {
		return err
	}
	defer func() {
		if cerr := removeRootfs(dir); cerr != nil && err == nil {
			err = cerr
		}
	}()
	root := filepath.Join(dir, "root")

	logPath := filepath.Join(b.opts.TempDir, "kindish-debootstrap-"+spec.key()+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()

	pkgs := slices.Clone(spec.Packages)
	sort.Strings(pkgs)
	args := []string{"--variant=minbase", "--include=" + strings.Join(pkgs, ","), "--components=main"}
	if b.opts.PackageCache != "" {
		if err := os.MkdirAll(b.opts.PackageCache, 0o755); err != nil {
			return err
		}
		args = append(args, "--cache-dir="+b.opts.PackageCache)
	}
	args = append(args, spec.Suite, root, spec.Mirror)
	if err := b.runLogged(ctx, logFile, logPath, "debootstrap", args...); err != nil {
		return err
	}

	b.log.Info("trimming the root file system")
	script := filepath.Join(dir, "setup.sh")
	if err := os.WriteFile(script, []byte(spec.Setup), 0o644); err != nil {
		return err
	}
	if err := b.runLogged(ctx, logFile, logPath, "sh", script, root); err != nil {
		return err
	}

	b.log.Info("importing the root file system into Docker", "image", ref)
	if err := b.importRootfs(ctx, root, ref, spec.key(), description); err != nil {
		return err
	}
	logFile.Close()
	os.Remove(logPath)
	return nil
}

// runLogged runs a command with its output appended to logFile and its
// lines logged at debug level; debootstrap's phases ("I: Retrieving ...")
// are logged at info level the first time each appears. A failure keeps
// the command line, the tail of the output and where the whole output is.
func (b *builder) runLogged(ctx context.Context, logFile *os.File, logPath, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	// On cancellation stop the whole process group: debootstrap's dpkg and
	// chroot children would otherwise keep writing into the root file
	// system while it is being removed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	fmt.Fprintf(logFile, "$ %s\n", cmdline(cmd))
	tail := newTail(25)
	seen := map[string]bool{}
	out := &lineWriter{fn: func(line string) {
		fmt.Fprintln(logFile, line)
		tail.add(line)
		b.log.Debug(line, "command", name)
		if phase, ok := debootstrapPhase(line); ok && !seen[phase] {
			seen[phase] = true
			b.log.Info("debootstrap: " + phase + " packages")
		}
	}}
	// One writer for both streams: exec then copies them through a single
	// pipe, in order, and never calls the writer concurrently.
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	out.Flush()
	if err != nil {
		return &CommandError{Command: cmdline(cmd), Err: err, Tail: tail.lines(), LogFile: logPath}
	}
	return nil
}

// debootstrapPhase recognises "I: Retrieving libc6 2.36-9" and returns
// "retrieving"; package-level lines only, so each phase is reported once.
func debootstrapPhase(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "I: ")
	if !ok {
		return "", false
	}
	verb, _, _ := strings.Cut(rest, " ")
	switch verb {
	case "Retrieving", "Extracting", "Installing", "Unpacking", "Configuring":
		return strings.ToLower(verb), true
	}
	return "", false
}

// importRootfs streams the root file system into Docker as a one-layer
// image. GNU tar keeps owners numeric and file capabilities (xattrs).
func (b *builder) importRootfs(ctx context.Context, root, ref, key, description string) error {
	cmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", root, "-c", ".")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	tail := newTail(10)
	cmd.Stderr = tail
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", cmdline(cmd), err)
	}
	resp, err := b.docker.ImageImport(ctx, image.ImportSource{Source: out, SourceName: "-"}, ref, image.ImportOptions{
		Message: description,
		Changes: []string{
			"LABEL " + baseLabel + "=" + key,
			"ENV PATH=" + nodePath,
		},
	})
	if err == nil {
		err = readJSONStream(resp, b.log, nil)
		resp.Close()
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("docker import: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		return &CommandError{Command: cmdline(cmd), Err: err, Tail: tail.lines()}
	}
	return nil
}

// removeRootfs deletes a debootstrap directory. debootstrap mounts /proc
// and /sys in the target while it configures packages and unmounts them
// when it ends; if it was killed, they may still be mounted, and deleting
// through them would be disastrous. Unmount whatever is left first.
func removeRootfs(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	// Deepest first.
	sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("remove %s: unmount %s: %w (left in place)", dir, m, err)
		}
	}
	if mounts, err := mountsUnder(dir); err != nil || len(mounts) > 0 {
		return fmt.Errorf("remove %s: still mounted inside: %v %v (left in place)", dir, mounts, err)
	}
	return os.RemoveAll(dir)
}

func mountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return parseMountsUnder(string(b), dir), nil
}

// parseMountsUnder returns the mount points of a mountinfo listing that lie
// below dir.
func parseMountsUnder(mountinfo, dir string) []string {
	dir = filepath.Clean(dir) + "/"
	var out []string
	for _, line := range strings.Split(mountinfo, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		// Field 5 is the mount point, with spaces and such octal-escaped.
		mp := unescapeMountinfo(fields[4])
		if strings.HasPrefix(mp, dir) {
			out = append(out, mp)
		}
	}
	return out
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// logDiscard is the logger used when Options.Logger is nil.
var logDiscard = slog.New(slog.DiscardHandler)
