package gobuild

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var prog = Program{Name: "Upstream", Version: "v1.2.3", Binary: "upstream"}

// wrapper writes a stand-in wrapper module.
func wrapper(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":  "module example.com/wrapper\n\nrequire example.com/upstream v1.2.3\n",
		"go.sum":  "example.com/upstream v1.2.3 h1:abc=\n",
		"main.go": "package main\n\nfunc main() {}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// FakeGo is a go command that logs its arguments, working directory and
// the build environment, one invocation a line, and writes its -o output;
// with fail set it prints a compiler error and exits 1 instead.
func FakeGo(t *testing.T, fail bool) (goCmd, logFile string) {
	t.Helper()
	dir := t.TempDir()
	logFile = filepath.Join(dir, "calls")
	script := `#!/bin/sh
out=
prev=
for a in "$@"; do
	[ "$prev" = "-o" ] && out=$a
	prev=$a
done
echo "$* | dir=$(pwd) | CGO_ENABLED=$CGO_ENABLED GOOS=$GOOS GOARCH=$GOARCH GOWORK=$GOWORK" >> ` + logFile + `
`
	if fail {
		script += "echo 'main.go:3:2: no required module provides package example.com/upstream/cmd' >&2\nexit 1\n"
	} else {
		script += "printf 'built binary' > \"$out\"\n"
	}
	goCmd = filepath.Join(dir, "go")
	if err := os.WriteFile(goCmd, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return goCmd, logFile
}

func calls(t *testing.T, logFile string) []string {
	t.Helper()
	b, err := os.ReadFile(logFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestBuildCommandLine(t *testing.T) {
	args := BuildArgs("/cache/k/upstream")
	want := []string{"build", "-trimpath", "-buildvcs=false", "-mod=readonly", "-ldflags=-s -w", "-o", "/cache/k/upstream", "."}
	if !slices.Equal(args, want) {
		t.Errorf("args %q, want %q", args, want)
	}
	env := BuildEnv("arm64")
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOWORK=off"} {
		if !slices.Contains(env, want) {
			t.Errorf("environment %q lacks %s", env, want)
		}
	}
}

func TestBinaryIsBuiltOncePerWrapperContent(t *testing.T) {
	mod := wrapper(t)
	goCmd, log := FakeGo(t, false)
	opts := Options{ModuleDir: mod, CacheDir: t.TempDir(), GOARCH: "amd64", Go: goCmd}

	bin, err := Binary(context.Background(), prog, opts)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(bin) != prog.Binary {
		t.Errorf("binary %s is not named %s", bin, prog.Binary)
	}
	if b, err := os.ReadFile(bin); err != nil || string(b) != "built binary" {
		t.Fatalf("binary %s: %q, %v", bin, b, err)
	}
	got := calls(t, log)
	if len(got) != 1 {
		t.Fatalf("go ran %d times, want once: %q", len(got), got)
	}
	for _, want := range []string{"build -trimpath -buildvcs=false -mod=readonly -ldflags=-s -w -o ", "dir=" + mod, "CGO_ENABLED=0 GOOS=linux GOARCH=amd64 GOWORK=off"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("go call %q lacks %q", got[0], want)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(bin)); len(entries) != 1 {
		t.Errorf("cache directory holds %v, want the binary alone", entries)
	}

	// Unchanged wrapper: the cached binary, without running go.
	again, err := Binary(context.Background(), prog, opts)
	if err != nil || again != bin {
		t.Fatalf("second Binary = %q, %v; want %s", again, err, bin)
	}
	if n := len(calls(t, log)); n != 1 {
		t.Errorf("go ran again for an unchanged wrapper (%d calls)", n)
	}

	// A new go.sum (an upstream upgrade): built again, elsewhere.
	os.WriteFile(filepath.Join(mod, "go.sum"), []byte("example.com/upstream v1.2.4 h1:def=\n"), 0o644)
	upgraded, err := Binary(context.Background(), prog, opts)
	if err != nil {
		t.Fatal(err)
	}
	if upgraded == bin || len(calls(t, log)) != 2 {
		t.Errorf("a changed go.sum reused %s (%d go calls)", upgraded, len(calls(t, log)))
	}
}

func TestKeyFollowsTheWrapperAndTheArchitecture(t *testing.T) {
	mod := wrapper(t)
	key := func(goarch string) string {
		k, err := Key(mod, goarch)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key("amd64")
	if key("amd64") != base {
		t.Error("the same wrapper gave two keys")
	}
	if key("arm64") == base {
		t.Error("another architecture kept the key")
	}
	for _, name := range KeyFiles {
		b, _ := os.ReadFile(filepath.Join(mod, name))
		os.WriteFile(filepath.Join(mod, name), append(b, '\n'), 0o644)
		if k := key("amd64"); k == base {
			t.Errorf("changing %s kept the key", name)
		} else {
			base = k
		}
	}
	os.Remove(filepath.Join(mod, "go.sum"))
	if _, err := Key(mod, "amd64"); err == nil {
		t.Error("no error for a wrapper without go.sum")
	}
}

// The key is the one CoreDNS's cache was filled under before this package
// existed: changing its recipe would rebuild every cached binary (minutes).
func TestKeyRecipeIsStable(t *testing.T) {
	dir := t.TempDir()
	for _, name := range KeyFiles {
		os.WriteFile(filepath.Join(dir, name), []byte(name+" content\n"), 0o644)
	}
	key, err := Key(dir, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	// What images/coredns's own Key gave for these files.
	if want := "0cc8b38c4d670744"; key != want {
		t.Errorf("key %s, want %s: the recipe changed, and every cached build with it", key, want)
	}
}

func TestAFailedBuildExplainsItselfAndCachesNothing(t *testing.T) {
	mod := wrapper(t)
	goCmd, _ := FakeGo(t, true)
	cache := t.TempDir()
	_, err := Binary(context.Background(), prog, Options{ModuleDir: mod, CacheDir: cache, GOARCH: "amd64", Go: goCmd})
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want a BuildError", err)
	}
	for _, want := range []string{"build Upstream: ", "cd " + mod, "build -trimpath", "no required module provides package"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	key, _ := Key(mod, "amd64")
	if entries, _ := os.ReadDir(filepath.Join(cache, key)); len(entries) != 0 {
		t.Errorf("a failed build left %v in the cache", entries)
	}
}
