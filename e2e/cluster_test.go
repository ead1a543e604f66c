//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/tools/clientcmd"
)

var _ = Describe("A cluster's nodes", Label("Cluster"), func() {
	It("are one container per configured node, labelled with cluster and role", func() {
		Expect(nodeContainers(shared.Name)).To(Equal([]string{
			"e2e-control-plane control-plane",
			"e2e-worker worker",
			"e2e-worker2 worker",
		}))
	})

	It("are what `kindish get nodes` and `get clusters` list", func() {
		Expect(sortedLines(mustKindish("get", "nodes", "--name", shared.Name))).To(Equal([]string{
			"e2e-control-plane", "e2e-worker", "e2e-worker2",
		}))
		Expect(sortedLines(mustKindish("get", "clusters"))).To(ContainElement(shared.Name))
	})

	It("use their names as hostnames and sit on the kindish network", func() {
		for _, node := range []string{"e2e-control-plane", "e2e-worker", "e2e-worker2"} {
			Expect(strings.TrimSpace(docker("exec", node, "hostname"))).To(Equal(node))
			nets := docker("inspect", "--format", `{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}`, node)
			Expect(strings.Fields(nets)).To(Equal([]string{"kindish"}))
		}
	})
})

var _ = Describe("The kubeconfig", Label("Cluster"), func() {
	It("has the cluster's context, points at the published API server port and is private", func() {
		info, err := os.Stat(kubeconfigPath)
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o600)))

		cfg, err := clientcmd.LoadFromFile(kubeconfigPath)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.Contexts).To(HaveKey("kindish-e2e"))
		Expect(cfg.Contexts["kindish-e2e"].Cluster).To(Equal("kindish-e2e"))
		Expect(cfg.Contexts["kindish-e2e"].AuthInfo).To(Equal("kindish-e2e"))

		port := strings.TrimSpace(docker("port", "e2e-control-plane", "6443/tcp"))
		Expect(port).To(HavePrefix("127.0.0.1:"))
		Expect(cfg.Clusters["kindish-e2e"].Server).To(Equal("https://" + port))
	})

	It("is printed by `get kubeconfig`, with the node's name under --internal", func() {
		external, err := clientcmd.Load([]byte(mustKindish("get", "kubeconfig", "--name", shared.Name)))
		Expect(err).NotTo(HaveOccurred())
		Expect(external.Clusters["kindish-e2e"].Server).To(HavePrefix("https://127.0.0.1:"))
		Expect(external.Clusters["kindish-e2e"].CertificateAuthorityData).NotTo(BeEmpty())

		internal, err := clientcmd.Load([]byte(mustKindish("get", "kubeconfig", "--name", shared.Name, "--internal")))
		Expect(err).NotTo(HaveOccurred())
		Expect(internal.Clusters["kindish-e2e"].Server).To(Equal("https://e2e-control-plane:6443"))
	})
})

var _ = Describe("A second cluster", Label("Cluster"), func() {
	It("lives beside the first, and its deletion leaves no container, volume or kubeconfig entry", func() {
		volumesBefore := sortedLines(docker("volume", "ls", "-q"))
		second := &Cluster{Name: "e2e-second", Config: "kind: Cluster\napiVersion: kindish.dev/v1alpha1\n"}
		second.Create()

		Expect(nodeContainers(second.Name)).To(Equal([]string{"e2e-second-control-plane control-plane"}))
		Expect(sortedLines(mustKindish("get", "clusters"))).To(ContainElements(shared.Name, second.Name))
		Expect(nodeContainers(shared.Name)).To(HaveLen(3), "the first cluster is untouched")

		second.Delete()
		Expect(nodeContainers(second.Name)).To(BeEmpty())
		Expect(sortedLines(docker("volume", "ls", "-q"))).To(Equal(volumesBefore))
		cfg, err := clientcmd.LoadFromFile(kubeconfigPath)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.Contexts).NotTo(HaveKey("kindish-" + second.Name))
		Expect(cfg.Clusters).NotTo(HaveKey("kindish-" + second.Name))
		Expect(cfg.AuthInfos).NotTo(HaveKey("kindish-" + second.Name))
		Expect(cfg.Contexts).To(HaveKey("kindish-e2e"))
	})
})

var _ = Describe("Node processes", Label("ProcessTree"), func() {
	for _, node := range []string{"e2e-control-plane", "e2e-worker"} {
		It(fmt.Sprintf("show containerd under the init on %s", node), func() {
			tree := docker("exec", node, "ps", "fxwwo", "pid,cmd")
			GinkgoWriter.Println(tree)
			Expect(tree).To(MatchRegexp(`^\s*PID\s+CMD\n`))
			Expect(tree).To(MatchRegexp(`(?m)^\s*1 /sbin/init$`))
			// procps draws children of PID 1 as roots, as in the seed
			// demo under systemd; the parent is checked on its own.
			Expect(tree).To(MatchRegexp(`(?m)^\s*\d+ /usr/local/bin/containerd$`))
			parents := docker("exec", node, "ps", "-o", "ppid=", "-C", "containerd")
			Expect(strings.Fields(parents)).To(Equal([]string{"1"}), "containerd is the init's child")
		})
	}
})
