package volume

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestWriteEtcHosts(t *testing.T) {
	const localhost = "# Kubernetes-managed hosts file.\n" +
		"127.0.0.1\tlocalhost\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\n" +
		"fe00::0\tip6-mcastprefix\n" +
		"fe00::1\tip6-allnodes\n" +
		"fe00::2\tip6-allrouters\n"
	aliases := []corev1.HostAlias{{IP: "10.0.0.9", Hostnames: []string{"db", "db.local"}}}
	tests := []struct {
		name   string
		tweak  func(*corev1.Pod)
		podIPs []string
		want   string // "" when no file must be written
	}{
		{
			name:   "pod IPs with the pod's name",
			podIPs: []string{"10.244.1.5", "fd00::5"},
			want:   localhost + "10.244.1.5\tweb\n" + "fd00::5\tweb\n",
		},
		{
			name:   "hostname and subdomain give an FQDN in the cluster domain",
			tweak:  func(p *corev1.Pod) { p.Spec.Hostname = "db-0"; p.Spec.Subdomain = "db" },
			podIPs: []string{"10.244.1.5"},
			want:   localhost + "10.244.1.5\tdb-0.db.default.svc.cluster.local\tdb-0\n",
		},
		{
			name:   "hostAliases come last",
			tweak:  func(p *corev1.Pod) { p.Spec.HostAliases = aliases },
			podIPs: []string{"10.244.1.5"},
			want:   localhost + "10.244.1.5\tweb\n" + "\n# Entries added by HostAliases.\n10.0.0.9\tdb\tdb.local\n",
		},
		{
			name:   "a long pod name is cut to 63 characters without a trailing dash",
			tweak:  func(p *corev1.Pod) { p.Name = strings.Repeat("a", 62) + "-bbbb" },
			podIPs: []string{"10.244.1.5"},
			want:   localhost + "10.244.1.5\t" + strings.Repeat("a", 62) + "\n",
		},
		{
			name:  "hostNetwork pods get the node's file",
			tweak: func(p *corev1.Pod) { p.Spec.HostNetwork = true; p.Spec.HostAliases = aliases },
			want:  "# Kubernetes-managed hosts file (host network).\n127.0.0.1\tlocalhost\n172.18.0.2\tkind-worker\n" + "\n# Entries added by HostAliases.\n10.0.0.9\tdb\tdb.local\n",
		},
		{
			name: "no file for a pod without IPs yet",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t)
			env.m.nodeHostsFile = filepath.Join(t.TempDir(), "hosts")
			if err := os.WriteFile(env.m.nodeHostsFile, []byte("127.0.0.1\tlocalhost\n172.18.0.2\tkind-worker\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			pod := testPod()
			if tt.tweak != nil {
				tt.tweak(pod)
			}
			if err := env.m.WriteEtcHosts(pod, tt.podIPs); err != nil {
				t.Fatalf("WriteEtcHosts: %v", err)
			}
			file := filepath.Join(env.m.PodDir(pod.UID), "etc-hosts")
			if tt.want == "" {
				if _, err := os.Stat(file); !isNotExist(err) {
					t.Fatalf("etc-hosts written (err %v), want none", err)
				}
				return
			}
			if got := readFile(t, file); got != tt.want {
				t.Errorf("etc-hosts:\n%s\nwant:\n%s", got, tt.want)
			}
			if mode := fileMode(t, file); mode != 0o644 {
				t.Errorf("mode = %v, want 0644", mode)
			}
		})
	}
}

// Containers bind-mount the file, so an update must reach the same inode.
func TestWriteEtcHostsUpdatesTheFileInPlace(t *testing.T) {
	env := newTestEnv(t)
	pod := testPod()
	if err := env.m.WriteEtcHosts(pod, []string{"10.244.1.5"}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(env.m.PodDir(pod.UID), "etc-hosts")
	before, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.m.WriteEtcHosts(pod, []string{"10.244.1.6"}); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Errorf("etc-hosts was replaced by a new file")
	}
	if got := readFile(t, file); !strings.Contains(got, "10.244.1.6\tweb\n") {
		t.Errorf("etc-hosts not updated:\n%s", got)
	}
}
