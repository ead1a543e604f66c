//go:build e2e

package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// kubectl runs the real kubectl against the shared cluster.
func kubectl(args ...string) (string, string, int) {
	return run(nil, "/usr/bin/kubectl", append([]string{"--context", "kindish-" + shared.Name}, args...)...)
}

func mustKubectl(args ...string) string {
	out, stderr, code := kubectl(args...)
	ExpectWithOffset(1, code).To(Equal(0), "kubectl %s: %s", strings.Join(args, " "), stderr)
	return out
}

var _ = Describe("The control plane", Label("Cluster"), func() {
	It("runs as static pods whose mirror pods are Running in kube-system", func() {
		for _, component := range []string{"etcd", "kube-apiserver", "kube-scheduler"} {
			name := component + "-" + shared.Name + "-control-plane"
			Eventually(func() string {
				out, _, _ := kubectl("get", "pod", "-n", "kube-system", name, "-o", "jsonpath={.status.phase} {.metadata.annotations.kubernetes\\.io/config\\.mirror}")
				return out
			}).WithTimeout(time.Minute).WithPolling(time.Second).Should(MatchRegexp(`^Running \S+$`), "mirror pod %s", name)
		}
	})

	It("serves the logs of its components to kubectl", func() {
		logs := mustKubectl("logs", "-n", "kube-system", "kube-scheduler-"+shared.Name+"-control-plane")
		Expect(logs).To(ContainSubstring("leader"))
	})
})

var _ = Describe("kubectl get nodes", Label("Cluster"), func() {
	It("lists every node with the seed's columns, roles and version", func() {
		var out string
		Eventually(func() int {
			out, _, _ = kubectl("get", "nodes")
			return len(strings.Split(strings.TrimSpace(out), "\n"))
		}).WithTimeout(time.Minute).Should(Equal(4))
		GinkgoWriter.Println(out)
		Expect(out).To(MatchRegexp(`^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n`))
		Expect(out).To(MatchRegexp(fmt.Sprintf(`(?m)^%s-control-plane\s+\S+\s+control-plane\s+\S+\s+v1\.36\.4$`, shared.Name)))
		for _, w := range []string{"worker", "worker2"} {
			Expect(out).To(MatchRegexp(fmt.Sprintf(`(?m)^%s-%s\s+\S+\s+<none>\s+\S+\s+v1\.36\.4$`, shared.Name, w)))
		}
	})
})

var _ = Describe("Control-plane processes", Label("ProcessTree"), func() {
	It("show containerd, the kubelet and a shim per component with /pause and the component beneath", func() {
		node := shared.Name + "-control-plane"
		var tree string
		Eventually(func() string {
			tree = docker("exec", node, "ps", "fxwwo", "pid,cmd")
			return tree
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(And(
			ContainSubstring(" \\_ etcd "), ContainSubstring(" \\_ kube-apiserver "), ContainSubstring(" \\_ kube-scheduler ")))
		GinkgoWriter.Println(tree)
		Expect(tree).To(MatchRegexp(`(?m)^\s*\d+ /usr/local/bin/containerd$`))
		Expect(tree).To(MatchRegexp(`(?m)^\s*\d+ /usr/bin/kubelet `))
		for _, component := range []string{"etcd", "kube-apiserver", "kube-scheduler"} {
			// A shim, then its /pause, then the component, as in the demo.
			re := regexp.MustCompile(`(?m)^\s*\d+ /usr/local/bin/containerd-shim-runc-v2 .*\n\s*\d+\s+\\_ /pause\n\s*\d+\s+\\_ ` + component + ` `)
			Expect(re.MatchString(tree)).To(BeTrue(), "no shim with /pause and %s beneath it", component)
		}
	})
})
