//go:build e2e

package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// pullingPod runs image with imagePullPolicy Always: the node pulls it
// from the registry each time, whether or not it holds it.
func pullingPod(name, image string) string {
	return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ` + image + `
    imagePullPolicy: Always
    command: [sleep, "3600"]
`
}

var _ = Describe("The image registry", Label("Workloads"), func() {
	It("serves `kubectl run nginx --image nginx` as written, and nginx its page through a Service", func() {
		mustKubectl("run", "nginx", "--image", "nginx", "--labels", "app=nginx")
		DeferCleanup(func() { kubectl("delete", "pod", "nginx", "--wait=false") })
		mustKubectl("expose", "pod", "nginx", "--port", "80")
		DeferCleanup(func() { kubectl("delete", "service", "nginx") })
		waitForPodReady("nginx")
		// nginx:latest is pulled, not taken from the node's store: the
		// registry has it under docker.io/library/nginx.
		eventuallyPodEvents("nginx").Should(MatchRegexp(`Pulled: Successfully pulled image "nginx" in \S+`))

		Expect(fetchThroughPod(kubectl, "http://nginx.default.svc.cluster.local/")).To(ContainSubstring("<title>Welcome to nginx!</title>"))
		Expect(mustKubectl("logs", "nginx")).To(MatchRegexp(`"GET / HTTP/1\.1" 200 \d+ "-" "Wget"`))
	})

	It("starts a pod that pulls a loaded image with imagePullPolicy Always", func() {
		applyManifest(pullingPod("always", "busybox"))
		waitForPodReady("always")
		Expect(podField("always", "{.status.containerStatuses[0].imageID}")).To(HavePrefix("docker.io/library/busybox@sha256:"))
	})

	It("keeps its images across a docker restart", func() {
		docker("restart", "kindish-registry")
		// Always resolves the tag in the registry even though the node
		// holds the image: the pod starts only if the registry still has it.
		applyManifest(pullingPod("after-restart", "busybox"))
		waitForPodReady("after-restart")
		eventuallyPodEvents("after-restart").Should(MatchRegexp(`Pulled: Successfully pulled image "busybox" in \S+`))
	})
})
