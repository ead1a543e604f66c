package gobuild

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeGoMod(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "go.mod")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVersionMismatchesNameEveryModuleBothRequireDifferently(t *testing.T) {
	kindish := writeGoMod(t, `module github.com/kindish/kindish

go 1.26

require (
	k8s.io/client-go v0.36.4
	golang.org/x/net v0.59.0 // indirect
	golang.org/x/sys v0.48.0
)
`)
	for _, tc := range []struct {
		name    string
		wrapper string
		want    []string
	}{
		{"same versions", "module w\n\nrequire (\n\tk8s.io/client-go v0.36.4 // indirect\n\tgolang.org/x/net v0.59.0\n\texample.com/upstream v1.0.0\n)\n", nil},
		{"a newer and an older one", "module w\n\nrequire (\n\tk8s.io/client-go v0.37.1\n\tgolang.org/x/net v0.58.0\n\tgolang.org/x/sys v0.48.0\n)\n",
			[]string{"k8s.io/client-go v0.37.1, kindish v0.36.4", "golang.org/x/net v0.58.0, kindish v0.59.0"}},
		// A replaced module keeps its required version in the compiler's
		// cache key under -trimpath: it would still be compiled again.
		{"replaced to kindish's", "module w\n\nrequire k8s.io/client-go v0.37.1\n\nreplace k8s.io/client-go => k8s.io/client-go v0.36.4\n",
			[]string{"k8s.io/client-go: replaced; kindish requires v0.36.4"}},
		{"only upstream modules", "module w\n\nrequire example.com/upstream v1.0.0\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := versionMismatches(kindish, writeGoMod(t, tc.wrapper))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("mismatches = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckSharedVersionsSaysWhatToDo(t *testing.T) {
	kindish := writeGoMod(t, "module k\n\nrequire golang.org/x/net v0.59.0\n")
	wrapper := writeGoMod(t, "module w\n\nrequire golang.org/x/net v0.60.0\n")
	err := CheckSharedVersions(kindish, wrapper)
	if err == nil {
		t.Fatal("no error for differing versions")
	}
	for _, want := range []string{wrapper, "golang.org/x/net v0.60.0, kindish v0.59.0", "go mod edit -require"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := CheckSharedVersions(kindish, kindish); err != nil {
		t.Errorf("identical files: %v", err)
	}
	if err := CheckSharedVersions(kindish, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("no error for a missing go.mod")
	}
}
