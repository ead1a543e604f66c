package nodeimage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
)

// binaries are the host paths of the programs that go into the images.
type binaries struct {
	node  string // kindish-node
	pause string
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

	out := outputDir(b.opts.SourceDir, work)
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
		if err := linkOrCopy(filepath.Join(out, filepath.Base(p)), p); err != nil {
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
func outputDir(sourceDir, work string) string {
	cache, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(work, "out")
	}
	abs, err := filepath.Abs(sourceDir)
	if err != nil {
		abs = sourceDir
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(cache, "kindish", "bin", hex.EncodeToString(sum[:6]))
}

func linkOrCopy(src, dst string) error {
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

func lastLines(s string, n int) []string {
	t := newTail(n)
	t.Write([]byte(s))
	return t.lines()
}
