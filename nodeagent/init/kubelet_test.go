package nodeinit

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestKubeletFlagsRoundTrip(t *testing.T) {
	args := []string{"--node-ip=172.18.0.2", "--node-labels=a=b,c=d", "--register-with-taints=node-role.kubernetes.io/control-plane:NoSchedule"}
	path := filepath.Join(t.TempDir(), "kubeadm-flags.env")
	if err := os.WriteFile(path, FormatKubeletFlags(args), 0o644); err != nil {
		t.Fatal(err)
	}
	got, ok, err := ReadKubeletFlags(path)
	if err != nil || !ok || !slices.Equal(got, args) {
		t.Errorf("ReadKubeletFlags = %q, %v, %v; want %q", got, ok, err, args)
	}
}

func TestReadKubeletFlags(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          []string
		wantErr       bool
	}{
		{name: "kubeadm's own file", content: "# written by kubeadm\nKUBELET_KUBEADM_ARGS=\"--a=1 --b=2\"\n", want: []string{"--a=1", "--b=2"}},
		{name: "unquoted", content: "KUBELET_KUBEADM_ARGS=--a=1\n", want: []string{"--a=1"}},
		{name: "other variables are ignored", content: "OTHER=x\nKUBELET_KUBEADM_ARGS=\"--a=1\"\n", want: []string{"--a=1"}},
		{name: "bad quoting", content: "KUBELET_KUBEADM_ARGS=\"--a=1\n", wantErr: true},
		{name: "no variable", content: "OTHER=x\n", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "flags.env")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, ok, err := ReadKubeletFlags(path)
			if tc.wantErr {
				if err == nil {
					t.Errorf("no error for %q", tc.content)
				}
				return
			}
			if err != nil || !ok || !slices.Equal(got, tc.want) {
				t.Errorf("got %q, %v, %v; want %q", got, ok, err, tc.want)
			}
		})
	}
	if _, ok, err := ReadKubeletFlags(filepath.Join(t.TempDir(), "missing")); ok || err != nil {
		t.Errorf("a missing file gave ok=%v err=%v; want no kubelet and no error", ok, err)
	}
}
