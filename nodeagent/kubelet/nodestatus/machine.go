package nodestatus

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultRootDir is the kubelet's root directory; its filesystem is the
// node's ephemeral storage.
const DefaultRootDir = "/var/lib/kubelet"

// MachineInfo is what the node reports about the machine it runs on: its
// capacity and its identity.
type MachineInfo struct {
	// NumCPU is the number of whole CPUs pods may use.
	NumCPU int
	// MemoryBytes is the memory pods may use.
	MemoryBytes int64
	// SwapBytes is the swap space, reported in status.nodeInfo.swap.
	SwapBytes int64
	// EphemeralStorageBytes is the size of the filesystem holding the
	// kubelet's root directory.
	EphemeralStorageBytes int64
	// HugePages maps a huge page size in bytes to the number of such pages
	// reserved; each size becomes a hugepages-<size> resource, even at zero.
	HugePages map[int64]int64

	MachineID     string
	SystemUUID    string
	BootID        string
	KernelVersion string
	// OSImage is PRETTY_NAME from os-release ("Debian GNU/Linux 12 (bookworm)").
	OSImage string
	// Architecture is GOARCH's name for the CPU ("amd64").
	Architecture string
}

// MachineReader reads MachineInfo from a Linux node. Every source is a field
// so that tests can point it at files of their own.
type MachineReader struct {
	// RootDir is statfs'ed for the ephemeral storage; when it does not exist
	// yet, its nearest existing parent is.
	RootDir string
	// Meminfo is /proc/meminfo.
	Meminfo string
	// CgroupRoot is where the node's cgroup filesystem is mounted. A limit
	// set on the node's own cgroup (a node container's --cpus or --memory)
	// lowers the capacity below the machine's.
	CgroupRoot string
	// MachineIDFile is /etc/machine-id.
	MachineIDFile string
	// BootIDFile is /proc/sys/kernel/random/boot_id.
	BootIDFile string
	// KernelReleaseFile is /proc/sys/kernel/osrelease: uname -r.
	KernelReleaseFile string
	// OSReleaseFile is /etc/os-release.
	OSReleaseFile string
	// ProductUUIDFile is the DMI product UUID, the node's systemUUID.
	ProductUUIDFile string
	// HugePagesDir holds one hugepages-<size>kB directory per page size.
	HugePagesDir string
	// NumCPU is the number of CPUs this process may run on.
	NumCPU int
}

// NewMachineReader returns a MachineReader of the real machine, with the
// kubelet's root directory at rootDir (DefaultRootDir when empty).
func NewMachineReader(rootDir string) MachineReader {
	if rootDir == "" {
		rootDir = DefaultRootDir
	}
	return MachineReader{
		RootDir:           rootDir,
		Meminfo:           "/proc/meminfo",
		CgroupRoot:        "/sys/fs/cgroup",
		MachineIDFile:     "/etc/machine-id",
		BootIDFile:        "/proc/sys/kernel/random/boot_id",
		KernelReleaseFile: "/proc/sys/kernel/osrelease",
		OSReleaseFile:     "/etc/os-release",
		ProductUUIDFile:   "/sys/class/dmi/id/product_uuid",
		HugePagesDir:      "/sys/kernel/mm/hugepages",
		NumCPU:            runtime.NumCPU(),
	}
}

// Read reads the machine's capacity and identity. CPU, memory and storage
// are required; the identity files are optional, as on upstream's kubelet,
// and read as empty when missing.
func (r MachineReader) Read() (MachineInfo, error) {
	info := MachineInfo{Architecture: runtime.GOARCH}

	cpus, err := r.cpus()
	if err != nil {
		return MachineInfo{}, fmt.Errorf("read CPU count: %w", err)
	}
	info.NumCPU = cpus

	mem, err := readMeminfo(r.Meminfo)
	if err != nil {
		return MachineInfo{}, fmt.Errorf("read memory: %w", err)
	}
	info.MemoryBytes = mem.total
	info.SwapBytes = mem.swap
	if limit, ok, err := r.memoryLimit(); err != nil {
		return MachineInfo{}, fmt.Errorf("read memory: %w", err)
	} else if ok && limit < info.MemoryBytes {
		info.MemoryBytes = limit
	}

	storage, err := filesystemSize(r.RootDir)
	if err != nil {
		return MachineInfo{}, fmt.Errorf("read ephemeral storage: %w", err)
	}
	info.EphemeralStorageBytes = storage

	info.HugePages, err = readHugePages(r.HugePagesDir)
	if err != nil {
		return MachineInfo{}, fmt.Errorf("read huge pages: %w", err)
	}

	for _, f := range []struct {
		path string
		dst  *string
	}{
		{r.MachineIDFile, &info.MachineID},
		{r.BootIDFile, &info.BootID},
		{r.KernelReleaseFile, &info.KernelVersion},
		{r.ProductUUIDFile, &info.SystemUUID},
	} {
		if *f.dst, err = readOptional(f.path); err != nil {
			return MachineInfo{}, err
		}
	}

	info.OSImage, err = readOSImage(r.OSReleaseFile)
	if err != nil {
		return MachineInfo{}, err
	}
	return info, nil
}

// cpus is NumCPU, lowered to the cgroup's CFS quota when one is set. A
// fractional quota rounds up: capacity counts whole CPUs, as upstream's does.
func (r MachineReader) cpus() (int, error) {
	cpus := r.NumCPU
	if cpus <= 0 {
		return 0, errors.New("no CPUs")
	}
	quota, period, ok, err := r.cpuQuota()
	if err != nil {
		return 0, err
	}
	if ok && period > 0 {
		if limit := int(math.Ceil(float64(quota) / float64(period))); limit < cpus {
			cpus = max(limit, 1)
		}
	}
	return cpus, nil
}

// cgroupV2 tells the unified hierarchy, which has cgroup.controllers at its
// root, from v1's one directory per controller.
func (r MachineReader) cgroupV2() bool {
	_, err := os.Stat(filepath.Join(r.CgroupRoot, "cgroup.controllers"))
	return err == nil
}

// cpuQuota reads the CFS quota and period; ok is false when none is set.
func (r MachineReader) cpuQuota() (quota, period int64, ok bool, err error) {
	if r.CgroupRoot == "" {
		return 0, 0, false, nil
	}
	if r.cgroupV2() {
		text, found, err := readFileIfExists(filepath.Join(r.CgroupRoot, "cpu.max"))
		if err != nil || !found {
			return 0, 0, false, err
		}
		fields := strings.Fields(text)
		if len(fields) != 2 || fields[0] == "max" {
			return 0, 0, false, nil
		}
		if quota, err = strconv.ParseInt(fields[0], 10, 64); err != nil {
			return 0, 0, false, fmt.Errorf("parse cpu.max %q: %w", text, err)
		}
		if period, err = strconv.ParseInt(fields[1], 10, 64); err != nil {
			return 0, 0, false, fmt.Errorf("parse cpu.max %q: %w", text, err)
		}
		return quota, period, true, nil
	}
	for _, dir := range []string{"cpu", "cpu,cpuacct"} {
		quotaText, found, err := readFileIfExists(filepath.Join(r.CgroupRoot, dir, "cpu.cfs_quota_us"))
		if err != nil {
			return 0, 0, false, err
		}
		if !found {
			continue
		}
		periodText, found, err := readFileIfExists(filepath.Join(r.CgroupRoot, dir, "cpu.cfs_period_us"))
		if err != nil || !found {
			return 0, 0, false, err
		}
		if quota, err = strconv.ParseInt(quotaText, 10, 64); err != nil {
			return 0, 0, false, fmt.Errorf("parse cpu.cfs_quota_us %q: %w", quotaText, err)
		}
		if period, err = strconv.ParseInt(periodText, 10, 64); err != nil {
			return 0, 0, false, fmt.Errorf("parse cpu.cfs_period_us %q: %w", periodText, err)
		}
		// v1 writes -1 for no quota.
		return quota, period, quota > 0, nil
	}
	return 0, 0, false, nil
}

// memoryLimit reads the cgroup's memory limit; ok is false when none is set.
// v1's "no limit" is a page-rounded MaxInt64, which the caller's comparison
// with MemTotal discards.
func (r MachineReader) memoryLimit() (int64, bool, error) {
	if r.CgroupRoot == "" {
		return 0, false, nil
	}
	path := filepath.Join(r.CgroupRoot, "memory", "memory.limit_in_bytes")
	if r.cgroupV2() {
		path = filepath.Join(r.CgroupRoot, "memory.max")
	}
	text, found, err := readFileIfExists(path)
	if err != nil || !found || text == "max" {
		return 0, false, err
	}
	limit, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("parse %s %q: %w", path, text, err)
	}
	return limit, true, nil
}

type meminfo struct {
	total, swap int64
}

// readMeminfo reads MemTotal and SwapTotal, which /proc/meminfo gives in kB
// (KiB in fact).
func readMeminfo(path string) (meminfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return meminfo{}, err
	}
	defer f.Close()
	var m meminfo
	foundTotal := false
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		key, rest, ok := strings.Cut(scanner.Text(), ":")
		if !ok || (key != "MemTotal" && key != "SwapTotal") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return meminfo{}, fmt.Errorf("parse %s: %s has no value", path, key)
		}
		kib, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return meminfo{}, fmt.Errorf("parse %s: %s: %w", path, key, err)
		}
		if key == "MemTotal" {
			m.total = kib * 1024
			foundTotal = true
		} else {
			m.swap = kib * 1024
		}
	}
	if err := scanner.Err(); err != nil {
		return meminfo{}, fmt.Errorf("read %s: %w", path, err)
	}
	if !foundTotal {
		return meminfo{}, fmt.Errorf("parse %s: no MemTotal", path)
	}
	return m, nil
}

// filesystemSize is the size of the filesystem holding dir, as cadvisor
// computes it (fragment size times blocks). The kubelet may run before its
// root directory is made, so a missing dir is measured at its parent.
func filesystemSize(dir string) (int64, error) {
	if dir == "" {
		return 0, errors.New("no directory to measure")
	}
	for {
		var st unix.Statfs_t
		err := unix.Statfs(dir, &st)
		if err == nil {
			size := int64(st.Frsize)
			if size == 0 {
				size = int64(st.Bsize)
			}
			return size * int64(st.Blocks), nil
		}
		parent := filepath.Dir(dir)
		if !errors.Is(err, unix.ENOENT) || parent == dir {
			return 0, fmt.Errorf("statfs %s: %w", dir, err)
		}
		dir = parent
	}
}

// readHugePages lists the page sizes the kernel supports and how many pages
// of each are reserved. No directory means no huge page support.
func readHugePages(dir string) (map[int64]int64, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pages := map[int64]int64{}
	for _, e := range entries {
		sizeText, ok := strings.CutPrefix(e.Name(), "hugepages-")
		if !ok {
			continue
		}
		sizeText, ok = strings.CutSuffix(sizeText, "kB")
		if !ok {
			continue
		}
		kib, err := strconv.ParseInt(sizeText, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parse page size of %s: %w", e.Name(), err)
		}
		countText, found, err := readFileIfExists(filepath.Join(dir, e.Name(), "nr_hugepages"))
		if err != nil {
			return nil, err
		}
		var count int64
		if found {
			if count, err = strconv.ParseInt(countText, 10, 64); err != nil {
				return nil, fmt.Errorf("parse %s/nr_hugepages: %w", e.Name(), err)
			}
		}
		pages[kib*1024] = count
	}
	return pages, nil
}

// readOSImage returns PRETTY_NAME, or "Linux" as cadvisor does when the file
// has none.
func readOSImage(path string) (string, error) {
	text, err := readOptional(path)
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(text) {
		value, ok := strings.CutPrefix(strings.TrimSpace(line), "PRETTY_NAME=")
		if !ok {
			continue
		}
		if unquoted, err := strconv.Unquote(value); err == nil {
			return unquoted, nil
		}
		return strings.Trim(value, `"'`), nil
	}
	return "Linux", nil
}

// readOptional returns the trimmed content of path, or "" when it does not
// exist or may not be read (the DMI UUID is root's alone).
func readOptional(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func readFileIfExists(path string) (string, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return strings.TrimSpace(string(b)), true, nil
}
