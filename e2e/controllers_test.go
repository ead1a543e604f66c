//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// frontendRS is a ReplicaSet file like the source documents' foo.yml.
const frontendRS = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: frontend
  labels: {tier: frontend}
spec:
  replicas: 3
  selector:
    matchLabels: {tier: frontend}
  template:
    metadata:
      labels: {tier: frontend}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: ` + testboxImage + `
        args: [serve]
`

// readyReplicas reads a workload's ready replica count, "" when unknown.
func readyReplicas(kind, name string) string {
	out, _, _ := kubectl("get", kind, name, "-o", "jsonpath={.status.readyReplicas}")
	return out
}

var _ = Describe("Workload controllers", Label("Workloads"), func() {
	It("scale a ReplicaSet from its file, as the source documents do", func() {
		file := filepath.Join(GinkgoT().TempDir(), "foo.yml")
		Expect(os.WriteFile(file, []byte(frontendRS), 0o644)).To(Succeed())
		mustKubectl("create", "-f", file)
		DeferCleanup(func() { kubectl("delete", "-f", file, "--wait=false") })
		Eventually(func() string { return readyReplicas("replicaset", "frontend") }).
			WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Equal("3"))

		Expect(mustKubectl("scale", "--replicas=6", "-f", file)).To(Equal("replicaset.apps/frontend scaled\n"))
		Eventually(func() string { return readyReplicas("replicaset", "frontend") }).
			WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Equal("6"))
		Expect(strings.Fields(mustKubectl("get", "pods", "-l", "tier=frontend", "-o", "name"))).To(HaveLen(6))

		// replace -f puts the file's 3 back.
		mustKubectl("replace", "-f", file)
		Eventually(func() []string {
			return strings.Fields(mustKubectl("get", "pods", "-l", "tier=frontend", "-o", "jsonpath={range .items[?(@.metadata.deletionTimestamp)]}x {end}"))
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(BeEmpty())
		Eventually(func() []string {
			return strings.Fields(mustKubectl("get", "pods", "-l", "tier=frontend", "-o", "name"))
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(HaveLen(3))
	})

	It("roll a Deployment out, back, restart it, pause and resume it with kubectl rollout", func() {
		mustKubectl("create", "deployment", "roller", "--image", testboxImage, "--replicas", "3", "--", "/testbox", "serve")
		DeferCleanup(func() { kubectl("delete", "deployment", "roller", "--wait=false") })
		mustKubectl("rollout", "status", "deployment/roller", "--timeout=2m")
		Expect(mustKubectl("get", "deployment", "roller")).To(MatchRegexp(`(?m)^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\nroller\s+3/3\s+3\s+3\s+\S+$`))

		By("a new revision")
		mustKubectl("set", "env", "deployment/roller", "REVISION=2")
		out := mustKubectl("rollout", "status", "deployment/roller", "--timeout=2m")
		Expect(out).To(ContainSubstring(`deployment "roller" successfully rolled out`))
		history := mustKubectl("rollout", "history", "deployment/roller")
		Expect(history).To(MatchRegexp(`(?m)^REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\s*$`))
		Expect(mustKubectl("get", "replicasets", "-l", "app=roller", "-o", "jsonpath={range .items[*]}{.status.replicas} {end}")).To(MatchRegexp(`^(0 3|3 0) $`))

		By("undo")
		mustKubectl("rollout", "undo", "deployment/roller")
		mustKubectl("rollout", "status", "deployment/roller", "--timeout=2m")
		Expect(mustKubectl("get", "deployment", "roller", "-o", `jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision} {.spec.template.spec.containers[0].env}`)).To(Equal("3 "))
		Expect(mustKubectl("rollout", "history", "deployment/roller")).To(MatchRegexp(`(?m)^2\s+<none>\n3\s+<none>\s*$`))

		By("restart")
		before := mustKubectl("get", "pods", "-l", "app=roller", "-o", "jsonpath={.items[*].metadata.name}")
		mustKubectl("rollout", "restart", "deployment/roller")
		mustKubectl("rollout", "status", "deployment/roller", "--timeout=2m")
		Eventually(func() []string {
			return strings.Fields(mustKubectl("get", "pods", "-l", "app=roller", "-o", "jsonpath={.items[*].metadata.name}"))
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(And(HaveLen(3), Not(ContainElements(strings.Fields(before)))))

		By("pause, change, resume")
		mustKubectl("rollout", "pause", "deployment/roller")
		mustKubectl("set", "env", "deployment/roller", "PAUSED=yes")
		// Nothing rolls while paused: no pod runs the new template.
		Consistently(func() string {
			return mustKubectl("get", "deployment", "roller")
		}).WithTimeout(3 * time.Second).WithPolling(time.Second).Should(MatchRegexp(`(?m)^roller\s+3/3\s+0\s+3\s+\S+$`))
		Expect(mustKubectl("get", "deployment", "roller", "-o", `jsonpath={.status.conditions[?(@.type=="Progressing")].reason}`)).To(Equal("DeploymentPaused"))
		mustKubectl("rollout", "resume", "deployment/roller")
		mustKubectl("rollout", "status", "deployment/roller", "--timeout=2m")

		By("scale")
		mustKubectl("scale", "deployment/roller", "--replicas=5")
		Eventually(func() string { return readyReplicas("deployment", "roller") }).
			WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Equal("5"))
	})
})
