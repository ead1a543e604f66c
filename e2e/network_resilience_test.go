//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// inClusterNamespace holds a pod that lists pods with client-go, as its
// ServiceAccount, with and without a RoleBinding.
const inClusterNamespace = "in-cluster"

var inClusterWorkloads = `apiVersion: v1
kind: Namespace
metadata: {name: in-cluster}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: lister, namespace: in-cluster}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: lister-view, namespace: in-cluster}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: lister, namespace: in-cluster}]
---
apiVersion: v1
kind: Pod
metadata: {name: lister, namespace: in-cluster}
spec:
  serviceAccountName: lister
  terminationGracePeriodSeconds: 1
  containers: [{name: testbox, image: ` + testboxImage + `, args: [sleep, infinity]}]
---
apiVersion: v1
kind: Pod
metadata: {name: neighbour, namespace: in-cluster}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: testbox, image: ` + testboxImage + `, args: [sleep, infinity]}]
`

// kubePods runs testbox kube-pods in the lister pod.
func kubePods(args ...string) (string, string, int) {
	return kubectl(append([]string{"exec", "-n", inClusterNamespace, "lister", "--", "/testbox", "kube-pods"}, args...)...)
}

var _ = Describe("client-go in a pod", Label("Network"), func() {
	It("lists pods with its ServiceAccount's token, and gets the API server's 403 where RBAC refuses", func() {
		applyManifest(inClusterWorkloads)
		for _, pod := range []string{"lister", "neighbour"} {
			_, stderr, code := kubectl("wait", "-n", inClusterNamespace, "--for=condition=Ready", "pod/"+pod, "--timeout=2m")
			Expect(code).To(Equal(0), "pod %s: %s", pod, stderr)
		}

		By("listing its own namespace, named and by default")
		want := "lister Running\nneighbour Running\n"
		for _, args := range [][]string{{"--namespace", inClusterNamespace}, nil} {
			out, stderr, code := kubePods(args...)
			Expect(code).To(Equal(0), "kube-pods %v: %s", args, stderr)
			Expect(out).To(Equal(want), "kube-pods %v", args)
		}

		By("listing a namespace the RoleBinding does not cover")
		forbidden := func(ns string) string {
			return fmt.Sprintf(`testbox kube-pods: list pods in namespace %s: pods is forbidden: `+
				`User "system:serviceaccount:in-cluster:lister" cannot list resource "pods" in API group "" in the namespace "%s"`, ns, ns)
		}
		out, stderr, code := kubePods("--namespace", "kube-system")
		Expect(code).To(Equal(1), "kube-pods in kube-system answered:\n%s", out)
		Expect(stderr).To(ContainSubstring(forbidden("kube-system")))

		By("listing its own namespace once the RoleBinding is gone")
		mustKubectl("delete", "rolebinding", "-n", inClusterNamespace, "lister-view")
		Eventually(func() string {
			_, stderr, _ := kubePods()
			return stderr
		}).WithTimeout(30*time.Second).WithPolling(time.Second).Should(ContainSubstring(forbidden(inClusterNamespace)),
			"the ServiceAccount can still list pods without its RoleBinding")
	})
})

// resilienceNamespace holds a Service whose backends run on one worker and
// a client on the other, which the specs below keep busy while they kill
// the network's components.
const resilienceNamespace = "resilience"

var resilienceWorkloads = `apiVersion: v1
kind: Namespace
metadata: {name: resilience}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend, namespace: resilience}
spec:
  replicas: 2
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec:
      nodeSelector: {kubernetes.io/hostname: e2e-worker2}
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
metadata: {name: backend, namespace: resilience}
spec:
  selector: {app: backend}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: resilience}
spec:
  nodeName: e2e-worker
  terminationGracePeriodSeconds: 1
  containers: [{name: testbox, image: ` + testboxImage + `, args: [serve]}]
`

// probeRound is one round of a background probe: when it ran, how many
// requests succeeded, and what the others said.
type probeRound struct {
	start, end time.Time
	ok         int
	failures   []string
}

// probeFunc sends one round of requests from the client pod.
type probeFunc func(ctx context.Context) (ok int, failures []string)

// prober repeats a probe in the background, one round after the other,
// and keeps every round. It runs outside Ginkgo's goroutine, so it asserts
// nothing: the spec judges the rounds.
type prober struct {
	name   string
	mu     sync.Mutex
	rounds []probeRound
	cancel context.CancelFunc
	done   chan struct{}
}

func startProber(name string, probe probeFunc) *prober {
	ctx, cancel := context.WithCancel(context.Background())
	p := &prober{name: name, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for ctx.Err() == nil {
			start := time.Now()
			ok, failures := probe(ctx)
			if ctx.Err() != nil {
				return // cut short by stop: not a result
			}
			p.mu.Lock()
			p.rounds = append(p.rounds, probeRound{start: start, end: time.Now(), ok: ok, failures: failures})
			p.mu.Unlock()
		}
	}()
	return p
}

// roundsSince counts the rounds that started at t or later.
func (p *prober) roundsSince(t time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.rounds {
		if !r.start.Before(t) {
			n++
		}
	}
	return n
}

func (p *prober) stop() []probeRound {
	p.cancel()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rounds
}

// kubectlIn runs kubectl without Gomega, for the probers' goroutines.
func kubectlIn(ctx context.Context, args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, "/usr/bin/kubectl", append([]string{"--context", "kindish-" + shared.Name}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// serviceProbe has the client's test server reach ip:80 ten times, each
// on a new connection, so that each try goes through the Service's NAT.
func serviceProbe(ip string) probeFunc {
	path := "/dial?protocol=http&host=" + ip + "&port=80&request=/hostname&tries=10&timeout=2s"
	return func(ctx context.Context) (int, []string) {
		out, stderr, err := kubectlIn(ctx, "exec", "-n", resilienceNamespace, "client", "--",
			"/testbox", "dial", "127.0.0.1:8080", "--protocol", "http", "--request", path, "--timeout", "60s")
		if err != nil {
			return 0, []string{fmt.Sprintf("exec dial: %v: %s", err, strings.TrimSpace(stderr))}
		}
		var r dialResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			return 0, []string{fmt.Sprintf("dial answered %q", out)}
		}
		ok, failures := 0, r.Errors
		for _, name := range r.Responses {
			if strings.HasPrefix(name, "backend-") {
				ok++
			} else {
				failures = append(failures, fmt.Sprintf("an answer from outside the Service: %q", name))
			}
		}
		return ok, failures
	}
}

// dnsProbe resolves the Service's short name ten times through the pod's
// search path, as its programs do.
func dnsProbe(ctx context.Context) (int, []string) {
	const lookups = 10
	out, stderr, err := kubectlIn(ctx, "exec", "-n", resilienceNamespace, "client", "--",
		"/testbox", "dns-lookup", "backend", "--type", "A", "--count", strconv.Itoa(lookups))
	var failed int
	if _, scanErr := fmt.Sscanf(out, "lookups=%d failed=%d", new(int), &failed); scanErr != nil {
		return 0, []string{fmt.Sprintf("exec dns-lookup: %v: %s%s", err, out, strings.TrimSpace(stderr))}
	}
	if err != nil {
		// dns-lookup names the first failure only.
		return lookups - failed, []string{fmt.Sprintf("%d lookups failed, the first: %s", failed, strings.TrimSpace(stderr))}
	}
	return lookups, nil
}

// podIn reads a jsonpath of a pod in namespace, empty when it cannot.
func podIn(namespace, pod, jsonpath string) string {
	out, _, _ := kubectl("get", "pod", "-n", namespace, pod, "-o", "jsonpath="+jsonpath)
	return out
}

// onePod names a pod of kube-system that matches selector, on node when
// node is set.
func onePod(selector, node string) string {
	args := []string{"get", "pods", "-n", "kube-system", "-l", selector, "-o", "jsonpath={.items[0].metadata.name}"}
	if node != "" {
		args = append(args, "--field-selector", "spec.nodeName="+node)
	}
	pod := mustKubectl(args...)
	ExpectWithOffset(1, pod).NotTo(BeEmpty(), "no pod %s on %q", selector, node)
	return pod
}

// killContainer kills the main process of a pod's first container with
// SIGKILL, found by its container ID in the node's containerd, and returns
// the container's restart count from before.
func killContainer(namespace, pod string) int {
	fields := strings.Fields(podIn(namespace, pod, "{.spec.nodeName} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}"))
	ExpectWithOffset(1, fields).To(HaveLen(3), "pod %s/%s has no running container", namespace, pod)
	node, id := fields[0], strings.TrimPrefix(fields[1], "containerd://")
	restarts, err := strconv.Atoi(fields[2])
	ExpectWithOffset(1, err).NotTo(HaveOccurred())

	var pid string
	for _, line := range strings.Split(docker("exec", node, "ctr", "-n", "k8s.io", "task", "ls"), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == id {
			pid = f[1]
		}
	}
	ExpectWithOffset(1, pid).NotTo(BeEmpty(), "no task for container %s of %s/%s on %s", id, namespace, pod, node)
	docker("exec", node, "kill", "-9", pid)
	return restarts
}

// awaitRestarted waits until the kubelet has restarted the pod's container
// and the pod is Ready again.
func awaitRestarted(namespace, pod string, restartsBefore int) {
	want := fmt.Sprintf("%d True", restartsBefore+1)
	EventuallyWithOffset(1, func() string {
		return podIn(namespace, pod, `{.status.containerStatuses[0].restartCount} {.status.conditions[?(@.type=="Ready")].status}`)
	}).WithTimeout(2*time.Minute).WithPolling(200*time.Millisecond).Should(Equal(want),
		"%s/%s was not restarted and Ready again", namespace, pod)
}

// disruption breaks a component and returns what waits until it is back.
type disruption func() (awaitBack func())

// killed kills a pod's container with SIGKILL; it is back once the kubelet
// has restarted it and the pod is Ready again.
func killed(namespace, pod string) disruption {
	return func() func() {
		restarts := killContainer(namespace, pod)
		return func() { awaitRestarted(namespace, pod, restarts) }
	}
}

// deleted deletes a pod of a Deployment, gracefully, as a rollout or a
// drain does; it is back once the pod is gone and the Deployment has all
// its replicas Ready again.
func deleted(namespace, pod, deployment string) disruption {
	return func() func() {
		mustKubectl("delete", "pod", "-n", namespace, pod, "--wait=false")
		return func() {
			EventuallyWithOffset(1, func() string {
				if out, _, _ := kubectl("get", "pod", "-n", namespace, pod, "--ignore-not-found", "-o", "name"); out != "" {
					return "pod " + pod + " still there"
				}
				out, _, _ := kubectl("get", "deployment", "-n", namespace, deployment, "-o", "jsonpath={.status.readyReplicas} of {.spec.replicas} Ready")
				if f := strings.Fields(out); len(f) == 4 && f[0] == f[2] {
					return "all Ready"
				}
				return out
			}).WithTimeout(2*time.Minute).WithPolling(200*time.Millisecond).Should(Equal("all Ready"),
				"%s/%s was not replaced by a Ready pod", namespace, deployment)
		}
	}
}

// phaseFailures lists the failures of the rounds that overlap [from, to),
// each with its time relative to from.
func phaseFailures(rounds []probeRound, from, to time.Time) (requests int, failures []string) {
	for _, r := range rounds {
		if !r.start.Before(to) || r.end.Before(from) {
			continue
		}
		requests += r.ok + len(r.failures)
		for _, f := range r.failures {
			failures = append(failures, fmt.Sprintf("round at %+.1fs: %s", r.start.Sub(from).Seconds(), f))
		}
	}
	return requests, failures
}

var _ = Describe("Service traffic and DNS while a network component restarts", Label("Resilience"), Ordered, ContinueOnFailure, func() {
	var clusterIP string

	BeforeAll(func() {
		applyManifest(resilienceWorkloads)
		mustKubectl("rollout", "status", "-n", resilienceNamespace, "deployment/backend", "--timeout=3m")
		_, stderr, code := kubectl("wait", "-n", resilienceNamespace, "--for=condition=Ready", "pod/client", "--timeout=2m")
		Expect(code).To(Equal(0), "pod client: %s", stderr)
		clusterIP = mustKubectl("get", "service", "-n", resilienceNamespace, "backend", "-o", "jsonpath={.spec.clusterIP}")
		// The probes must pass before anything is killed, or the specs
		// would blame the kill for a broken setup.
		Eventually(func() []string {
			_, failures := serviceProbe(clusterIP)(context.Background())
			_, dnsFailures := dnsProbe(context.Background())
			return append(failures, dnsFailures...)
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(BeEmpty())
	})

	// survive keeps the client busy with Service requests and lookups,
	// breaks a component, and expects every request to succeed: before,
	// while the component is gone (the iptables rules, routes and the other
	// replicas it left stay), and once it is back.
	survive := func(what string, disrupt disruption) {
		probers := []*prober{startProber("requests to "+clusterIP+":80", serviceProbe(clusterIP)), startProber("lookups of backend", dnsProbe)}
		DeferCleanup(func() {
			for _, p := range probers {
				p.stop()
			}
		})
		settled := func(since time.Time) func() bool {
			return func() bool {
				for _, p := range probers {
					if p.roundsSince(since) < 3 {
						return false
					}
				}
				return true
			}
		}
		start := time.Now()
		Eventually(settled(start)).WithTimeout(time.Minute).WithPolling(100 * time.Millisecond).Should(BeTrue())

		By("breaking " + what)
		awaitBack := disrupt()
		broken := time.Now()
		awaitBack()
		back := time.Now()
		Eventually(settled(back)).WithTimeout(time.Minute).WithPolling(100 * time.Millisecond).Should(BeTrue())
		end := time.Now()

		for _, p := range probers {
			rounds := p.stop()
			before, beforeFailures := phaseFailures(rounds, start, broken)
			down, downFailures := phaseFailures(rounds, broken, back)
			after, afterFailures := phaseFailures(rounds, back, end)
			GinkgoWriter.Printf("%s: %d before, %d in the %.1fs until %s was back, %d after; failed: %d, %d, %d\n",
				p.name, before, down, back.Sub(broken).Seconds(), what, after, len(beforeFailures), len(downFailures), len(afterFailures))
			Expect(beforeFailures).To(BeEmpty(), "%s failed before %s was broken", p.name, what)
			Expect(down).To(BeNumerically(">", 0), "no %s while %s was down", p.name, what)
			Expect(downFailures).To(BeEmpty(), "%s failed while %s was down", p.name, what)
			Expect(afterFailures).To(BeEmpty(), "%s failed after %s was back", p.name, what)
		}
	}

	It("loses nothing while kube-proxy on the client's node restarts, which then programs a new Service", func() {
		survive("kube-proxy on e2e-worker", killed("kube-system", onePod("k8s-app=kube-proxy", "e2e-worker")))

		mustKubectl("create", "service", "clusterip", "backend-after", "-n", resilienceNamespace, "--tcp=80:8080")
		DeferCleanup(func() { kubectl("delete", "service", "-n", resilienceNamespace, "backend-after") })
		mustKubectl("set", "selector", "service", "backend-after", "-n", resilienceNamespace, "app=backend")
		ip := mustKubectl("get", "service", "-n", resilienceNamespace, "backend-after", "-o", "jsonpath={.spec.clusterIP}")
		Eventually(func() string {
			out, _, _ := kubectl("exec", "-n", resilienceNamespace, "client", "--", "/testbox", "dial", ip+":80", "--protocol", "http", "--request", "/hostname", "--timeout", "2s")
			return out
		}).WithTimeout(30*time.Second).WithPolling(500*time.Millisecond).Should(HavePrefix("backend-"), "a Service created after the restart")
	})

	It("loses nothing while kindnetd on the client's node restarts", func() {
		survive("kindnetd on e2e-worker", killed("kube-system", onePod("app=kindnet", "e2e-worker")))
	})

	// Deleted, not killed: a CoreDNS pod killed with SIGKILL stays an
	// endpoint until the kubelet, relisting every second as upstream's
	// does, reports it not Ready (≈ 2 s), and a lookup whose two tries
	// both go to it meanwhile fails. A deleted pod leaves the endpoints
	// within a second and answers through its lameduck period.
	It("loses nothing while one of the two CoreDNS pods is deleted and replaced", func() {
		pod := onePod("k8s-app=kube-dns", "")
		survive("CoreDNS pod "+pod, deleted("kube-system", pod, "coredns"))
	})
})
