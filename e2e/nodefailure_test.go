//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// stopCluster's controller manager declares a silent node lost after 10 s
// instead of 40 s, through the kubeadm patch kind users write for it.
var stopCluster = &Cluster{Name: "e2e-stop", Config: `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
kubeadmConfigPatches:
- |
  kind: ClusterConfiguration
  controllerManager:
    extraArgs:
      node-monitor-grace-period: "10s"
nodes:
- role: control-plane
- role: worker
- role: worker
`}

// sleepers tolerate a lost node for 5 s only, and spread over the nodes.
// The spread is ScheduleAnyway, a preference: with one worker gone the
// replacement must still land beside its peer. (A required anti-affinity
// would leave it Pending; kindish's scheduler scores topology spread, not
// preferred pod anti-affinity.)
const sleepers = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: sleepers
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: sleepers}
  template:
    metadata:
      labels: {app: sleepers}
    spec:
      terminationGracePeriodSeconds: 1
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: ScheduleAnyway
        labelSelector:
          matchLabels: {app: sleepers}
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
      containers:
      - name: sleep
        image: busybox
        imagePullPolicy: IfNotPresent
        command: [sleep, "3600"]
`

// kubectlOn runs the real kubectl against one of the suite's own clusters
// (kubectl's helpers in cluster_test.go speak to the shared one).
func kubectlOn(cluster string, args ...string) (string, string, int) {
	return run(nil, "/usr/bin/kubectl", append([]string{"--context", "kindish-" + cluster}, args...)...)
}

func mustKubectlOn(cluster string, args ...string) string {
	out, stderr, code := kubectlOn(cluster, args...)
	ExpectWithOffset(1, code).To(Equal(0), "kubectl %s: %s", strings.Join(args, " "), stderr)
	return out
}

// sleeperPlacement maps each of the sleepers' pods to "node" or, once
// deleted, "node (terminating)".
func sleeperPlacement(cluster string) map[string]string {
	out := mustKubectlOn(cluster, "get", "pods", "-l", "app=sleepers", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.metadata.deletionTimestamp}{"\n"}{end}`)
	pods := map[string]string{}
	for _, line := range sortedLines(out) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue // not scheduled yet
		}
		pods[f[0]] = f[1]
		if len(f) > 2 {
			pods[f[0]] += " (terminating)"
		}
	}
	return pods
}

var _ = Describe("A worker node that stops", Label("Resilience"), func() {
	It("goes NotReady and unreachable, its pod is evicted and replaced on the other worker, and it comes back Ready", func() {
		c := stopCluster
		c.Create("--wait", "3m", "--preload-image", "busybox")
		DeferCleanup(func() {
			if CurrentSpecReport().Failed() {
				dir := filepath.Join(outputDir(), "logs", sanitize(CurrentSpecReport().FullText()))
				kindish("export", "logs", dir, "--name", c.Name)
			}
			c.Delete()
		})
		cp, stopped, survivor := c.Name+"-control-plane", c.Name+"-worker", c.Name+"-worker2"

		By("running the controller manager with the patch's flag")
		Expect(docker("exec", cp, "cat", "/etc/kubernetes/manifests/kube-controller-manager.yaml")).
			To(ContainSubstring("--node-monitor-grace-period=10s"))
		Eventually(func() string {
			out, _, _ := run(nil, "docker", "exec", cp, "ps", "-eo", "args")
			return out
		}).WithTimeout(30 * time.Second).WithPolling(time.Second).
			Should(MatchRegexp(`(?m)^kube-controller-manager .*--node-monitor-grace-period=10s`))

		By("placing one sleeper on each worker")
		manifest := filepath.Join(GinkgoT().TempDir(), "sleepers.yaml")
		Expect(os.WriteFile(manifest, []byte(sleepers), 0o644)).To(Succeed())
		mustKubectlOn(c.Name, "apply", "-f", manifest)
		mustKubectlOn(c.Name, "rollout", "status", "deployment/sleepers", "--timeout=2m")
		var victim string
		Eventually(func() []string {
			var nodes []string
			for pod, node := range sleeperPlacement(c.Name) {
				nodes = append(nodes, node)
				if node == stopped {
					victim = pod
				}
			}
			return nodes
		}).WithTimeout(30*time.Second).WithPolling(time.Second).
			Should(ConsistOf(stopped, survivor), "the scheduler spreads the Deployment's pods over the workers")

		By("stopping " + stopped)
		docker("stop", stopped)

		By("seeing the node's Ready condition turn Unknown")
		Eventually(func() string {
			out, _, _ := kubectlOn(c.Name, "get", "node", stopped, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
			return out
		}).WithTimeout(90 * time.Second).WithPolling(time.Second).Should(Equal("Unknown"))
		// The grace runs from the kubelet's last Lease renewal, which
		// docker stop's own duration blurs; the controller checks every
		// 5 s. So 10 s of grace gives a gap of 10 to 16 s, the default 40 s
		// one of 40 s or more.
		renewed, err := time.Parse(time.RFC3339, mustKubectlOn(c.Name, "get", "lease", "-n", "kube-node-lease", stopped, "-o", "jsonpath={.spec.renewTime}"))
		Expect(err).NotTo(HaveOccurred())
		lost, err := time.Parse(time.RFC3339, mustKubectlOn(c.Name, "get", "node", stopped, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].lastTransitionTime}`))
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("%s marked Unknown %s after its last Lease renewal\n", stopped, lost.Sub(renewed).Round(time.Second))
		Expect(lost.Sub(renewed)).To(BeNumerically("<", 30*time.Second), "node-monitor-grace-period=10s must be in effect")
		Expect(mustKubectlOn(c.Name, "get", "nodes")).To(MatchRegexp(`(?m)^%s\s+NotReady\s`, stopped))
		Eventually(func() string {
			return mustKubectlOn(c.Name, "get", "node", stopped, "-o", `jsonpath={range .spec.taints[*]}{.key}:{.effect}{"\n"}{end}`)
		}).WithTimeout(30 * time.Second).WithPolling(time.Second).
			Should(ContainSubstring("node.kubernetes.io/unreachable:NoExecute"))

		By("evicting " + victim + " once its 5 s toleration is over")
		Eventually(func() string {
			out, stderr, code := kubectlOn(c.Name, "get", "pod", victim, "-o", "jsonpath={.metadata.deletionTimestamp}")
			if code != 0 && strings.Contains(stderr, "NotFound") {
				return "deleted"
			}
			return out
		}).WithTimeout(60 * time.Second).WithPolling(time.Second).ShouldNot(BeEmpty())

		By("replacing it on " + survivor)
		Eventually(func() string {
			available := mustKubectlOn(c.Name, "get", "deployment", "sleepers", "-o", "jsonpath={.status.availableReplicas}")
			var live []string
			for _, node := range sleeperPlacement(c.Name) {
				if !strings.HasSuffix(node, "(terminating)") {
					live = append(live, node)
				}
			}
			return fmt.Sprintf("available=%s live on %v", available, live)
		}).WithTimeout(2 * time.Minute).WithPolling(time.Second).
			Should(Equal(fmt.Sprintf("available=2 live on [%s %s]", survivor, survivor)))

		By("starting " + stopped + " again")
		docker("start", stopped)
		Eventually(func() string {
			out, _, _ := kubectlOn(c.Name, "get", "node", stopped, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
			return out
		}).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Equal("True"))
		Expect(mustKubectlOn(c.Name, "get", "nodes")).To(MatchRegexp(`(?m)^%s\s+Ready\s`, stopped))
		Eventually(func() string {
			return mustKubectlOn(c.Name, "get", "node", stopped, "-o", "jsonpath={.spec.taints}")
		}).WithTimeout(30 * time.Second).WithPolling(time.Second).ShouldNot(ContainSubstring("node.kubernetes.io/unreachable"))
		// Back in touch, the kubelet finishes the eviction it missed.
		Eventually(func() map[string]string { return sleeperPlacement(c.Name) }).
			WithTimeout(2 * time.Minute).WithPolling(time.Second).ShouldNot(HaveKey(victim))
	})
})
