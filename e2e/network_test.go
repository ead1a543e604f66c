//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// testboxImage is kindish's test server (`kindish build images`).
const testboxImage = "kindish/testbox:v0.1.0"

// netNamespace holds the network specs' workloads.
const netNamespace = "net"

// netWorkloads are a Deployment of three test servers behind a ClusterIP,
// a NodePort and a headless Service, a StatefulSet of two behind its own
// headless Service, and a server and a client pinned to different workers.
var netWorkloads = `apiVersion: v1
kind: Namespace
metadata: {name: net}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: net}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: testbox
        image: ` + testboxImage + `
        args: [serve]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: net}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web-nodeport, namespace: net}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-headless, namespace: net}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: net}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: net}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: testbox
        image: ` + testboxImage + `
        args: [serve]
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: net}
spec:
  nodeName: e2e-worker2
  terminationGracePeriodSeconds: 1
  containers: [{name: testbox, image: ` + testboxImage + `, args: [serve]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: net}
spec:
  nodeName: e2e-worker
  terminationGracePeriodSeconds: 1
  containers: [{name: testbox, image: ` + testboxImage + `, args: [serve]}]
`

// inPod runs testbox in a pod of the network namespace.
func inPod(pod string, args ...string) (string, string, int) {
	return kubectl(append([]string{"exec", "-n", netNamespace, pod, "--", "/testbox"}, args...)...)
}

// dialResult is the answer of testbox's /dial endpoint.
type dialResult struct {
	Responses []string `json:"responses"`
	Errors    []string `json:"errors"`
}

// dialFrom asks the test server in pod to reach host:port over HTTP tries
// times, each on a new connection, and returns what it got.
func dialFrom(pod, host string, port, tries int) dialResult {
	path := fmt.Sprintf("/dial?protocol=http&host=%s&port=%d&request=/hostname&tries=%d", host, port, tries)
	out, stderr, code := inPod(pod, "dial", "127.0.0.1:8080", "--protocol", "http", "--request", path, "--timeout", "60s")
	ExpectWithOffset(1, code).To(Equal(0), "dial from %s: %s", pod, stderr)
	var r dialResult
	ExpectWithOffset(1, json.Unmarshal([]byte(out), &r)).To(Succeed(), "dial answer %q", out)
	return r
}

func podIPs(selector string) map[string]string {
	out := mustKubectl("get", "pods", "-n", netNamespace, "-l", selector, "-o", `jsonpath={range .items[*]}{.metadata.name} {.status.podIP}{"\n"}{end}`)
	ips := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			ips[f[0]] = f[1]
		}
	}
	return ips
}

var _ = Describe("Cluster networking", Label("Network"), Ordered, func() {
	BeforeAll(func() {
		applyManifest(netWorkloads)
		for _, what := range []string{"deployment/web", "statefulset/db"} {
			mustKubectl("rollout", "status", "-n", netNamespace, what, "--timeout=3m")
		}
		for _, pod := range []string{"server", "client"} {
			_, stderr, code := kubectl("wait", "-n", netNamespace, "--for=condition=Ready", "pod/"+pod, "--timeout=2m")
			Expect(code).To(Equal(0), "pod %s: %s", pod, stderr)
		}
	})

	It("lets a pod on one worker reach a pod on the other by its IP", func() {
		ip := mustKubectl("get", "pod", "-n", netNamespace, "server", "-o", "jsonpath={.status.podIP}")
		out, stderr, code := inPod("client", "dial", ip+":8080", "--protocol", "http", "--request", "/hostname")
		Expect(code).To(Equal(0), stderr)
		Expect(out).To(Equal("server\n"))
	})

	It("spreads a ClusterIP Service's requests from another node over its replicas", func() {
		web := podIPs("app=web")
		Expect(web).To(HaveLen(3))
		r := dialFrom("client", "web", 80, 30)
		Expect(r.Errors).To(BeEmpty())
		Expect(r.Responses).To(HaveLen(30))
		seen := map[string]bool{}
		for _, name := range r.Responses {
			Expect(web).To(HaveKey(name), "an answer from outside the Service")
			seen[name] = true
		}
		Expect(len(seen)).To(BeNumerically(">=", 2), "30 requests all went to %v", seen)
	})

	It("answers a NodePort on every node's IP, from the host", func() {
		port := mustKubectl("get", "service", "-n", netNamespace, "web-nodeport", "-o", "jsonpath={.spec.ports[0].nodePort}")
		web := podIPs("app=web")
		addrs := mustKubectl("get", "nodes", "-o", `jsonpath={range .items[*]}{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}`)
		nodes := strings.Fields(addrs)
		Expect(nodes).To(HaveLen(3))
		client := &http.Client{Timeout: 5 * time.Second}
		for _, ip := range nodes {
			resp, err := client.Get(fmt.Sprintf("http://%s:%s/hostname", ip, port))
			Expect(err).NotTo(HaveOccurred(), "node %s", ip)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			Expect(web).To(HaveKey(string(body)), "node %s answered %q", ip, body)
		}
	})

	It("resolves Service names from a pod, in full, with the namespace and alone", func() {
		clusterIP := mustKubectl("get", "service", "-n", netNamespace, "web", "-o", "jsonpath={.spec.clusterIP}")
		for _, name := range []string{"web.net.svc.cluster.local", "web.net", "web"} {
			out, stderr, code := inPod("client", "dns-lookup", name)
			Expect(code).To(Equal(0), "%s: %s", name, stderr)
			Expect(out).To(Equal(clusterIP+"\n"), name)
		}
		out, stderr, code := inPod("client", "dns-lookup", "kubernetes.default")
		Expect(code).To(Equal(0), stderr)
		Expect(out).To(Equal("10.96.0.1\n"))
	})

	It("resolves a headless Service to its pods and a StatefulSet pod by its stable name", func() {
		var want []string
		for _, ip := range podIPs("app=web") {
			want = append(want, ip)
		}
		slices.Sort(want)
		Eventually(func() []string {
			out, _, _ := inPod("client", "dns-lookup", "web-headless")
			got := strings.Fields(out)
			slices.Sort(got)
			return got
		}).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(Equal(want))

		db := podIPs("app=db")
		for _, pod := range []string{"db-0", "db-1"} {
			out, stderr, code := inPod("client", "dns-lookup", pod+".db")
			Expect(code).To(Equal(0), "%s.db: %s", pod, stderr)
			Expect(out).To(Equal(db[pod] + "\n"))
		}
	})

	It("refuses connections to a Service's IP once the Service is deleted", func() {
		mustKubectl("create", "service", "clusterip", "short-lived", "-n", netNamespace, "--tcp=80:8080")
		mustKubectl("set", "selector", "service", "short-lived", "-n", netNamespace, "app=web")
		ip := mustKubectl("get", "service", "-n", netNamespace, "short-lived", "-o", "jsonpath={.spec.clusterIP}")
		Eventually(func() string {
			out, _, _ := inPod("client", "dial", ip+":80", "--protocol", "http", "--request", "/hostname", "--timeout", "2s")
			return out
		}).WithTimeout(30 * time.Second).WithPolling(500 * time.Millisecond).Should(HavePrefix("web-"))

		mustKubectl("delete", "service", "short-lived", "-n", netNamespace)
		Eventually(func() string {
			_, stderr, _ := inPod("client", "dial", ip+":80", "--timeout", "2s")
			return stderr
		}).WithTimeout(30 * time.Second).WithPolling(500 * time.Millisecond).Should(ContainSubstring("connection refused"))
	})

	It("lets a pod reach itself through its own Service", func() {
		web := podIPs("app=web")
		var pod string
		for name := range web {
			pod = name
			break
		}
		r := dialFrom(pod, "web", 80, 30)
		Expect(r.Errors).To(BeEmpty())
		Expect(r.Responses).To(ContainElement(pod), "30 requests through the Service never came back to %s", pod)
	})
})
