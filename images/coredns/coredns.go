// Package coredns builds the CoreDNS binary of the kindish/coredns image
// from CoreDNS's released Go module, through the small wrapper module in
// the build directory (ModuleDir). The wrapper has a go.mod of its own, so
// that CoreDNS's dependencies never enter kindish's module graph and
// `go build ./...` in kindish never compiles them.
//
// Compiling CoreDNS takes minutes, so a built binary is kept under a key of
// the wrapper's content (its go.mod, go.sum and main.go) and the target
// architecture, and reused until one of them changes.
package coredns

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ModuleDir is the wrapper module's directory in the kindish source tree.
const ModuleDir = "images/coredns/build"

// Version is the CoreDNS release the wrapper requires.
const Version = "v1.15.0"

// BinaryName is the name of the built binary, in its cache directory.
const BinaryName = "coredns"

// keyFiles are the wrapper's files that decide what is built.
var keyFiles = []string{"go.mod", "go.sum", "main.go"}

// Options configure Binary.
type Options struct {
	// ModuleDir is the wrapper module's directory on the host.
	ModuleDir string
	// CacheDir keeps the built binaries, one directory per key.
	CacheDir string
	// GOARCH is the architecture to build for; the host's go env default
	// is not assumed, as nodes run on the machine's architecture.
	GOARCH string
	// Go is the go command; default "go" from PATH.
	Go string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// BuildArgs are the go command's arguments that build the wrapper into
// out: a stripped binary without local paths, with no VCS stamp (the
// wrapper sits inside kindish's repository, whose commit does not change
// CoreDNS), never editing the wrapper's go.mod or go.sum.
func BuildArgs(out string) []string {
	return []string{"build", "-trimpath", "-buildvcs=false", "-mod=readonly", "-ldflags=-s -w", "-o", out, "."}
}

// BuildEnv is added to the environment of the build: a static binary (no
// libc in the image), for Linux on goarch, outside any go.work the user
// may have.
func BuildEnv(goarch string) []string {
	return []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + goarch, "GOWORK=off"}
}

// Key identifies what a build of the wrapper at moduleDir for goarch
// gives: a hash of the wrapper's files and the architecture.
func Key(moduleDir, goarch string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "GOARCH=%s\n", goarch)
	for _, name := range keyFiles {
		b, err := os.ReadFile(filepath.Join(moduleDir, name))
		if err != nil {
			return "", fmt.Errorf("coredns wrapper module: %w", err)
		}
		// Length-prefixed, so that moving bytes between files changes it.
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Binary returns the path of the CoreDNS binary for the wrapper module,
// building it into CacheDir/<key>/coredns unless a build with the same key
// is there. The first build downloads CoreDNS's modules through the
// module proxy.
func Binary(ctx context.Context, opts Options) (string, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	goCmd := opts.Go
	if goCmd == "" {
		goCmd = "go"
	}
	key, err := Key(opts.ModuleDir, opts.GOARCH)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(opts.CacheDir, key)
	bin := filepath.Join(dir, BinaryName)
	if st, err := os.Stat(bin); err == nil && st.Mode().IsRegular() {
		log.Info("CoreDNS binary up to date", "version", Version, "key", key)
		return bin, nil
	} else if !errors.Is(err, fs.ErrNotExist) && err != nil {
		return "", fmt.Errorf("coredns binary %s: %w", bin, err)
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("coredns cache: %w", err)
	}
	// Build next to the final name and rename: a concurrent or interrupted
	// build never leaves a partial binary under the final name.
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", fmt.Errorf("coredns cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	built := filepath.Join(tmp, BinaryName)

	log.Info("building CoreDNS (minutes the first time: its modules are downloaded and compiled)", "version", Version, "module", opts.ModuleDir)
	start := time.Now()
	cmd := exec.CommandContext(ctx, goCmd, BuildArgs(built)...)
	cmd.Dir = opts.ModuleDir
	cmd.Env = append(os.Environ(), BuildEnv(opts.GOARCH)...)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", &BuildError{Dir: opts.ModuleDir, Args: cmd.Args, Err: err, Output: tailLines(string(out), 30)}
	}
	if err := os.Rename(built, bin); err != nil {
		return "", fmt.Errorf("coredns cache: %w", err)
	}
	log.Info("CoreDNS built", "took", time.Since(start).Round(100*time.Millisecond))
	return bin, nil
}

// BuildError is a failed build of the wrapper, with the command line and
// the end of its output, so that it explains itself.
type BuildError struct {
	Dir    string
	Args   []string
	Err    error
	Output []string
}

func (e *BuildError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "build coredns: cd %s && %s: %v", e.Dir, strings.Join(e.Args, " "), e.Err)
	if len(e.Output) > 0 {
		b.WriteString("\n\t" + strings.Join(e.Output, "\n\t"))
	}
	return b.String()
}

func (e *BuildError) Unwrap() error { return e.Err }

func tailLines(s string, n int) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
