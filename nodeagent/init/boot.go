package nodeinit

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// boot prepares the container to run nested containers, as kind's
// entrypoint does before it hands over to systemd. Each step is skipped
// when its path in Config is empty.
func (in *Init) boot() error {
	var mounts []mountInfo
	if in.cfg.MountInfoPath != "" {
		var err error
		if mounts, err = readMountInfo(in.cfg.MountInfoPath); err != nil {
			return fmt.Errorf("read mounts: %w", err)
		}
	}
	if in.cfg.CgroupRoot != "" {
		if err := in.remountCgroupsWritable(mounts); err != nil {
			return err
		}
		if err := in.delegateCgroupV2Controllers(); err != nil {
			return err
		}
	}
	for _, path := range in.cfg.SharedMounts {
		if err := makeRShared(mounts, path); err != nil {
			return err
		}
	}
	if in.cfg.ProcSysDir != "" {
		if err := in.setSysctls(); err != nil {
			return err
		}
	}
	if in.cfg.MachineIDPath != "" {
		if err := in.ensureMachineID(); err != nil {
			return err
		}
	}
	if in.cfg.DNS.ResolvConf != "" {
		if err := in.fixDNS(); err != nil {
			return err
		}
	}
	return nil
}

// remountCgroupsWritable makes the node's cgroup mounts writable, which
// Docker mounts read-only with --cgroupns=private unless the container is
// privileged; containerd and the kubelet create the pods' cgroups there.
// The cgroup namespace keeps those cgroups below the node's own.
func (in *Init) remountCgroupsWritable(mounts []mountInfo) error {
	ro := readOnlyCgroupMounts(mounts, in.cfg.CgroupRoot)
	for _, m := range ro {
		flags := unix.MS_REMOUNT | unix.MS_BIND | keptMountFlags(m.Options)
		if err := unix.Mount("", m.MountPoint, "", flags, ""); err != nil {
			return fmt.Errorf("remount %s read-write: %w", m.MountPoint, err)
		}
	}
	if len(ro) > 0 {
		in.log.printf("remounted %d cgroup mounts read-write", len(ro))
	}
	return nil
}

// keptMountFlags carries the per-mount flags other than ro over to a bind
// remount, which otherwise resets them.
func keptMountFlags(options []string) uintptr {
	known := map[string]uintptr{
		"nosuid":      unix.MS_NOSUID,
		"nodev":       unix.MS_NODEV,
		"noexec":      unix.MS_NOEXEC,
		"noatime":     unix.MS_NOATIME,
		"nodiratime":  unix.MS_NODIRATIME,
		"relatime":    unix.MS_RELATIME,
		"strictatime": unix.MS_STRICTATIME,
	}
	var flags uintptr
	for _, o := range options {
		flags |= known[o]
	}
	return flags
}

// initCgroup is where the node's own processes move on cgroup v2, as
// systemd moves itself to init.scope.
const initCgroup = "init"

// delegateCgroupV2Controllers enables every controller for the children of
// the node's root cgroup on a cgroup v2 host, so that the pods' cgroups get
// cpu, memory and pids. cgroup v2 allows that only in a group without
// processes of its own, so the processes of the root group (the init, and
// anything `docker exec` started) move to a child group first; the
// services started later inherit it. Nothing to do on cgroup v1.
func (in *Init) delegateCgroupV2Controllers() error {
	root := in.cfg.CgroupRoot
	controllers, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // cgroup v1, or hybrid with v2 elsewhere
	}
	if err != nil {
		return fmt.Errorf("read cgroup controllers: %w", err)
	}
	if err := moveProcessesToChildCgroup(root, initCgroup); err != nil {
		return err
	}
	for _, c := range strings.Fields(string(controllers)) {
		// One at a time: a controller that cannot be enabled (say, one
		// already used in threaded mode) should not hold back the others.
		if err := writeCgroupFile(filepath.Join(root, "cgroup.subtree_control"), "+"+c); err != nil {
			in.log.printf("enable cgroup controller %s for pods: %v", c, err)
		}
	}
	return nil
}

func moveProcessesToChildCgroup(root, child string) error {
	dir := filepath.Join(root, child)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	procs, err := os.ReadFile(filepath.Join(root, "cgroup.procs"))
	if err != nil {
		return fmt.Errorf("list processes of root cgroup: %w", err)
	}
	for _, pid := range strings.Fields(string(procs)) {
		err := writeCgroupFile(filepath.Join(dir, "cgroup.procs"), pid)
		if err != nil && !errors.Is(err, unix.ESRCH) { // ESRCH: it has exited meanwhile
			return fmt.Errorf("move process %s to cgroup %s: %w", pid, dir, err)
		}
	}
	return nil
}

// writeCgroupFile writes one value the way `echo value >> file` does.
// Each write is one request to the kernel, never a replacement of the
// file's content, and appending keeps that true of the plain files that
// stand in for cgroupfs in tests.
func writeCgroupFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// makeRShared makes path a recursively shared mount (mount --make-rshared),
// so that mounts made below it by containerd, or by a pod with
// Bidirectional propagation, are seen on both sides. Propagation is a
// property of mount points, so a path that is not one becomes one first by
// a bind mount onto itself.
func makeRShared(mounts []mountInfo, path string) error {
	path = filepath.Clean(path)
	if !isMountPoint(mounts, path) {
		if err := os.MkdirAll(path, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
		if err := unix.Mount(path, path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mount %s onto itself: %w", path, err)
		}
	}
	if err := unix.Mount("", path, "", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %s rshared: %w", path, err)
	}
	return nil
}

func (in *Init) setSysctls() error {
	for _, s := range in.cfg.Sysctls {
		err := setSysctl(in.cfg.ProcSysDir, s)
		switch {
		case err == nil:
		case s.Required:
			return err
		case errors.Is(err, fs.ErrNotExist):
			in.log.printf("sysctl %s is not available on this kernel; skipped", s.Name)
		default:
			in.log.printf("%v; skipped", err)
		}
	}
	return nil
}

// setSysctl writes the value under /proc/sys directly: the node image need
// not carry procps' sysctl, and nothing reads /etc/sysctl.d without systemd.
func setSysctl(procSys string, s Sysctl) error {
	path := filepath.Join(procSys, filepath.FromSlash(strings.ReplaceAll(s.Name, ".", "/")))
	if s.AtLeast {
		current, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read sysctl %s: %w", s.Name, err)
		}
		if isAtLeast(string(current), s.Value) {
			return nil
		}
	}
	if err := os.WriteFile(path, []byte(s.Value), 0); err != nil {
		return fmt.Errorf("set sysctl %s=%s: %w", s.Name, s.Value, err)
	}
	return nil
}

func isAtLeast(current, want string) bool {
	c, err1 := strconv.ParseInt(strings.TrimSpace(current), 10, 64)
	w, err2 := strconv.ParseInt(strings.TrimSpace(want), 10, 64)
	return err1 == nil && err2 == nil && c >= w
}

// ensureMachineID gives the node a machine-id of its own when the image
// ships none (or an empty one, as images made for containers do). The
// kubelet reports it as the node's machine ID, so nodes from one image
// must not share it; an existing one is kept so that a restarted node
// keeps its identity.
func (in *Init) ensureMachineID() error {
	path := in.cfg.MachineIDPath
	current, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read machine-id: %w", err)
	}
	if isMachineID(bytes.TrimSpace(current)) {
		return nil
	}
	id, err := newMachineID()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, []byte(id+"\n"), 0o444); err != nil {
		return fmt.Errorf("write machine-id: %w", err)
	}
	in.log.printf("generated machine-id %s", id)
	return nil
}

// isMachineID accepts the format of machine-id(5): 32 lowercase hex
// digits. "uninitialized" and garbage do not pass.
func isMachineID(b []byte) bool {
	if len(b) != 32 {
		return false
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// newMachineID is a random version 4 UUID without dashes, as
// systemd-machine-id-setup writes in a container.
func newMachineID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate machine-id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:]), nil
}
