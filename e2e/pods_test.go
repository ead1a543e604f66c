//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// applyManifest feeds YAML to kubectl apply and deletes what it made when
// the spec ends, waiting until it is gone so that the next spec may reuse
// the names.
func applyManifest(yaml string) {
	cmd := exec.Command("/usr/bin/kubectl", "--context", "kindish-"+shared.Name, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(yaml)
	out, err := cmd.CombinedOutput()
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "kubectl apply: %s", out)
	DeferCleanup(func() {
		del := exec.Command("/usr/bin/kubectl", "--context", "kindish-"+shared.Name, "delete", "--timeout=90s", "--ignore-not-found", "-f", "-")
		del.Stdin = strings.NewReader(yaml)
		_ = del.Run()
	})
}

// podField reads a jsonpath of a pod, empty when it cannot.
func podField(pod, jsonpath string) string {
	out, _, _ := kubectl("get", "pod", pod, "-o", "jsonpath="+jsonpath)
	return out
}

// eventuallyPodEvents polls a pod's events, as "reason: message" lines,
// for up to 30 s. The kubelet writes its events apart from the pod's
// status, as upstream's does: one may reach the API a moment after the
// status it goes with.
func eventuallyPodEvents(pod string) AsyncAssertion {
	return EventuallyWithOffset(1, func() string {
		return mustKubectl("get", "events", "--field-selector", "involvedObject.name="+pod, "-o", `jsonpath={range .items[*]}{.reason}: {.message}{"\n"}{end}`)
	}).WithTimeout(30 * time.Second).WithPolling(500 * time.Millisecond)
}

func waitForPodReady(pod string) {
	_, stderr, code := kubectl("wait", "--for=condition=Ready", "pod/"+pod, "--timeout=2m")
	ExpectWithOffset(1, code).To(Equal(0), "pod %s not Ready: %s\n%s", pod, stderr, describePod(pod))
}

func describePod(pod string) string {
	out, _, _ := kubectl("describe", "pod", pod)
	return out
}

const fullPod = `apiVersion: v1
kind: ConfigMap
metadata: {name: full-config}
data: {greeting: hello, file.txt: first}
---
apiVersion: v1
kind: Secret
metadata: {name: full-secret}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: full}
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: init
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "echo made-by-init > /work/index.html"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "touch /tmp/healthy; exec httpd -f -p 8080 -h /work"]
    ports: [{containerPort: 8080}]
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: full-config, key: greeting}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: full-secret, key: password}}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    envFrom:
    - prefix: CFG_
      configMapRef: {name: full-config}
    volumeMounts:
    - {name: work, mountPath: /work}
    - {name: config, mountPath: /etc/config}
    - {name: secret, mountPath: /etc/secret}
    - {name: info, mountPath: /etc/info}
    readinessProbe:
      httpGet: {path: /index.html, port: 8080}
      periodSeconds: 1
    livenessProbe:
      exec: {command: [cat, /tmp/healthy]}
      periodSeconds: 1
      failureThreshold: 2
  volumes:
  - {name: work, emptyDir: {}}
  - {name: config, configMap: {name: full-config}}
  - {name: secret, secret: {secretName: full-secret}}
  - name: info
    downwardAPI:
      items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}, {path: name, fieldRef: {fieldPath: metadata.name}}]
`

var _ = Describe("Pods", Label("Workloads"), func() {
	It("run init containers first, get env from a ConfigMap and a Secret, mount volumes and pass their probes", func() {
		applyManifest(fullPod)
		waitForPodReady("full")

		Expect(podField("full", "{.status.initContainerStatuses[0].state.terminated.reason} {.status.initContainerStatuses[0].state.terminated.exitCode}")).To(Equal("Completed 0"))
		Expect(podField("full", "{.status.qosClass} {.status.containerStatuses[0].containerID}")).To(MatchRegexp(`^BestEffort containerd://[0-9a-f]{64}$`))

		env := mustKubectl("exec", "full", "-c", "main", "--", "env")
		for _, kv := range []string{"GREETING=hello", "PASSWORD=s3cret", "POD_NAME=full", "CFG_greeting=hello", "KUBERNETES_SERVICE_HOST=10.96.0.1"} {
			Expect(env).To(ContainSubstring(kv + "\n"))
		}
		files := mustKubectl("exec", "full", "-c", "main", "--", "cat", "/work/index.html", "/etc/config/file.txt", "/etc/secret/password", "/etc/info/name")
		Expect(files).To(Equal("made-by-init\nfirsts3cretfull"))

		By("updating the ConfigMap: the mounted file follows")
		mustKubectl("patch", "configmap", "full-config", "-p", `{"data":{"file.txt":"second"}}`)
		Eventually(func() string {
			out, _, _ := kubectl("exec", "full", "-c", "main", "--", "cat", "/etc/config/file.txt")
			return out
		}).WithTimeout(90 * time.Second).WithPolling(time.Second).Should(Equal("second"))
	})

	It("restart a container whose liveness probe fails", func() {
		applyManifest(fullPod)
		waitForPodReady("full")
		first := podField("full", "{.status.containerStatuses[0].containerID}")

		mustKubectl("exec", "full", "-c", "main", "--", "rm", "/tmp/healthy")
		Eventually(func() string {
			return podField("full", "{.status.containerStatuses[0].restartCount}")
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(Equal("1"))
		Expect(podField("full", "{.status.containerStatuses[0].lastState.terminated.containerID}")).To(Equal(first))
		Expect(podField("full", "{.status.containerStatuses[0].containerID}")).NotTo(Equal(first))
		eventuallyPodEvents("full").Should(And(
			ContainSubstring("Unhealthy: Liveness probe failed"),
			ContainSubstring("Killing: Container main failed liveness probe, will be restarted")))
		waitForPodReady("full")
	})

	It("back off restarting a container that keeps exiting 1, and keep its previous logs", func() {
		mustKubectl("run", "crasher", "--image", "busybox", "--image-pull-policy", "IfNotPresent", "--", "sh", "-c", "echo about to fail; exit 1")
		DeferCleanup(func() { kubectl("delete", "pod", "crasher", "--wait=false") })
		Eventually(func() string {
			return podField("crasher", "{.status.containerStatuses[0].state.waiting.reason}")
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(Equal("CrashLoopBackOff"))
		Expect(podField("crasher", "{.status.containerStatuses[0].lastState.terminated.exitCode}")).To(Equal("1"))
		Expect(podField("crasher", "{.status.phase}")).To(Equal("Running"))
		Expect(mustKubectl("get", "pod", "crasher")).To(MatchRegexp(`crasher\s+0/1\s+CrashLoopBackOff\s+\d+ \(\S+ ago\)`))
		Expect(mustKubectl("logs", "crasher", "--previous")).To(Equal("about to fail\n"))
	})

	It("report ErrImagePull, then ImagePullBackOff, for an image nobody loaded", func() {
		mustKubectl("run", "absent", "--image", "kindish-e2e/absent:v1")
		DeferCleanup(func() { kubectl("delete", "pod", "absent", "--wait=false") })
		// Reason and message come from one read: the next sync may turn
		// ErrImagePull into ImagePullBackOff, with its own message, at
		// any moment.
		var message string
		Eventually(func() string {
			waiting := podField("absent", "{.status.containerStatuses[0].state.waiting.reason}|{.status.containerStatuses[0].state.waiting.message}")
			reason, msg, _ := strings.Cut(waiting, "|")
			message = msg
			return reason
		}).WithTimeout(time.Minute).WithPolling(500 * time.Millisecond).Should(Equal("ErrImagePull"))
		// The registry the nodes pull through answers for docker.io.
		Expect(message).To(HaveSuffix(
			`failed to resolve reference "docker.io/kindish-e2e/absent:v1": docker.io/kindish-e2e/absent:v1: not found`))
		Eventually(func() string {
			return podField("absent", "{.status.containerStatuses[0].state.waiting.reason}")
		}).WithTimeout(time.Minute).WithPolling(500 * time.Millisecond).Should(Equal("ImagePullBackOff"))
		eventuallyPodEvents("absent").Should(And(
			ContainSubstring(`Failed: Failed to pull image "kindish-e2e/absent:v1"`),
			ContainSubstring("BackOff: Back-off pulling image")))
	})

	It("serve logs, exec and port-forward through kubectl", func() {
		applyManifest(fullPod)
		waitForPodReady("full")
		logs := mustKubectl("logs", "full", "-c", "init")
		Expect(logs).To(BeEmpty())
		Expect(mustKubectl("exec", "full", "-c", "main", "--", "sh", "-c", "echo from exec; echo to stderr >&2; exit 0")).To(Equal("from exec\n"))
		_, _, code := kubectl("exec", "full", "-c", "main", "--", "sh", "-c", "exit 3")
		Expect(code).To(Equal(3), "kubectl exec returns the command's exit code")

		pf := exec.Command("/usr/bin/kubectl", "--context", "kindish-"+shared.Name, "port-forward", "pod/full", ":8080")
		stdout, err := pf.StdoutPipe()
		Expect(err).NotTo(HaveOccurred())
		pf.Stderr = GinkgoWriter
		Expect(pf.Start()).To(Succeed())
		DeferCleanup(func() { pf.Process.Kill(); pf.Wait() })
		port := readForwardedPort(stdout)
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%s/index.html", port))
		Expect(err).NotTo(HaveOccurred())
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		Expect(string(body)).To(Equal("made-by-init\n"))
	})
})

var forwardingRE = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) ->`)

// readForwardedPort reads kubectl port-forward's first line and returns
// the local port it chose.
func readForwardedPort(r io.Reader) string {
	found := make(chan string, 1)
	go func() {
		buf := make([]byte, 4096)
		var seen strings.Builder
		for {
			n, err := r.Read(buf)
			seen.Write(buf[:n])
			if m := forwardingRE.FindStringSubmatch(seen.String()); m != nil {
				found <- m[1]
				io.Copy(io.Discard, r)
				return
			}
			if err != nil {
				close(found)
				return
			}
		}
	}()
	select {
	case port, ok := <-found:
		ExpectWithOffset(1, ok).To(BeTrue(), "kubectl port-forward ended before forwarding")
		return port
	case <-time.After(30 * time.Second):
		Fail("kubectl port-forward printed no forwarding line in 30s")
	}
	return ""
}
