package nodeinit

import (
	"slices"
	"strings"
	"testing"
)

// Captured in a container started with --cgroupns=private on a cgroup v1
// (hybrid) host without --privileged: the controllers are read-only.
const mountInfoV1Private = `71 47 0:38 / / rw,relatime master:2 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/A:/var/lib/docker/overlay2/l/B,upperdir=/u,workdir=/w
72 71 0:41 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
75 71 0:44 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
76 75 0:45 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755
77 76 0:28 / /sys/fs/cgroup/cpu ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu
78 76 0:29 / /sys/fs/cgroup/cpuacct ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpuacct
80 76 0:31 / /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,memory
85 76 0:36 / /sys/fs/cgroup/systemd ro,nosuid,nodev,noexec,relatime - cgroup systemd rw,name=systemd
86 71 0:37 / /sys/fs/cgroup/unified ro,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw
88 71 0:47 / /run rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw
`

// The same on a host itself: hybrid, everything writable.
const mountInfoV1Host = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

// cgroup v2 only, private namespace: the unified hierarchy is read-only.
const mountInfoV2Private = `900 899 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
905 904 0:55 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
906 905 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate,memory_recursiveprot
907 900 0:57 / /var/lib/with\040space rw,relatime - tmpfs tmpfs rw
`

func TestReadOnlyCgroupMounts(t *testing.T) {
	tests := []struct {
		name      string
		mountinfo string
		want      []string
	}{
		{
			name:      "v1 controllers and the unified mount in a private cgroup namespace",
			mountinfo: mountInfoV1Private,
			want: []string{"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/memory",
				"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"},
		},
		{name: "writable v1 mounts need nothing", mountinfo: mountInfoV1Host},
		{name: "v2 unified hierarchy at the root", mountinfo: mountInfoV2Private, want: []string{"/sys/fs/cgroup"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mounts, err := parseMountInfo(strings.NewReader(tt.mountinfo))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range readOnlyCgroupMounts(mounts, "/sys/fs/cgroup") {
				got = append(got, m.MountPoint)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseMountInfoFields(t *testing.T) {
	mounts, err := parseMountInfo(strings.NewReader(mountInfoV2Private))
	if err != nil {
		t.Fatal(err)
	}
	cg := mounts[2]
	if cg.FSType != "cgroup2" || !cg.readOnly() || !slices.Equal(cg.Options, []string{"ro", "nosuid", "nodev", "noexec", "relatime"}) {
		t.Errorf("cgroup2 mount parsed as %+v", cg)
	}
	if got := mounts[3].MountPoint; got != "/var/lib/with space" {
		t.Errorf("escaped mount point parsed as %q", got)
	}
	if !isMountPoint(mounts, "/") || isMountPoint(mounts, "/var/lib/kubelet") {
		t.Error("isMountPoint is wrong about / or /var/lib/kubelet")
	}
}

func TestParseMountInfoRejectsMalformedLines(t *testing.T) {
	if _, err := parseMountInfo(strings.NewReader("36 35 98:0 /mnt1 /mnt2 rw\n")); err == nil {
		t.Error("a line without the separator was accepted")
	}
}

func TestKeptMountFlagsDropReadOnly(t *testing.T) {
	got := keptMountFlags([]string{"ro", "nosuid", "nodev", "noexec", "relatime"})
	want := keptMountFlags([]string{"nosuid", "nodev", "noexec", "relatime"})
	if got != want || got == 0 {
		t.Errorf("flags %#x, want %#x", got, want)
	}
}
