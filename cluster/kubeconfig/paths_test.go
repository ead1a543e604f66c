package kubeconfig

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPaths(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	home := filepath.Join(dir, "home")
	list := func(paths ...string) string { return strings.Join(paths, string(os.PathListSeparator)) }

	tests := []struct {
		name      string
		explicit  string
		env       string
		existing  []string
		wantPaths []string
		wantMerge string
	}{
		{name: "default is ~/.kube/config", wantPaths: []string{filepath.Join(home, ".kube", "config")}, wantMerge: filepath.Join(home, ".kube", "config")},
		{name: "explicit wins over KUBECONFIG", explicit: c, env: list(a, b), wantPaths: []string{c}, wantMerge: c},
		{name: "single KUBECONFIG entry", env: a, wantPaths: []string{a}, wantMerge: a},
		{name: "none exists: merge creates the last", env: list(a, b, c), wantPaths: []string{a, b, c}, wantMerge: c},
		{name: "merge into the first that exists", env: list(a, b, c), existing: []string{b, c}, wantPaths: []string{a, b, c}, wantMerge: b},
		{name: "empty entries and repeats dropped", env: list("", a, a, "", b), existing: []string{a}, wantPaths: []string{a, b}, wantMerge: a},
		{name: "only separators is unset", env: list("", ""), wantPaths: []string{filepath.Join(home, ".kube", "config")}, wantMerge: filepath.Join(home, ".kube", "config")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HOME", home)
			t.Setenv("KUBECONFIG", tt.env)
			for _, p := range []string{a, b, c} {
				os.Remove(p)
			}
			for _, p := range tt.existing {
				writeFile(t, p, "", 0o600)
			}
			if got := Paths(tt.explicit); !slices.Equal(got, tt.wantPaths) {
				t.Errorf("Paths = %q, want %q", got, tt.wantPaths)
			}
			if got := Path(tt.explicit); got != tt.wantMerge {
				t.Errorf("Path = %q, want %q", got, tt.wantMerge)
			}
		})
	}
}
