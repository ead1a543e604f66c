package workload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kindish/kindish/images/archive"
	"github.com/kindish/kindish/images/gobuild"
	"github.com/kindish/kindish/images/nodeimage"
)

// testboxPackage is the test server's main package in the source tree.
const testboxPackage = "./cmd/testbox"

// testboxPath is the binary, and the entrypoint, in the image.
const testboxPath = "/testbox"

// testboxImage makes kindish/testbox from the binary at binary: the
// program alone, with the few files any process expects (/tmp, the root
// and nobody accounts). It serves HTTP on 8080 and UDP on 8081 by default.
func testboxImage(binary string) spec {
	files := append([]archive.File{archive.HostFile(testboxPath, binary, 0o755), tmpDir()},
		accountFiles(rootAccount, nobodyAccount)...)
	cfg := v1.Config{
		Entrypoint:   []string{testboxPath},
		Cmd:          []string{"serve"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "8081/udp": {}},
	}
	return newSpec("testbox", []string{Testbox(), TestboxLatest}, files, cfg, "testbox, built from "+testboxPackage)
}

// goBuildArgs are the flags of the testbox binary, those of kindish-node:
// static (the image has no libc), stripped, and without local paths, so
// that the same source gives the same binary, and image, on any machine.
func goBuildArgs(out string) []string {
	return []string{"build", "-trimpath", "-ldflags=-s -w", "-o", out, testboxPackage}
}

// testboxBinary returns the testbox binary: Options.TestboxBinary, or one
// built from the source tree. go build writes it into the cache, where it
// finds it up to date next time and skips linking; the build gets a private
// link to it, which a concurrent build cannot replace while it is read.
func (b *builder) testboxBinary(ctx context.Context, work string) (string, error) {
	if b.opts.TestboxBinary != "" {
		if st, err := os.Stat(b.opts.TestboxBinary); err != nil || !st.Mode().IsRegular() {
			return "", fmt.Errorf("testbox binary %s missing", b.opts.TestboxBinary)
		}
		return b.opts.TestboxBinary, nil
	}
	out := filepath.Join(work, "out")
	if b.cacheDir != "" {
		abs, err := filepath.Abs(b.opts.SourceDir)
		if err != nil {
			abs = b.opts.SourceDir
		}
		sum := sha256.Sum256([]byte(abs))
		out = filepath.Join(b.cacheDir, "workload", "bin", hex.EncodeToString(sum[:6]))
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", fmt.Errorf("testbox: %w", err)
	}
	start := time.Now()
	built := filepath.Join(out, "testbox")
	cmd := exec.CommandContext(ctx, "go", goBuildArgs(built)...)
	cmd.Dir = b.opts.SourceDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+b.goarch)
	output, err := cmd.CombinedOutput()
	if err != nil {
		return "", &nodeimage.CommandError{
			Command: "cd " + b.opts.SourceDir + " && " + strings.Join(cmd.Args, " "),
			Err:     err,
			Tail:    lastLines(string(output), 30),
		}
	}
	b.log.Debug("testbox built", "binary", built, "took", time.Since(start).Round(10*time.Millisecond))

	own := filepath.Join(work, "testbox")
	if err := gobuild.LinkOrCopy(built, own); err != nil {
		return "", fmt.Errorf("testbox: %w", err)
	}
	return own, nil
}

func lastLines(s string, n int) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
