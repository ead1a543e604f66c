package nodeinit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testLogger(t *testing.T) (*logger, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	log, err := openLogger(out, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(log.close)
	return log, out
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSetSysctls(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "net/ipv4/ip_forward"), "0\n")
	writeFile(t, filepath.Join(dir, "fs/inotify/max_user_watches"), "1048576\n")
	writeFile(t, filepath.Join(dir, "fs/inotify/max_user_instances"), "128\n")
	log, out := testLogger(t)
	in := &Init{cfg: Config{ProcSysDir: dir, Sysctls: []Sysctl{
		{Name: "net.ipv4.ip_forward", Value: "1", Required: true},
		{Name: "fs.inotify.max_user_watches", Value: "524288", AtLeast: true},
		{Name: "fs.inotify.max_user_instances", Value: "512", AtLeast: true},
		{Name: "net.bridge.bridge-nf-call-iptables", Value: "1"},
	}}, log: log}

	if err := in.setSysctls(); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"net/ipv4/ip_forward":           "1",
		"fs/inotify/max_user_watches":   "1048576\n", // larger: kept
		"fs/inotify/max_user_instances": "512",       // smaller: raised
	} {
		if got := readFile(t, filepath.Join(dir, path)); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if !strings.Contains(out.String(), "net.bridge.bridge-nf-call-iptables is not available") {
		t.Errorf("a missing optional sysctl was not logged:\n%s", out)
	}
}

func TestMissingRequiredSysctlFailsBoot(t *testing.T) {
	log, _ := testLogger(t)
	in := &Init{cfg: Config{ProcSysDir: t.TempDir(), Sysctls: []Sysctl{
		{Name: "net.ipv4.ip_forward", Value: "1", Required: true},
	}}, log: log}
	if err := in.setSysctls(); err == nil || !strings.Contains(err.Error(), "net.ipv4.ip_forward") {
		t.Errorf("got %v, want an error naming the sysctl", err)
	}
}

func TestEnsureMachineID(t *testing.T) {
	const valid = "0123456789abcdef0123456789abcdef"
	tests := []struct {
		name     string
		content  *string
		wantKept bool
	}{
		{name: "missing file gets one", content: nil},
		{name: "empty file gets one", content: ptr("")},
		{name: "uninitialized gets one", content: ptr("uninitialized\n")},
		{name: "a valid one is kept across restarts", content: ptr(valid + "\n"), wantKept: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "machine-id")
			if tt.content != nil {
				writeFile(t, path, *tt.content)
			}
			log, _ := testLogger(t)
			in := &Init{cfg: Config{MachineIDPath: path}, log: log}
			if err := in.ensureMachineID(); err != nil {
				t.Fatal(err)
			}
			got := readFile(t, path)
			if !isMachineID([]byte(strings.TrimSuffix(got, "\n"))) || !strings.HasSuffix(got, "\n") {
				t.Fatalf("machine-id %q is not 32 hex digits and a newline", got)
			}
			if kept := got == valid+"\n"; kept != tt.wantKept {
				t.Errorf("machine-id %q: kept = %v, want %v", got, kept, tt.wantKept)
			}
		})
	}
}

func TestMachineIDsDiffer(t *testing.T) {
	a, _ := newMachineID()
	b, _ := newMachineID()
	if a == b {
		t.Errorf("two generated machine-ids are both %s", a)
	}
}

func TestDelegateCgroupV2Controllers(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "cgroup.controllers"), "cpuset cpu io memory pids\n")
	writeFile(t, filepath.Join(root, "cgroup.procs"), "1\n57\n")
	log, _ := testLogger(t)
	in := &Init{cfg: Config{CgroupRoot: root}, log: log}

	if err := in.delegateCgroupV2Controllers(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(root, "init", "cgroup.procs")); got != "1\n57\n" {
		t.Errorf("moved processes %q, want 1 and 57", got)
	}
	if got := readFile(t, filepath.Join(root, "cgroup.subtree_control")); got != "+cpuset\n+cpu\n+io\n+memory\n+pids\n" {
		t.Errorf("enabled controllers %q", got)
	}
}

func TestDelegateCgroupV2ControllersLeavesV1Alone(t *testing.T) {
	root := t.TempDir()
	log, _ := testLogger(t)
	in := &Init{cfg: Config{CgroupRoot: root}, log: log}
	if err := in.delegateCgroupV2Controllers(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("wrote %d entries into a cgroup v1 root", len(entries))
	}
}

func ptr[T any](v T) *T { return &v }
