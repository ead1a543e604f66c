package coredns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kindish/kindish/images/gobuild"
)

// The wrapper in the source tree is a module of its own that requires the
// pinned CoreDNS, and imports the standard plugin set.
func TestTheWrapperModulePinsCoreDNS(t *testing.T) {
	const dir = "build"
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "module github.com/kindish/kindish/images/coredns/build\n") {
		t.Error("the wrapper's go.mod does not declare its own module")
	}
	if !strings.Contains(string(mod), "require github.com/coredns/coredns "+Version+"\n") {
		t.Errorf("the wrapper's go.mod does not require CoreDNS %s", Version)
	}
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil || !strings.Contains(string(sum), "github.com/coredns/coredns "+Version+" h1:") {
		t.Errorf("go.sum lacks CoreDNS %s: %v", Version, err)
	}
	main, err := os.ReadFile(filepath.Join(dir, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	// Every plugin of the cluster's Corefile (cluster/addons/coredns.go,
	// kubeadm's) must be built in, or CoreDNS refuses to start; the
	// prometheus directive lives in the metrics package.
	for _, plugin := range []string{"errors", "health", "ready", "kubernetes", "metrics", "forward", "cache", "loop", "reload", "loadbalance"} {
		if want := `_ "github.com/coredns/coredns/plugin/` + plugin + `"`; !strings.Contains(string(main), want) {
			t.Errorf("main.go lacks %s", want)
		}
	}
	if !strings.Contains(string(main), "coremain.Run()") {
		t.Error("main.go does not run CoreDNS")
	}
}

// The cache key of the wrapper in the source tree follows its files: the
// binary nodeimage caches under ~/.cache/kindish/coredns/<key>/coredns.
func TestBinaryIsCachedUnderTheProgramName(t *testing.T) {
	if Program.Binary != BinaryName || Program.Version != Version {
		t.Errorf("Program = %+v, want binary %s, version %s", Program, BinaryName, Version)
	}
	mod := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join("build", name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(mod, name), b, 0o644)
	}
	cache := t.TempDir()
	goCmd := filepath.Join(t.TempDir(), "go")
	// A go that writes its -o argument, as a real build would.
	os.WriteFile(goCmd, []byte("#!/bin/sh\nout=\nprev=\nfor a in \"$@\"; do [ \"$prev\" = -o ] && out=$a; prev=$a; done\nprintf coredns > \"$out\"\n"), 0o755)
	bin, err := Binary(t.Context(), Options{ModuleDir: mod, CacheDir: cache, GOARCH: "amd64", Go: goCmd})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(bin) != BinaryName || !strings.HasPrefix(bin, cache+string(filepath.Separator)) {
		t.Errorf("binary at %s, want %s/<key>/%s", bin, cache, BinaryName)
	}
}

// Whatever both kindish and the wrapper compile, the wrapper requires at
// kindish's version: a machine that has built kindish then compiles only
// CoreDNS's own packages.
func TestTheWrapperSharesKindishsCompiledDependencies(t *testing.T) {
	if err := gobuild.CheckSharedVersions(filepath.Join("..", "..", "go.mod"), filepath.Join("build", "go.mod")); err != nil {
		t.Error(err)
	}
}
