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
		for _, component := range []string{"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager"} {
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
	It("lists every node Ready with the seed's columns, roles and version", func() {
		out := mustKubectl("get", "nodes")
		GinkgoWriter.Println(out)
		Expect(strings.Split(strings.TrimSpace(out), "\n")).To(HaveLen(4))
		Expect(out).To(MatchRegexp(`^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n`))
		Expect(out).To(MatchRegexp(fmt.Sprintf(`(?m)^%s-control-plane\s+Ready\s+control-plane\s+\S+\s+v1\.36\.4$`, shared.Name)))
		for _, w := range []string{"worker", "worker2"} {
			Expect(out).To(MatchRegexp(fmt.Sprintf(`(?m)^%s-%s\s+Ready\s+<none>\s+\S+\s+v1\.36\.4$`, shared.Name, w)))
		}
	})
})

var _ = Describe("Workloads", Label("Workloads"), func() {
	It("run a Deployment's pods on the workers, each with an IP from its node's pod range", func() {
		mustKubectl("create", "deployment", "pauses", "--image=kindish/pause:v0.1.0", "--replicas=4")
		DeferCleanup(func() { kubectl("delete", "deployment", "pauses", "--wait=false") })
		Eventually(func() string {
			out, _, _ := kubectl("get", "deployment", "pauses", "-o", "jsonpath={.status.availableReplicas}")
			return out
		}).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Equal("4"))
		cidrs := map[string]string{}
		for _, line := range strings.Split(mustKubectl("get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name} {.spec.podCIDR}{"\n"}{end}`), "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				cidrs[f[0]] = strings.TrimSuffix(f[1], "0/24")
			}
		}
		pods := mustKubectl("get", "pods", "-l", "app=pauses", "-o", `jsonpath={range .items[*]}{.spec.nodeName} {.status.podIP}{"\n"}{end}`)
		GinkgoWriter.Println(pods)
		for _, line := range strings.Split(strings.TrimSpace(pods), "\n") {
			f := strings.Fields(line)
			Expect(f).To(HaveLen(2), "pod without node or IP: %q", line)
			Expect(f[0]).NotTo(HaveSuffix("control-plane"), "the control plane is tainted NoSchedule")
			Expect(f[1]).To(HavePrefix(cidrs[f[0]]), "pod IP outside node %s's range", f[0])
		}
	})
})

var _ = Describe("Worker processes", Label("ProcessTree"), func() {
	It("show the kubelet and a shim each for kindnetd and kube-proxy, with /pause beneath, as in the demo", func() {
		expectWorkerTree(shared.Name + "-worker")
	})
})

// expectWorkerTree checks a worker's `ps fxwwo pid,cmd` against the seed
// demo's: the kubelet, and a shim each for kindnetd and kube-proxy with
// /pause and the daemon beneath.
func expectWorkerTree(node string) {
	tree := docker("exec", node, "ps", "fxwwo", "pid,cmd")
	GinkgoWriter.Println(tree)
	ExpectWithOffset(1, tree).To(MatchRegexp(`(?m)^\s*\d+ /usr/bin/kubelet `))
	for _, cmd := range []string{`/bin/kindnetd$`, `/usr/local/bin/kube-proxy `} {
		re := regexp.MustCompile(`(?m)^\s*\d+ /usr/local/bin/containerd-shim-runc-v2 .*\n\s*\d+\s+\\_ /pause\n\s*\d+\s+\\_ ` + cmd)
		ExpectWithOffset(1, re.MatchString(tree)).To(BeTrue(), "no shim with /pause and %s beneath it on %s", cmd, node)
	}
}

var _ = Describe("Control-plane processes", Label("ProcessTree"), func() {
	It("show containerd, the kubelet and a shim per component with /pause and the component beneath", func() {
		expectControlPlaneTree(shared.Name + "-control-plane")
	})
})

// expectControlPlaneTree checks a control-plane node's `ps fxwwo pid,cmd`
// against the seed demo's: containerd, the kubelet, and a shim per
// component with /pause and the component beneath.
func expectControlPlaneTree(node string) {
	var tree string
	EventuallyWithOffset(1, func() string {
		tree = docker("exec", node, "ps", "fxwwo", "pid,cmd")
		return tree
	}).WithTimeout(time.Minute).WithPolling(time.Second).Should(And(
		ContainSubstring(" \\_ etcd "), ContainSubstring(" \\_ kube-apiserver "), ContainSubstring(" \\_ kube-scheduler "),
		ContainSubstring(" \\_ kube-controller-manager ")))
	GinkgoWriter.Println(tree)
	ExpectWithOffset(1, tree).To(MatchRegexp(`(?m)^\s*\d+ /usr/local/bin/containerd$`))
	ExpectWithOffset(1, tree).To(MatchRegexp(`(?m)^\s*\d+ /usr/bin/kubelet `))
	for _, component := range []string{"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager"} {
		// A shim, then its /pause, then the component, as in the demo.
		re := regexp.MustCompile(`(?m)^\s*\d+ /usr/local/bin/containerd-shim-runc-v2 .*\n\s*\d+\s+\\_ /pause\n\s*\d+\s+\\_ ` + component + ` `)
		ExpectWithOffset(1, re.MatchString(tree)).To(BeTrue(), "no shim with /pause and %s beneath it on %s", component, node)
	}
}

var _ = Describe("Cluster addons", Label("Network"), func() {
	It("run kindnetd and kube-proxy on every node and CoreDNS behind kube-dns", func() {
		for _, ds := range []string{"kindnet", "kube-proxy"} {
			Eventually(func() string {
				out, _, _ := kubectl("get", "daemonset", "-n", "kube-system", ds, "-o", "jsonpath={.status.numberReady}/{.status.desiredNumberScheduled}")
				return out
			}).WithTimeout(2*time.Minute).WithPolling(time.Second).Should(Equal("3/3"), "daemonset %s", ds)
		}
		Eventually(func() string {
			out, _, _ := kubectl("get", "deployment", "-n", "kube-system", "coredns", "-o", "jsonpath={.status.availableReplicas}")
			return out
		}).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Equal("2"))
		Expect(mustKubectl("get", "service", "-n", "kube-system", "kube-dns", "-o", "jsonpath={.spec.clusterIP}")).To(Equal("10.96.0.10"))
		// kube-proxy's DNAT for the DNS service's UDP port, on every node.
		for _, line := range nodeContainers(shared.Name) {
			node := strings.Fields(line)[0]
			Eventually(func() string {
				return docker("exec", node, "iptables-nft-save", "-t", "nat")
			}).WithTimeout(time.Minute).WithPolling(time.Second).Should(MatchRegexp(`-A KUBE-SERVICES -d 10\.96\.0\.10/32 -p udp .*-j KUBE-SVC-`), "node %s", node)
		}
	})
})
