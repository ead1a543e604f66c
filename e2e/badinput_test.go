//go:build e2e

package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Bad input", Label("BadInput"), func() {
	// Each case must fail with exit code 1 and one clear line naming the
	// problem, and leave nothing behind.
	expectRefused := func(cluster, wantInError string, env []string, args ...string) {
		stdout, stderr, code := run(env, kindishBin, args...)
		Expect(code).To(Equal(1), "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		errLines := []string{}
		for _, l := range strings.Split(stderr, "\n") {
			if strings.HasPrefix(l, "ERROR:") {
				errLines = append(errLines, l)
			}
		}
		Expect(errLines).To(HaveLen(1), "stderr:\n%s", stderr)
		Expect(errLines[0]).To(ContainSubstring(wantInError))
		if cluster != "" {
			Expect(nodeContainers(cluster)).To(BeEmpty(), "nothing may be left behind")
		}
	}
	configFile := func(content string) string {
		path := filepath.Join(GinkgoT().TempDir(), "config.yaml")
		Expect(os.WriteFile(path, []byte(content), 0o644)).To(Succeed())
		return path
	}

	It("refuses an invalid cluster name", func() {
		expectRefused("Bad_Name", `"Bad_Name"`, nil, "create", "cluster", "--name", "Bad_Name")
	})

	It("refuses a name already in use and leaves that cluster alone", func() {
		expectRefused("", `already exist for a cluster with the name "e2e"`, nil, "create", "cluster", "--name", shared.Name)
		Expect(nodeContainers(shared.Name)).To(HaveLen(3))
		running := docker("ps", "--filter", "label=io.kindish.cluster="+shared.Name, "-q")
		Expect(sortedLines(running)).To(HaveLen(3))
	})

	It("refuses an unknown config field, naming its path", func() {
		cfg := configFile("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  rolez: worker\n")
		track("e2e-bad-field")
		expectRefused("e2e-bad-field", "nodes[0].rolez", nil, "create", "cluster", "--name", "e2e-bad-field", "--config", cfg)
	})

	It("refuses a wrong role, naming its path", func() {
		cfg := configFile("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: master\n")
		track("e2e-bad-role")
		expectRefused("e2e-bad-role", "nodes[1].role", nil, "create", "cluster", "--name", "e2e-bad-role", "--config", cfg)
	})

	It("refuses a host port already taken", func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		defer l.Close()
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		cfg := configFile("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: " + port + "\n    listenAddress: 127.0.0.1\n")
		track("e2e-port-taken")
		expectRefused("e2e-port-taken", "nodes[1].extraPortMappings[0].hostPort", nil, "create", "cluster", "--name", "e2e-port-taken", "--config", cfg)
	})

	It("says so when Docker is not reachable", func() {
		env := []string{"DOCKER_HOST=unix://" + filepath.Join(GinkgoT().TempDir(), "no-docker.sock")}
		expectRefused("", "cannot reach the Docker engine", env, "create", "cluster", "--name", "e2e-no-docker")
	})
})
