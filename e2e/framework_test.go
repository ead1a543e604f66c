//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/tools/clientcmd"
)

// nodeImage is the image clusters run by default.
const nodeImage = "kindish/node:v0.1.0"

var (
	kindishBin string
	// kubeconfigPath keeps the suite's contexts out of the user's own file.
	kubeconfigPath string

	createdMu sync.Mutex
	created   = map[string]bool{}
)

func setUpEnvironment() {
	kindishBin = os.Getenv("KINDISH")
	if kindishBin == "" {
		kindishBin = filepath.Join(GinkgoT().TempDir(), "kindish")
		build := exec.Command("go", "build", "-o", kindishBin, "../cmd/kindish")
		out, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "go build kindish: %s", out)
	}
	// A node image left from an earlier build may predate this source tree:
	// rebuild it (a no-op when nothing changed). A missing one is left for
	// `create cluster` to build, which is what a new user sees.
	if _, _, code := run(nil, "docker", "image", "inspect", nodeImage); code == 0 {
		mustKindish("build", "node-image")
	}
	// The images the specs run; quick when nothing changed.
	mustKindish("build", "images")
	kubeconfigPath = filepath.Join(outputDir(), "e2e-kubeconfig")
	Expect(os.MkdirAll(outputDir(), 0o755)).To(Succeed())
	_ = os.Remove(kubeconfigPath)
	Expect(os.Setenv("KUBECONFIG", kubeconfigPath)).To(Succeed())
}

// kindish runs the CLI and returns its stdout, stderr and exit code.
func kindish(args ...string) (string, string, int) {
	return run(nil, kindishBin, args...)
}

// run runs a command with extra environment variables.
func run(env []string, name string, args ...string) (string, string, int) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	// The reader of a failing spec sees the command's stderr in the report.
	cmd.Stderr = io.MultiWriter(GinkgoWriter, &stderr)
	err := cmd.Run()
	code := 0
	if err != nil {
		exitErr, ok := err.(*exec.ExitError)
		Expect(ok).To(BeTrue(), "run %s %v: %v", name, args, err)
		code = exitErr.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// mustKindish runs the CLI and fails the spec unless it succeeds.
func mustKindish(args ...string) string {
	stdout, stderr, code := kindish(args...)
	ExpectWithOffset(1, code).To(Equal(0), "kindish %s failed:\n%s", strings.Join(args, " "), stderr)
	return stdout
}

// docker runs the docker CLI and fails the spec unless it succeeds.
func docker(args ...string) string {
	stdout, stderr, code := run(nil, "docker", args...)
	ExpectWithOffset(1, code).To(Equal(0), "docker %s failed:\n%s", strings.Join(args, " "), stderr)
	return stdout
}

// Cluster is a cluster the suite creates and always deletes.
type Cluster struct {
	Name    string
	Config  string
	created bool
}

// Create creates the cluster from its config.
func (c *Cluster) Create(extraArgs ...string) {
	cfg := filepath.Join(GinkgoT().TempDir(), "config.yaml")
	Expect(os.WriteFile(cfg, []byte(c.Config), 0o644)).To(Succeed())
	track(c.Name)
	start := time.Now()
	args := append([]string{"create", "cluster", "--name", c.Name, "--config", cfg}, extraArgs...)
	mustKindish(args...)
	GinkgoWriter.Printf("cluster %s created in %s\n", c.Name, time.Since(start).Round(time.Millisecond))
	c.created = true
}

// Delete deletes the cluster.
func (c *Cluster) Delete() {
	mustKindish("delete", "cluster", "--name", c.Name)
	c.created = false
}

func track(name string) {
	createdMu.Lock()
	defer createdMu.Unlock()
	created[name] = true
}

func deleteAllClusters() {
	createdMu.Lock()
	defer createdMu.Unlock()
	for name := range created {
		kindish("delete", "cluster", "--name", name)
	}
}

// nodeContainers lists a cluster's containers as "name role" lines, sorted.
func nodeContainers(cluster string) []string {
	out := docker("ps", "-a", "--filter", "label=io.kindish.cluster="+cluster,
		"--format", `{{.Names}} {{.Label "io.kindish.role"}}`)
	return sortedLines(out)
}

func sortedLines(s string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

func sanitize(s string) string {
	s = unsafeChars.ReplaceAllString(s, "-")
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// kubeconfigContexts lists the contexts in the suite's kubeconfig file.
func kubeconfigContexts() []string {
	cfg, err := clientcmd.LoadFromFile(kubeconfigPath)
	if err != nil {
		return nil
	}
	var names []string
	for name := range cfg.Contexts {
		names = append(names, name)
	}
	return names
}

// fetchThroughPod fetches url with wget from a new busybox pod, retrying
// in a fresh pod until one gets an answer, and returns that answer. A
// Service's name resolves, and its address forwards, once the endpoint
// controller and each node's kube-proxy have seen its pods Ready: a moment
// after `kubectl` reports them so, as in any cluster. A user's client
// retries; so does this, for a bounded time, and fails with the last
// attempt's output.
func fetchThroughPod(k func(...string) (string, string, int), url string) string {
	var answer, last string
	attempt := 0
	Eventually(func() bool {
		attempt++
		pod := fmt.Sprintf("fetch-%d", attempt)
		if _, stderr, code := k("run", pod, "--image", "busybox", "--restart=Never", "--", "wget", "-qO-", url); code != 0 {
			last = "kubectl run: " + stderr
			return false
		}
		DeferCleanup(func() { k("delete", "pod", pod, "--wait=false") })
		var phase string
		for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
			if phase, _, _ = k("get", "pod", pod, "-o", "jsonpath={.status.phase}"); phase == "Succeeded" || phase == "Failed" {
				break
			}
		}
		logs, _, _ := k("logs", pod)
		if phase != "Succeeded" {
			last = fmt.Sprintf("pod %s: phase %q, output %q", pod, phase, logs)
			return false
		}
		answer = logs
		return true
	}).WithTimeout(2*time.Minute).WithPolling(time.Second).Should(BeTrue(), func() string { return "wget " + url + ": " + last })
	return answer
}
