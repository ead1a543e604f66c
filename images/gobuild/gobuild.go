// Package gobuild builds a program of an image from a wrapper module: a
// small Go module in kindish's source tree, with a go.mod of its own, that
// requires a released upstream module (CoreDNS, the Distribution registry)
// and holds the main package. Its own go.mod keeps the upstream's
// dependencies out of kindish's module graph, so `go build ./...` in
// kindish never compiles them.
//
// Compiling such a program takes minutes, so a built binary is kept under a
// key of the wrapper's content (its go.mod, go.sum and main.go) and the
// target architecture, and reused until one of them changes.
package gobuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Program is what a wrapper module builds.
type Program struct {
	// Name names the program in progress lines and errors, e.g. "CoreDNS".
	Name string
	// Version is the upstream release the wrapper requires, for the logs.
	Version string
	// Binary is the built file's name in its cache directory, e.g. "coredns".
	Binary string
}

// Options say where a wrapper module is and where its builds are kept.
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

// KeyFiles are the wrapper's files that decide what is built.
var KeyFiles = []string{"go.mod", "go.sum", "main.go"}

// BuildArgs are the go command's arguments that build the wrapper into
// out: a stripped binary without local paths, with no VCS stamp (the
// wrapper sits inside kindish's repository, whose commit does not change
// the upstream program), never editing the wrapper's go.mod or go.sum.
func BuildArgs(out string) []string {
	return []string{"build", "-trimpath", "-buildvcs=false", "-mod=readonly", "-ldflags=-s -w", "-o", out, "."}
}

// BuildEnv is added to the environment of the build: a static binary (no
// libc in the images), for Linux on goarch, outside any go.work the user
// may have.
func BuildEnv(goarch string) []string {
	return []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + goarch, "GOWORK=off"}
}

// Key identifies what a build of the wrapper at moduleDir for goarch
// gives: a hash of the wrapper's files and the architecture.
func Key(moduleDir, goarch string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "GOARCH=%s\n", goarch)
	for _, name := range KeyFiles {
		b, err := os.ReadFile(filepath.Join(moduleDir, name))
		if err != nil {
			return "", fmt.Errorf("wrapper module: %w", err)
		}
		// Length-prefixed, so that moving bytes between files changes it.
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Binary returns the path of prog's binary built from the wrapper module,
// building it into CacheDir/<key>/<prog.Binary> unless a build with the
// same key is there. The first build downloads the upstream's modules
// through the module proxy.
func Binary(ctx context.Context, prog Program, opts Options) (string, error) {
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
		return "", fmt.Errorf("%s: %w", prog.Name, err)
	}
	dir := filepath.Join(opts.CacheDir, key)
	bin := filepath.Join(dir, prog.Binary)
	if st, err := os.Stat(bin); err == nil && st.Mode().IsRegular() {
		log.Info(prog.Name+" binary up to date", "version", prog.Version, "key", key)
		return bin, nil
	} else if !errors.Is(err, fs.ErrNotExist) && err != nil {
		return "", fmt.Errorf("%s binary %s: %w", prog.Name, bin, err)
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("%s build cache: %w", prog.Name, err)
	}
	// Build next to the final name and rename: a concurrent or interrupted
	// build never leaves a partial binary under the final name.
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", fmt.Errorf("%s build cache: %w", prog.Name, err)
	}
	defer os.RemoveAll(tmp)
	built := filepath.Join(tmp, prog.Binary)

	log.Info("building "+prog.Name+" (minutes the first time: its modules are downloaded and compiled)", "version", prog.Version, "module", opts.ModuleDir)
	start := time.Now()
	cmd := exec.CommandContext(ctx, goCmd, BuildArgs(built)...)
	cmd.Dir = opts.ModuleDir
	cmd.Env = append(os.Environ(), BuildEnv(opts.GOARCH)...)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", &BuildError{Program: prog.Name, Dir: opts.ModuleDir, Args: cmd.Args, Err: err, Output: tailLines(string(out), 30)}
	}
	if err := os.Rename(built, bin); err != nil {
		return "", fmt.Errorf("%s build cache: %w", prog.Name, err)
	}
	log.Info(prog.Name+" built", "took", time.Since(start).Round(100*time.Millisecond))
	return bin, nil
}

// BuildError is a failed build of a wrapper, with the command line and the
// end of its output, so that it explains itself.
type BuildError struct {
	Program string
	Dir     string
	Args    []string
	Err     error
	Output  []string
}

func (e *BuildError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "build %s: cd %s && %s: %v", e.Program, e.Dir, strings.Join(e.Args, " "), e.Err)
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

// LinkOrCopy gives dst the content of the cached binary src: a hard link
// when both are on one file system, else a copy. A build takes such a
// private copy of what the cache holds, so that a concurrent build that
// replaces the cached file cannot change it while it is read.
func LinkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
