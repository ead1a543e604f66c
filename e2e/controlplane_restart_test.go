//go:build e2e

package e2e

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// steadyDeployment is a workload that must not notice the control plane
// going away: the pods keep running, with the same containers.
const steadyDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: steady
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: steady}
  template:
    metadata:
      labels: {app: steady}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: sleep
        image: busybox
        imagePullPolicy: IfNotPresent
        command: [sleep, "3600"]
`

// componentPID returns the PID of the control-plane component whose
// command line starts with name ("" when none runs): the names are longer
// than the 15 characters pgrep -x compares.
func componentPID(node, name string) string {
	out, _, _ := run(nil, "docker", "exec", node, "pgrep", "-f", "^"+name+" ")
	return strings.TrimSpace(out)
}

// podsOf lists a label selector's pods as "name uid containerID" lines.
func podsOf(kubectlFn func(...string) (string, string, int), selector string) []string {
	out, _, _ := kubectlFn("get", "pods", "-l", selector, "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.metadata.uid} {.status.containerStatuses[0].containerID}{"\n"}{end}`)
	return sortedLines(out)
}

var _ = Describe("Control-plane components killed with SIGKILL", Label("Resilience"), func() {
	It("come back, lose no object, and leave the running pods alone", func() {
		node := shared.Name + "-control-plane"
		applyManifest(steadyDeployment)
		DeferCleanup(func() { kubectl("delete", "deployment", "steady", "--wait=false") })
		mustKubectl("rollout", "status", "deployment/steady", "--timeout=2m")
		pods := podsOf(kubectl, "app=steady")
		Expect(pods).To(HaveLen(2))

		var written []string
		for i, component := range []string{"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager"} {
			By("killing " + component)
			mirror := component + "-" + node
			restarts := func() int {
				out, _, _ := kubectl("get", "pod", "-n", "kube-system", mirror, "-o", "jsonpath={.status.containerStatuses[0].restartCount}")
				n, _ := strconv.Atoi(out)
				return n
			}
			before := restarts()
			old := componentPID(node, component)
			Expect(old).NotTo(BeEmpty(), "no %s runs on %s", component, node)
			docker("exec", node, "kill", "-9", old)
			Eventually(func() string { return componentPID(node, component) }).
				WithTimeout(2*time.Minute).WithPolling(500*time.Millisecond).
				Should(And(Not(BeEmpty()), Not(Equal(old))), "the kubelet restarts %s", component)

			// The API answers again and reports the restart on the mirror pod.
			Eventually(restarts).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(BeNumerically(">", before))
			Eventually(func() string {
				out, _, _ := kubectl("get", "pod", "-n", "kube-system", mirror, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
				return out
			}).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Equal("True"))

			// Writes land and every earlier one is still there.
			name := fmt.Sprintf("after-%d-%s", i, component)
			Eventually(func() int {
				_, _, code := kubectl("create", "configmap", name, "--from-literal=killed="+component)
				return code
			}).WithTimeout(time.Minute).WithPolling(time.Second).Should(Equal(0))
			DeferCleanup(func() { kubectl("delete", "configmap", name) })
			written = append(written, name)
			for _, cm := range written {
				Expect(mustKubectl("get", "configmap", cm, "-o", "jsonpath={.data.killed}")).NotTo(BeEmpty(), "configmap %s lost", cm)
			}

			// The controllers and the scheduler work: a scale-up is placed
			// and started, and the scale-down removes only the new pod.
			mustKubectl("scale", "deployment/steady", "--replicas=3")
			Eventually(func() string { return readyReplicas("deployment", "steady") }).
				WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Equal("3"))
			mustKubectl("scale", "deployment/steady", "--replicas=2")
			Eventually(func() []string { return podsOf(kubectl, "app=steady") }).
				WithTimeout(2*time.Minute).WithPolling(time.Second).Should(Equal(pods), "the first pods run on, untouched")
		}
	})
})

// rebootCluster is restarted whole, every node at once.
var rebootCluster = &Cluster{Name: "e2e-reboot", Config: `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
- role: worker
`}

var _ = Describe("A cluster whose nodes all restart at once", Label("Resilience"), func() {
	It("comes back Ready with its workloads, objects and Service", func() {
		c := rebootCluster
		c.Create("--wait", "3m", "--preload-image", "nginx,busybox")
		DeferCleanup(func() {
			if CurrentSpecReport().Failed() {
				kindish("export", "logs", filepath.Join(outputDir(), "logs", "reboot"), "--name", c.Name)
			}
			c.Delete()
		})
		on := func(args ...string) (string, string, int) { return kubectlOn(c.Name, args...) }
		mustKubectlOn(c.Name, "create", "deployment", "web", "--image", "nginx", "--replicas", "2")
		mustKubectlOn(c.Name, "expose", "deployment", "web", "--port", "80")
		mustKubectlOn(c.Name, "create", "configmap", "kept", "--from-literal=k=v")
		mustKubectlOn(c.Name, "rollout", "status", "deployment/web", "--timeout=2m")
		webPods := podsOf(on, "app=web")
		Expect(webPods).To(HaveLen(2))

		By("restarting every node at once")
		restarted := time.Now()
		var wg sync.WaitGroup
		for _, line := range nodeContainers(c.Name) {
			wg.Add(1)
			go func(node string) {
				defer GinkgoRecover()
				defer wg.Done()
				docker("restart", node)
			}(strings.Fields(line)[0])
		}
		wg.Wait()

		By("waiting for every node to report Ready after the restart")
		Eventually(func() []string {
			out, _, _ := on("get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}{"\n"}{end}`)
			var fresh []string
			for _, line := range sortedLines(out) {
				f := strings.Fields(line)
				if len(f) == 3 && f[1] == "True" {
					if beat, err := time.Parse(time.RFC3339, f[2]); err == nil && beat.After(restarted.Add(-time.Second)) {
						fresh = append(fresh, f[0])
					}
				}
			}
			return fresh
		}).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).
			Should(ConsistOf(c.Name+"-control-plane", c.Name+"-worker", c.Name+"-worker2"))

		By("waiting for the system pods and the workload to run again")
		// Running, Ready, and with containers started after the restart:
		// until its kubelet reports again, a pod's status in the API is
		// still the one from before.
		Eventually(func() string {
			out, _, _ := on("get", "pods", "-A", "-o", `jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.conditions[?(@.type=="Ready")].status} {.status.containerStatuses[*].state.running.startedAt}{"\n"}{end}`)
			var notBack []string
			for _, line := range sortedLines(out) {
				f := strings.Fields(line)
				back := len(f) >= 4 && f[1] == "Running" && f[2] == "True"
				for _, started := range f[min(3, len(f)):] {
					at, err := time.Parse(time.RFC3339, started)
					back = back && err == nil && !at.Before(restarted.Truncate(time.Second))
				}
				if !back {
					notBack = append(notBack, line)
				}
			}
			return strings.Join(notBack, "\n")
		}).WithTimeout(3*time.Minute).WithPolling(2*time.Second).Should(BeEmpty(), "pods not Running and Ready with containers started after the restart")

		// The same pods, their containers restarted with their nodes.
		after := podsOf(on, "app=web")
		Expect(after).To(HaveLen(2))
		for i := range after {
			Expect(strings.Fields(after[i])[:2]).To(Equal(strings.Fields(webPods[i])[:2]), "pod %d replaced", i)
		}
		Expect(mustKubectlOn(c.Name, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.containerStatuses[0].restartCount}")).
			To(MatchRegexp(`^[1-9]\d* [1-9]\d*$`))
		Expect(mustKubectlOn(c.Name, "get", "configmap", "kept", "-o", "jsonpath={.data.k}")).To(Equal("v"))

		By("fetching the Service by its DNS name from a new pod")
		Expect(fetchThroughPod(on, "http://web.default.svc.cluster.local/")).To(ContainSubstring("<title>Welcome to nginx!</title>"))
	})
})
