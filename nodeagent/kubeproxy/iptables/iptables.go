// Package iptables runs the nft variant of iptables for kube-proxy:
// iptables-nft-restore for the batch, iptables-nft-save to see what is
// there, and iptables-nft for the few rules in built-in chains. The node
// and kube-proxy's image use the nft backend (Docker writes its own rules
// with it), so the legacy backend is never used.
//
// Programs run through an Executor, so tests fake them and never touch
// the host's network.
package iptables

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Executor runs programs.
type Executor interface {
	// LookPath finds a program on PATH.
	LookPath(file string) (string, error)
	// Run runs path with args, stdin as its input, and returns its
	// standard output. A program that exits non-zero returns an
	// *ExitError.
	Run(ctx context.Context, stdin []byte, path string, args ...string) ([]byte, error)
}

// ExitError is a program that ran and failed.
type ExitError struct {
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("exit status %d: %s", e.Code, strings.TrimSpace(e.Stderr))
}

// OSExecutor runs programs with os/exec.
type OSExecutor struct{}

// LookPath is exec.LookPath.
func (OSExecutor) LookPath(file string) (string, error) { return exec.LookPath(file) }

// Run runs the program and waits for it.
func (OSExecutor) Run(ctx context.Context, stdin []byte, path string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return stdout.Bytes(), &ExitError{Code: exitErr.ExitCode(), Stderr: stderr.String()}
	}
	return stdout.Bytes(), err
}

// Client runs iptables' programs for one IP family (IPv4).
type Client struct {
	exec                    Executor
	iptables, save, restore string
	version                 string
	nft                     bool
}

// New finds the programs on PATH, preferring the -nft names and falling
// back to the plain ones (which kube-proxy's image links to the nft
// variant), then in /usr/sbin, where the image has them whatever PATH
// the container got; and it asks iptables its version.
func New(ctx context.Context, e Executor) (*Client, error) {
	c := &Client{exec: e}
	for _, p := range []struct {
		dst  *string
		name string
	}{{&c.iptables, "iptables"}, {&c.save, "iptables-save"}, {&c.restore, "iptables-restore"}} {
		nft := strings.Replace(p.name, "iptables", "iptables-nft", 1)
		path, err := lookPath(e, nft, p.name, "/usr/sbin/"+nft)
		if err != nil {
			return nil, fmt.Errorf("find %s: %w", p.name, err)
		}
		*p.dst = path
	}
	out, err := e.Run(ctx, nil, c.iptables, "--version")
	if err != nil {
		return nil, fmt.Errorf("%s --version: %w", c.iptables, err)
	}
	c.version = strings.TrimSpace(string(out))
	c.nft = strings.Contains(c.version, "nf_tables")
	return c, nil
}

// lookPath returns the first of names that LookPath finds.
func lookPath(e Executor, names ...string) (string, error) {
	var errs []error
	for _, name := range names {
		path, err := e.LookPath(name)
		if err == nil {
			return path, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
}

// Version is what iptables --version printed ("iptables v1.8.9 (nf_tables)").
func (c *Client) Version() string { return c.version }

// IsNFT says whether the programs found use the nf_tables backend.
func (c *Client) IsNFT() bool { return c.nft }

var versionPattern = regexp.MustCompile(`v(\d+)\.(\d+)\.(\d+)`)

// HasRandomFully says whether MASQUERADE supports --random-fully.
func (c *Client) HasRandomFully() bool {
	m := versionPattern.FindStringSubmatch(c.version)
	if m == nil {
		return false
	}
	// 1.6.2 is the first iptables with MASQUERADE --random-fully.
	minVersion := [3]int{1, 6, 2}
	for i, want := range minVersion {
		n, _ := strconv.Atoi(m[i+1])
		if n != want {
			return n > want
		}
	}
	return true
}

// Save returns the current rules of every table.
func (c *Client) Save(ctx context.Context) (Tables, error) {
	out, err := c.exec.Run(ctx, nil, c.save)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.save, err)
	}
	return ParseSave(out), nil
}

// failedLine matches iptables-restore's report of the line it refused.
var failedLine = regexp.MustCompile(`line (\d+) failed`)

// Restore applies a batch with --noflush, so that only the chains the
// batch declares are flushed and rewritten, in one transaction; rules
// elsewhere, and conntrack entries, stay as they are. The nft variant
// commits atomically and takes no xtables lock, so no --wait is passed.
func (c *Client) Restore(ctx context.Context, data []byte) error {
	_, err := c.exec.Run(ctx, data, c.restore, "--noflush", "--counters")
	if err == nil {
		return nil
	}
	var exitErr *ExitError
	if errors.As(err, &exitErr) {
		if m := failedLine.FindStringSubmatch(exitErr.Stderr); m != nil {
			n, _ := strconv.Atoi(m[1])
			return fmt.Errorf("%s: %w; around line %d:\n%s", c.restore, err, n, linesAround(data, n, 2))
		}
	}
	return fmt.Errorf("%s: %w", c.restore, err)
}

// linesAround returns lines n-context..n+context (1-based) of data, the
// refused one marked.
func linesAround(data []byte, n, context int) string {
	all := strings.Split(string(data), "\n")
	var b strings.Builder
	for i := max(1, n-context); i <= min(len(all), n+context); i++ {
		marker := "  "
		if i == n {
			marker = "> "
		}
		fmt.Fprintf(&b, "%s%d: %s\n", marker, i, all[i-1])
	}
	return b.String()
}
