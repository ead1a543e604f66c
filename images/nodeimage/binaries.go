package nodeimage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/kindish/kindish/images/coredns"
	"github.com/kindish/kindish/images/gobuild"
)

// binaries are the host paths of the programs that go into the images.
type binaries struct {
	node    string // kindish-node
	pause   string
	coredns string
}

// The packages built from the source tree, and the file names go build
// gives them.
var binaryPackages = []string{"./cmd/kindish-node", "./cmd/pause"}

// goBuildArgs are the flags of the node binaries: static (no libc in the
// component images), stripped, and without local paths so that the same
// source gives the same binary on any machine.
func goBuildArgs(outDir string) []string {
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", outDir + string(filepath.Separator)}
	return append(args, binaryPackages...)
}

func (b *builder) binaries(ctx context.Context, work string) (binaries, error) {
	if b.opts.BinDir != "" {
		bins := binaries{
			node:  filepath.Join(b.opts.BinDir, "kindish-node"),
			pause: filepath.Join(b.opts.BinDir, "pause"),
		}
		for _, p := range []string{bins.node, bins.pause} {
			if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
				return binaries{}, fmt.Errorf("prebuilt binaries: %s missing", p)
			}
		}
		b.log.Info("using prebuilt binaries", "dir", b.opts.BinDir)
		return bins, nil
	}

	out := outputDir(b.cacheDir, b.opts.SourceDir, work)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return binaries{}, err
	}
	start := time.Now()
	b.log.Info("building kindish-node and pause", "source", b.opts.SourceDir)
	// One go build for both: it compiles the packages in parallel and
	// shares the work they have in common.
	cmd := exec.CommandContext(ctx, "go", goBuildArgs(out)...)
	cmd.Dir = b.opts.SourceDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	output, err := cmd.CombinedOutput()
	if err != nil {
		return binaries{}, &CommandError{Command: "cd " + b.opts.SourceDir + " && " + cmdline(cmd), Err: err, Tail: lastLines(string(output), 30)}
	}
	b.log.Info("binaries built", "took", time.Since(start).Round(100*time.Millisecond))

	// The output directory is shared with later builds: take a private copy
	// that a concurrent build cannot replace while this one reads it.
	own := filepath.Join(work, "bin")
	if err := os.Mkdir(own, 0o755); err != nil {
		return binaries{}, err
	}
	bins := binaries{node: filepath.Join(own, "kindish-node"), pause: filepath.Join(own, "pause")}
	for _, p := range []string{bins.node, bins.pause} {
		if err := gobuild.LinkOrCopy(filepath.Join(out, filepath.Base(p)), p); err != nil {
			return binaries{}, err
		}
	}
	return bins, nil
}

// outputDir is where go build writes the binaries. It persists between
// builds of the same source tree, because go build skips linking when the
// binary there is already up to date, and linking kindish-node is most of
// the time a warm build takes. Without a cache directory, the build's own
// scratch directory is used.
func outputDir(cacheDir, sourceDir, work string) string {
	if cacheDir == "" {
		return filepath.Join(work, "out")
	}
	abs, err := filepath.Abs(sourceDir)
	if err != nil {
		abs = sourceDir
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(cacheDir, "bin", hex.EncodeToString(sum[:6]))
}

// corednsBinary returns the CoreDNS binary: BinDir's when it holds one,
// else built from the wrapper module of the source tree, which is kept in
// the cache per wrapper content and so compiled once.
func (b *builder) corednsBinary(ctx context.Context, work string) (string, error) {
	if b.opts.BinDir != "" {
		p := filepath.Join(b.opts.BinDir, coredns.BinaryName)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
		if b.opts.SourceDir == "" {
			return "", fmt.Errorf("prebuilt binaries: %s missing, and no source directory to build CoreDNS from", p)
		}
	}
	cache := filepath.Join(work, "coredns-cache")
	if b.cacheDir != "" {
		cache = filepath.Join(b.cacheDir, "coredns")
	}
	built, err := coredns.Binary(ctx, coredns.Options{
		ModuleDir: filepath.Join(b.opts.SourceDir, filepath.FromSlash(coredns.ModuleDir)),
		CacheDir:  cache,
		GOARCH:    runtime.GOARCH,
		Logger:    b.log,
	})
	if err != nil {
		return "", err
	}
	// A private link, as for the other binaries: the layer's digest is
	// computed from it and it is read again when the archive is written.
	own := filepath.Join(work, "coredns")
	if err := gobuild.LinkOrCopy(built, own); err != nil {
		return "", fmt.Errorf("coredns binary: %w", err)
	}
	return own, nil
}

func lastLines(s string, n int) []string {
	t := newTail(n)
	t.Write([]byte(s))
	return t.lines()
}
