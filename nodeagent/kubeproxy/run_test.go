package kubeproxy

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNodeNameFor(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		flag, fromConfig, want string
	}{
		{"Kindish-Worker ", "other", "kindish-worker"},
		{"", "kindish-control-plane", "kindish-control-plane"},
		{"", "", host},
	}
	for _, c := range cases {
		got, err := nodeNameFor(c.flag, c.fromConfig)
		if err != nil || got != c.want {
			t.Errorf("nodeNameFor(%q, %q) = %q, %v; want %q", c.flag, c.fromConfig, got, err, c.want)
		}
	}
	if _, err := nodeNameFor("   ", ""); err == nil {
		t.Error("a blank --hostname-override was accepted")
	}
}

func TestConntrackTCPBeLiberal(t *testing.T) {
	dir := t.TempDir()
	write := func(name, value string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		path string
		want bool
	}{
		{write("on", "1\n"), true},
		{write("off", "0\n"), false},
		{filepath.Join(dir, "missing"), false},
	}
	for _, c := range cases {
		if got := conntrackTCPBeLiberal(c.path); got != c.want {
			t.Errorf("conntrackTCPBeLiberal(%s) = %v, want %v", filepath.Base(c.path), got, c.want)
		}
	}
}
