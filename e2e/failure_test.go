//go:build e2e

package e2e

import (
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// brokenNodeImage builds, without a registry, a node image whose PID 1
// prints a line and exits: the cluster fails after its nodes were created.
func brokenNodeImage() string {
	const ref = "kindish-e2e/broken-node:1"
	build := exec.Command("docker", "build", "-q", "-t", ref, "-")
	build.Stdin = strings.NewReader("FROM " + nodeImage + "\nENTRYPOINT [\"/bin/sh\", \"-c\", \"echo this node is broken on purpose; exit 3\"]\n")
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "docker build: %s", out)
	DeferCleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })
	return ref
}

var _ = Describe("A failed create", Label("BadInput"), func() {
	It("explains itself with the node's own output and leaves nothing behind", func() {
		image := brokenNodeImage()
		track("e2e-broken")
		_, stderr, code := kindish("create", "cluster", "--name", "e2e-broken", "--image", image)
		Expect(code).To(Equal(1))
		Expect(stderr).To(ContainSubstring("e2e-broken-control-plane"))
		Expect(stderr).To(ContainSubstring("this node is broken on purpose"), "the node's log explains the failure")
		Expect(nodeContainers("e2e-broken")).To(BeEmpty())
		Expect(kubeconfigContexts()).NotTo(ContainElement("kindish-e2e-broken"))
	})

	It("keeps the nodes with --retain, for debugging", func() {
		image := brokenNodeImage()
		track("e2e-retained")
		_, stderr, code := kindish("create", "cluster", "--name", "e2e-retained", "--image", image, "--retain")
		Expect(code).To(Equal(1))
		Expect(stderr).To(ContainSubstring("--retain"))
		Expect(nodeContainers("e2e-retained")).To(Equal([]string{"e2e-retained-control-plane control-plane"}))
		mustKindish("delete", "cluster", "--name", "e2e-retained")
		Expect(nodeContainers("e2e-retained")).To(BeEmpty())
	})
})

var _ = Describe("A stopped node", Label("Cluster"), func() {
	It("stops cleanly within Docker's timeout and comes back with its address and API port", func() {
		c := &Cluster{Name: "e2e-restart", Config: "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"}
		c.Create()
		DeferCleanup(c.Delete)
		node := "e2e-restart-control-plane"
		ipBefore := docker("inspect", "--format", "{{.NetworkSettings.Networks.kindish.IPAddress}}", node)
		portBefore := docker("port", node, "6443/tcp")

		start := time.Now()
		docker("stop", node)
		Expect(time.Since(start)).To(BeNumerically("<", 10*time.Second), "the init must stop before Docker's SIGKILL")
		Expect(strings.TrimSpace(docker("inspect", "--format", "{{.State.ExitCode}}", node))).To(Equal("0"))

		docker("start", node)
		Eventually(func() error {
			return exec.Command("docker", "exec", node, "ctr", "version").Run()
		}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
		Expect(docker("inspect", "--format", "{{.NetworkSettings.Networks.kindish.IPAddress}}", node)).To(Equal(ipBefore))
		Expect(docker("port", node, "6443/tcp")).To(Equal(portBefore))
		// The images are there once the node is up again.
		Eventually(func() string {
			out, _, _ := run(nil, "docker", "exec", node, "ctr", "-n", "k8s.io", "images", "ls", "-q")
			return out
		}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(ContainSubstring("docker.io/kindish/pause:v0.1.0"))
	})
})
