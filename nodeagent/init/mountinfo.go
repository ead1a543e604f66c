package nodeinit

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// mountInfo is the part of a /proc/self/mountinfo line the boot steps need.
type mountInfo struct {
	MountPoint string
	// Options are the per-mount options (ro, nosuid, ...), which a bind
	// remount changes; the filesystem's own options are not needed here.
	Options []string
	FSType  string
}

func (m mountInfo) readOnly() bool { return slices.Contains(m.Options, "ro") }

func readMountInfo(path string) ([]mountInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mounts, err := parseMountInfo(f)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return mounts, nil
}

// parseMountInfo reads the format of proc(5):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// with any number of optional fields before the "-" separator.
func parseMountInfo(r io.Reader) ([]mountInfo, error) {
	var mounts []mountInfo
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024) // overlay lines with many lower dirs are long
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		fields := strings.Fields(text)
		sep := slices.Index(fields, "-")
		if sep < 6 || sep+1 >= len(fields) {
			return nil, fmt.Errorf("line %d: malformed: %q", line, text)
		}
		mounts = append(mounts, mountInfo{
			MountPoint: unescapeOctal(fields[4]),
			Options:    strings.Split(fields[5], ","),
			FSType:     fields[sep+1],
		})
	}
	return mounts, sc.Err()
}

// unescapeOctal undoes the kernel's escaping of space, tab, newline and
// backslash in mount paths (\040 and friends).
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readOnlyCgroupMounts lists the cgroup (v1 controllers) and cgroup2 mounts
// at or below root that are mounted read-only, as Docker does with
// --cgroupns=private when the container is not privileged.
func readOnlyCgroupMounts(mounts []mountInfo, root string) []mountInfo {
	var ro []mountInfo
	for _, m := range mounts {
		if (m.FSType == "cgroup" || m.FSType == "cgroup2") && isAtOrBelow(m.MountPoint, root) && m.readOnly() {
			ro = append(ro, m)
		}
	}
	return ro
}

func isMountPoint(mounts []mountInfo, path string) bool {
	return slices.ContainsFunc(mounts, func(m mountInfo) bool { return m.MountPoint == path })
}

func isAtOrBelow(path, root string) bool {
	root = strings.TrimSuffix(root, "/")
	return path == root || strings.HasPrefix(path, root+"/")
}
