//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// importTestImage makes a tiny image in the local engine without a
// registry: `docker import` of a one-file root filesystem.
func importTestImage(ref, content string) string {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	Expect(tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content))})).To(Succeed())
	_, err := tw.Write([]byte(content))
	Expect(err).NotTo(HaveOccurred())
	Expect(tw.Close()).To(Succeed())
	cmd := exec.Command("docker", "import", "-", ref)
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "docker import: %s", out)
	DeferCleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })
	return strings.TrimSpace(docker("image", "inspect", "--format", "{{.Id}}", ref))
}

// criImageID asks a node's containerd, through CRI, for an image's ID.
func criImageID(node, ref string) (string, int) {
	out, _, code := run(nil, "docker", "exec", node, "kindish-node", "kindish-cri", "image-id", ref)
	return strings.TrimSpace(out), code
}

var _ = Describe("kindish load", Label("Cluster"), func() {
	nodes := []string{"e2e-control-plane", "e2e-worker", "e2e-worker2"}

	It("makes a locally built image visible to every node's CRI, and skips nodes that have it", func() {
		id := importTestImage("kindish-e2e/hello:1", "hello from e2e\n")
		for _, node := range nodes {
			_, code := criImageID(node, "docker.io/kindish-e2e/hello:1")
			Expect(code).NotTo(Equal(0), "%s must not have the image before the load", node)
		}

		mustKindish("load", "docker-image", "kindish-e2e/hello:1", "--name", shared.Name)
		for _, node := range nodes {
			got, code := criImageID(node, "docker.io/kindish-e2e/hello:1")
			Expect(code).To(Equal(0))
			Expect(got).To(Equal(id), "node %s holds the engine's image", node)
		}

		_, stderr, code := kindish("load", "docker-image", "kindish-e2e/hello:1", "--name", shared.Name, "-v", "1")
		Expect(code).To(Equal(0))
		Expect(strings.Count(stderr, "already present")).To(Equal(len(nodes)), "stderr:\n%s", stderr)
	})

	It("loads an image archive into the chosen nodes only", func() {
		id := importTestImage("kindish-e2e/archive:1", "from an archive\n")
		archive := filepath.Join(GinkgoT().TempDir(), "image.tar")
		docker("save", "-o", archive, "kindish-e2e/archive:1")

		mustKindish("load", "image-archive", archive, "--name", shared.Name, "--nodes", "e2e-worker")
		got, code := criImageID("e2e-worker", "docker.io/kindish-e2e/archive:1")
		Expect(code).To(Equal(0))
		Expect(got).To(Equal(id))
		_, code = criImageID("e2e-worker2", "docker.io/kindish-e2e/archive:1")
		Expect(code).NotTo(Equal(0), "a node that was not selected stays without the image")
	})

	It("names the image that is missing from the engine", func() {
		_, stderr, code := kindish("load", "docker-image", "kindish-e2e/absent:1", "--name", shared.Name)
		Expect(code).To(Equal(1))
		Expect(stderr).To(ContainSubstring("kindish-e2e/absent:1"))
	})
})

var _ = Describe("kindish export logs", Label("Cluster"), func() {
	It("writes every node's init, containerd and engine view to a folder it prints", func() {
		dir := filepath.Join(GinkgoT().TempDir(), "logs")
		out := mustKindish("export", "logs", dir, "--name", shared.Name)
		Expect(out).To(ContainSubstring(dir))
		for _, node := range []string{"e2e-control-plane", "e2e-worker", "e2e-worker2"} {
			for _, file := range []string{"inspect.json", "container.log", "init.log", "containerd.log", "images.log", "ps.log"} {
				info, err := os.Stat(filepath.Join(dir, node, file))
				Expect(err).NotTo(HaveOccurred(), "%s/%s", node, file)
				Expect(info.Size()).To(BeNumerically(">", 0), "%s/%s is empty", node, file)
			}
		}
		Expect(os.ReadFile(filepath.Join(dir, "e2e-worker", "container.log"))).To(ContainSubstring("kindish-node: containerd is ready"))
	})
})
