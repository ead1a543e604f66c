package nodestatus

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sampleMeminfo = `MemTotal:       24590396 kB
MemFree:        18034212 kB
MemAvailable:   22163908 kB
Buffers:          283104 kB
SwapCached:            0 kB
SwapTotal:       1048572 kB
SwapFree:        1048572 kB
`

const sampleOSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
`

// writeFiles writes path → content under root.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for path, content := range files {
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sampleMachine is a MachineReader over files under a temporary root, with
// the machine's identity and /proc files, and no cgroup limits.
func sampleMachine(t *testing.T, files map[string]string) MachineReader {
	t.Helper()
	root := t.TempDir()
	base := map[string]string{
		"proc/meminfo":                   sampleMeminfo,
		"proc/sys/kernel/random/boot_id": "9f3e6c1a-1111-2222-3333-444455556666\n",
		"proc/sys/kernel/osrelease":      "6.1.0-18-amd64\n",
		"etc/machine-id":                 "0123456789abcdef0123456789abcdef\n",
		"etc/os-release":                 sampleOSRelease,
		"sys/class/dmi/id/product_uuid":  "4c4c4544-0000-1000-8000-000000000000\n",
		"sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages":    "0\n",
		"sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages": "0\n",
		"var/lib/kubelet/.keep":                                    "",
	}
	for path, content := range files {
		if content == "" {
			delete(base, path)
			continue
		}
		base[path] = content
	}
	writeFiles(t, root, base)
	if err := os.MkdirAll(filepath.Join(root, "sys/fs/cgroup"), 0o755); err != nil {
		t.Fatal(err)
	}
	return MachineReader{
		RootDir:           filepath.Join(root, "var/lib/kubelet"),
		Meminfo:           filepath.Join(root, "proc/meminfo"),
		CgroupRoot:        filepath.Join(root, "sys/fs/cgroup"),
		MachineIDFile:     filepath.Join(root, "etc/machine-id"),
		BootIDFile:        filepath.Join(root, "proc/sys/kernel/random/boot_id"),
		KernelReleaseFile: filepath.Join(root, "proc/sys/kernel/osrelease"),
		OSReleaseFile:     filepath.Join(root, "etc/os-release"),
		ProductUUIDFile:   filepath.Join(root, "sys/class/dmi/id/product_uuid"),
		HugePagesDir:      filepath.Join(root, "sys/kernel/mm/hugepages"),
		NumCPU:            8,
	}
}

func TestMachineReaderParsesNodeFiles(t *testing.T) {
	r := sampleMachine(t, nil)
	info, err := r.Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if info.EphemeralStorageBytes <= 0 {
		t.Errorf("ephemeral storage = %d, want the size of the root dir's filesystem", info.EphemeralStorageBytes)
	}
	info.EphemeralStorageBytes = 0
	want := MachineInfo{
		NumCPU:        8,
		MemoryBytes:   24590396 * 1024,
		SwapBytes:     1048572 * 1024,
		HugePages:     map[int64]int64{2 << 20: 0, 1 << 30: 0},
		MachineID:     "0123456789abcdef0123456789abcdef",
		SystemUUID:    "4c4c4544-0000-1000-8000-000000000000",
		BootID:        "9f3e6c1a-1111-2222-3333-444455556666",
		KernelVersion: "6.1.0-18-amd64",
		OSImage:       "Debian GNU/Linux 12 (bookworm)",
		Architecture:  info.Architecture,
	}
	if diff := cmp.Diff(want, info); diff != "" {
		t.Errorf("machine info (-want +got):\n%s", diff)
	}
	if info.Architecture == "" {
		t.Error("no architecture")
	}
}

func TestMachineReaderAppliesCgroupLimits(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		wantCPUs   int
		wantMemory int64
	}{
		{
			name:       "cgroup v2 without limits keeps the machine's",
			files:      map[string]string{"sys/fs/cgroup/cgroup.controllers": "cpu memory\n", "sys/fs/cgroup/cpu.max": "max 100000\n", "sys/fs/cgroup/memory.max": "max\n"},
			wantCPUs:   8,
			wantMemory: 24590396 * 1024,
		},
		{
			name:       "cgroup v2 quota and memory limit lower capacity",
			files:      map[string]string{"sys/fs/cgroup/cgroup.controllers": "cpu memory\n", "sys/fs/cgroup/cpu.max": "200000 100000\n", "sys/fs/cgroup/memory.max": "4294967296\n"},
			wantCPUs:   2,
			wantMemory: 4 << 30,
		},
		{
			name:       "a fractional quota rounds up to whole CPUs",
			files:      map[string]string{"sys/fs/cgroup/cgroup.controllers": "cpu\n", "sys/fs/cgroup/cpu.max": "150000 100000\n"},
			wantCPUs:   2,
			wantMemory: 24590396 * 1024,
		},
		{
			name: "cgroup v1 unlimited keeps the machine's",
			files: map[string]string{
				"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":  "-1\n",
				"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes":  "9223372036854771712\n",
			},
			wantCPUs:   8,
			wantMemory: 24590396 * 1024,
		},
		{
			name: "cgroup v1 quota and memory limit lower capacity",
			files: map[string]string{
				"sys/fs/cgroup/cpu/cpu.cfs_quota_us":         "300000\n",
				"sys/fs/cgroup/cpu/cpu.cfs_period_us":        "100000\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "2147483648\n",
			},
			wantCPUs:   3,
			wantMemory: 2 << 30,
		},
		{
			name:       "a quota above the CPUs this process may use does not raise them",
			files:      map[string]string{"sys/fs/cgroup/cgroup.controllers": "cpu\n", "sys/fs/cgroup/cpu.max": "1600000 100000\n"},
			wantCPUs:   8,
			wantMemory: 24590396 * 1024,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := sampleMachine(t, tt.files).Read()
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if info.NumCPU != tt.wantCPUs || info.MemoryBytes != tt.wantMemory {
				t.Errorf("cpus %d memory %d, want cpus %d memory %d", info.NumCPU, info.MemoryBytes, tt.wantCPUs, tt.wantMemory)
			}
		})
	}
}

func TestMachineReaderToleratesMissingIdentity(t *testing.T) {
	r := sampleMachine(t, map[string]string{
		"etc/machine-id":                "",
		"sys/class/dmi/id/product_uuid": "",
		"etc/os-release":                "NAME=\"Distroless\"\n",
	})
	r.HugePagesDir = filepath.Join(t.TempDir(), "absent")
	info, err := r.Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if info.MachineID != "" || info.SystemUUID != "" {
		t.Errorf("machineID %q systemUUID %q, want both empty", info.MachineID, info.SystemUUID)
	}
	if info.OSImage != "Linux" {
		t.Errorf("osImage = %q, want \"Linux\" without PRETTY_NAME", info.OSImage)
	}
	if info.HugePages != nil {
		t.Errorf("huge pages = %v, want none without kernel support", info.HugePages)
	}
}

func TestMachineReaderMeasuresMissingRootDirAtItsParent(t *testing.T) {
	r := sampleMachine(t, nil)
	present, err := r.Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	r.RootDir = filepath.Join(r.RootDir, "not", "made", "yet")
	missing, err := r.Read()
	if err != nil {
		t.Fatalf("Read with a missing root dir: %v", err)
	}
	if missing.EphemeralStorageBytes != present.EphemeralStorageBytes {
		t.Errorf("ephemeral storage %d, want the parent's %d", missing.EphemeralStorageBytes, present.EphemeralStorageBytes)
	}
}

func TestMachineReaderRequiresMemTotal(t *testing.T) {
	r := sampleMachine(t, map[string]string{"proc/meminfo": "MemFree: 1 kB\n"})
	if _, err := r.Read(); err == nil {
		t.Error("Read accepted a meminfo without MemTotal")
	}
}

func TestMachineReaderReadsThisMachine(t *testing.T) {
	r := NewMachineReader(t.TempDir())
	info, err := r.Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if info.NumCPU <= 0 || info.MemoryBytes <= 0 || info.EphemeralStorageBytes <= 0 || info.KernelVersion == "" || info.BootID == "" {
		t.Errorf("machine info %+v lacks CPUs, memory, storage, kernel or boot ID", info)
	}
}
