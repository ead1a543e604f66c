//go:build e2e

package e2e

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// sleeperPod is a pod on the given worker whose process is easy to find
// in the node's process list by its argument.
func sleeperPod(name, node, seconds string) string {
	return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  nodeName: ` + node + `
  terminationGracePeriodSeconds: 1
  containers:
  - name: sleep
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sleep, "` + seconds + `"]
`
}

// nodePID returns the PID of the node process named exactly name, "" when
// none runs.
func nodePID(node, name string) string {
	out, _, _ := run(nil, "docker", "exec", node, "pgrep", "-x", name)
	return strings.TrimSpace(out)
}

// killAndAwaitRestart kills a node daemon with SIGKILL and waits until the
// node's init has started a new one.
func killAndAwaitRestart(node, name string) {
	old := nodePID(node, name)
	ExpectWithOffset(1, old).NotTo(BeEmpty(), "no %s runs on %s", name, node)
	docker("exec", node, "kill", "-9", old)
	EventuallyWithOffset(1, func() string { return nodePID(node, name) }).
		WithTimeout(time.Minute).WithPolling(200*time.Millisecond).
		Should(And(Not(BeEmpty()), Not(Equal(old))), "%s on %s was not restarted", name, node)
}

var _ = Describe("Node daemons killed with SIGKILL", Label("Resilience"), func() {
	node := "e2e-worker"

	It("leave the pods running with the same containers, kubelet then containerd", func() {
		applyManifest(sleeperPod("survivor", node, "3601"))
		waitForPodReady("survivor")
		ids := podField("survivor", "{.status.containerStatuses[0].containerID} {.status.podIP}")
		Expect(ids).To(MatchRegexp(`^containerd://[0-9a-f]{64} 10\.244\.`))

		for _, daemon := range []string{"kubelet", "containerd"} {
			By("killing " + daemon)
			killAndAwaitRestart(node, daemon)
			// The node stays Ready, and the pod is not touched.
			Consistently(func() string {
				return podField("survivor", "{.status.containerStatuses[0].containerID} {.status.podIP}")
			}).WithTimeout(10 * time.Second).WithPolling(time.Second).Should(Equal(ids))
			Expect(podField("survivor", "{.status.containerStatuses[0].restartCount} {.status.phase}")).To(Equal("0 Running"))
			Expect(docker("exec", node, "ps", "fxwwo", "pid,cmd")).To(MatchRegexp(`\\_ sleep 3601\n`))
		}
		// The runtime answers the kubelet again: exec goes through both.
		Eventually(func() string {
			out, _, _ := kubectl("exec", "survivor", "--", "echo", "still here")
			return out
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(Equal("still here\n"))
		Eventually(func() string {
			out, _, _ := kubectl("get", "node", node, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
			return out
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(Equal("True"))
	})

	It("clean up a pod deleted while the kubelet was away, once it is back", func() {
		applyManifest(sleeperPod("orphan", node, "3602"))
		waitForPodReady("orphan")
		Expect(docker("exec", node, "ps", "fxwwo", "pid,cmd")).To(ContainSubstring("sleep 3602"))

		pid := nodePID(node, "kubelet")
		docker("exec", node, "kill", "-STOP", pid)
		// The kubelet cannot see this: the pod leaves the API at once.
		mustKubectl("delete", "pod", "orphan", "--grace-period=0", "--force")
		docker("exec", node, "kill", "-9", pid)

		Eventually(func() string {
			return docker("exec", node, "ps", "fxwwo", "pid,cmd")
		}).WithTimeout(time.Minute).WithPolling(time.Second).ShouldNot(ContainSubstring("sleep 3602"))
	})
})
