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

// seedsCluster is the source documents' cluster: one control plane and one
// worker, fresh for the walkthrough.
var seedsCluster = &Cluster{Name: "e2e-seeds", Config: `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
`}

// The source documents' definition files, as they print them.
const (
	seedPod = `apiVersion: v1
kind: Pod
metadata:
  name: myapp-pod
  labels:
    app: myapp
    type: front-end
spec:
  containers:
  - name: nginx-container
    image: nginx
`
	seedReplicaSet = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: myapp-replicaset
  labels:
    app: myapp
spec:
  replicas: 3
  selector:
    matchLabels:
      type: front-end
  template:
    metadata:
      name: myapp-pod
      labels:
        app: myapp
        type: front-end
    spec:
      containers:
      - name: nginx-container
        image: nginx
`
	seedDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: myapp-deployment
  labels:
    app: myapp
    type: front-end
spec:
  replicas: 3
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 1}
  selector:
    matchLabels:
      type: back-end
  template:
    metadata:
      labels:
        app: myapp
        type: back-end
    spec:
      containers:
      - name: app
        image: nginx
`
	seedNamespace = `apiVersion: v1
kind: Namespace
metadata:
  name: dev
`
	// A quota's hard limits under spec, as the documents describe it: the
	// dev namespace holds three pods at most.
	seedQuota = `apiVersion: v1
kind: ResourceQuota
metadata:
  name: dev-quota
  namespace: dev
spec:
  hard:
    pods: "3"
    services: "2"
`
)

var _ = Describe("The source documents' walkthrough", Label("Seeds"), Ordered, func() {
	c := seedsCluster
	var dir string
	// k runs kubectl on the walkthrough's cluster and fails on an error.
	k := func(args ...string) string {
		GinkgoHelper()
		GinkgoWriter.Printf("$ kubectl %s\n", strings.Join(args, " "))
		out := mustKubectlOn(c.Name, args...)
		GinkgoWriter.Print(out)
		return out
	}
	// file writes a definition file the way a reader saves one.
	file := func(name, content string) string {
		GinkgoHelper()
		path := filepath.Join(dir, name)
		Expect(os.WriteFile(path, []byte(content), 0o644)).To(Succeed())
		return path
	}
	waitFor := func(what string, args ...string) {
		GinkgoHelper()
		k(append([]string{"wait", "--timeout=2m", "--for=" + what}, args...)...)
	}

	BeforeAll(func() {
		dir = GinkgoT().TempDir()
		c.Create("--wait", "3m", "--preload-image", "nginx,busybox,"+testboxImage)
		DeferCleanup(func() {
			if CurrentSpecReport().Failed() {
				kindish("export", "logs", filepath.Join(outputDir(), "logs", "seeds"), "--name", c.Name)
			}
			c.Delete()
		})
	})

	It("lists the nodes as `kubectl get nodes` does in the documents", func() {
		out := k("get", "nodes")
		Expect(out).To(MatchRegexp(`^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n`))
		Expect(out).To(MatchRegexp(`(?m)^e2e-seeds-control-plane\s+Ready\s+control-plane\s+\S+\s+v1\.\d+\.\d+$`))
		Expect(out).To(MatchRegexp(`(?m)^e2e-seeds-worker\s+Ready\s+<none>\s+\S+\s+v1\.\d+\.\d+$`))
		Expect(strings.Count(out, "\n")).To(Equal(3), "a header and two nodes")
	})

	It("shows the demo's process trees on both kinds of node", func() {
		expectWorkerTree(c.Name + "-worker")
		expectControlPlaneTree(c.Name + "-control-plane")
	})

	It("runs nginx with `kubectl run nginx --image nginx`", func() {
		Expect(k("run", "nginx", "--image", "nginx")).To(Equal("pod/nginx created\n"))
		waitFor("condition=Ready", "pod/nginx")
		Expect(k("get", "pods")).To(MatchRegexp(`(?m)^nginx\s+1/1\s+Running\s+0\s+`))
	})

	It("creates myapp-pod from its file and describes it", func() {
		Expect(k("create", "-f", file("my-pod.yml", seedPod))).To(Equal("pod/myapp-pod created\n"))
		waitFor("condition=Ready", "pod/myapp-pod")
		// The kubelet reports the container's start as an event, written
		// apart from the pod's status, as upstream's does: it may reach
		// the API a moment after the pod turned Ready.
		var out string
		Eventually(func() string {
			out = k("describe", "pod", "myapp-pod")
			return out
		}).WithTimeout(30 * time.Second).WithPolling(500 * time.Millisecond).
			Should(MatchRegexp(`(?m)^\s+Normal\s+Started\s+.*Started container nginx-container$`))
		Expect(out).To(MatchRegexp(`(?m)^Name:\s+myapp-pod$`))
		Expect(out).To(MatchRegexp(`(?m)^Node:\s+e2e-seeds-worker/172\.`))
		Expect(out).To(MatchRegexp(`(?m)^Labels:\s+app=myapp\n\s+type=front-end$`))
		Expect(out).To(MatchRegexp(`(?m)^Status:\s+Running$`))
		Expect(out).To(MatchRegexp(`(?m)^IP:\s+10\.244\.`))
		Expect(out).To(MatchRegexp(`(?m)^\s+nginx-container:\n\s+Container ID:\s+containerd://[0-9a-f]{64}\n\s+Image:\s+nginx\n`))
		Expect(out).To(MatchRegexp(`(?m)^\s+Normal\s+Scheduled\s+.*Successfully assigned default/myapp-pod to e2e-seeds-worker$`))
	})

	It("scales a ReplicaSet with `kubectl scale --replicas=6 -f` and back with `kubectl replace -f`", func() {
		rs := file("foo.yml", seedReplicaSet)
		Expect(k("create", "-f", rs)).To(Equal("replicaset.apps/myapp-replicaset created\n"))
		waitFor("jsonpath={.status.readyReplicas}=3", "replicaset/myapp-replicaset")
		// myapp-pod carries the selector's label: the ReplicaSet adopts it,
		// as upstream's does, and creates two pods only.
		Expect(k("get", "pod", "myapp-pod", "-o", "jsonpath={.metadata.ownerReferences[0].name}")).To(Equal("myapp-replicaset"))

		Expect(k("scale", "--replicas=6", "-f", rs)).To(Equal("replicaset.apps/myapp-replicaset scaled\n"))
		waitFor("jsonpath={.status.readyReplicas}=6", "replicaset/myapp-replicaset")
		Expect(k("get", "replicaset", "myapp-replicaset")).To(MatchRegexp(`(?m)^myapp-replicaset\s+6\s+6\s+6\s+`))

		Expect(k("replace", "-f", rs)).To(Equal("replicaset.apps/myapp-replicaset replaced\n"))
		waitFor("jsonpath={.status.replicas}=3", "replicaset/myapp-replicaset")
		Eventually(func() int {
			out, _, _ := kubectlOn(c.Name, "get", "pods", "-l", "type=front-end", "--field-selector", "status.phase=Running", "-o", "name")
			return len(sortedLines(out))
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(Equal(3))
	})

	It("rolls a Deployment to a new image one pod at a time", func() {
		deploy := file("deployment.yml", seedDeployment)
		Expect(k("create", "-f", deploy)).To(Equal("deployment.apps/myapp-deployment created\n"))
		k("rollout", "status", "deployment/myapp-deployment", "--timeout=2m")
		first := k("get", "replicasets", "-l", "type=back-end", "-o", "jsonpath={.items[0].metadata.name}")

		k("set", "image", "deployment/myapp-deployment", "app="+testboxImage)
		k("rollout", "status", "deployment/myapp-deployment", "--timeout=2m")
		Expect(k("get", "deployment", "myapp-deployment")).To(MatchRegexp(`(?m)^myapp-deployment\s+3/3\s+3\s+3\s+`))
		Expect(k("rollout", "history", "deployment/myapp-deployment")).To(MatchRegexp(`(?m)^1\s+<none>\n2\s+<none>`))
		// The old ReplicaSet stays, scaled to nothing, for a rollback.
		Expect(k("get", "replicaset", first, "-o", "jsonpath={.spec.replicas} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}")).To(Equal("0 1"))
		Eventually(func() string {
			out, _, _ := kubectlOn(c.Name, "get", "pods", "-l", "type=back-end", "-o", `jsonpath={range .items[*]}{.spec.containers[0].image} {.status.phase}{"\n"}{end}`)
			return out
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(Equal(strings.Repeat(testboxImage+" Running\n", 3)))
		// The rolling update's limits held: the Deployment's events show
		// the ReplicaSets scaled in turns, never the old one at once.
		events := k("get", "events", "--field-selector", "involvedObject.name=myapp-deployment", "-o", `jsonpath={range .items[*]}{.message}{"\n"}{end}`)
		Expect(events).To(ContainSubstring("Scaled down replica set " + first))
		Expect(events).NotTo(ContainSubstring("Scaled down replica set " + first + " from 3 to 0"))
	})

	It("creates the namespace dev and a Deployment in it", func() {
		Expect(k("create", "-f", file("namespace.yml", seedNamespace))).To(Equal("namespace/dev created\n"))
		k("create", "deployment", "myapp-deployment", "--image", "nginx", "--replicas", "2", "--namespace=dev")
		k("rollout", "status", "deployment/myapp-deployment", "--namespace=dev", "--timeout=2m")
		Expect(k("get", "pods", "--namespace=dev")).To(MatchRegexp(`(?m)^myapp-deployment-[a-z0-9]+-[a-z0-9]+\s+1/1\s+Running\s+`))
		// The default namespace's Deployment of the same name is another one.
		Expect(k("get", "deployment", "myapp-deployment", "-o", "jsonpath={.spec.template.spec.containers[0].image}")).To(Equal(testboxImage))
	})

	It("refuses one pod too many in a namespace with a ResourceQuota", func() {
		k("create", "-f", file("quota.yml", seedQuota))
		// Admission counts against the usage the quota controller reports.
		waitFor("jsonpath={.status.used.pods}=2", "resourcequota/dev-quota", "--namespace=dev")
		k("run", "third", "--image", "nginx", "--namespace=dev")
		_, stderr, code := kubectlOn(c.Name, "run", "fourth", "--image", "nginx", "--namespace=dev")
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring(`pods "fourth" is forbidden: exceeded quota: dev-quota, requested: pods=1, used: pods=3, limited: pods=3`))
		Eventually(func() string {
			out, _, _ := kubectlOn(c.Name, "describe", "resourcequota", "dev-quota", "--namespace=dev")
			return out
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(MatchRegexp(`(?m)^pods\s+3\s+3$`))
		// The Deployment cannot grow past it either: its ReplicaSet reports why.
		k("scale", "deployment/myapp-deployment", "--replicas=3", "--namespace=dev")
		Eventually(func() string {
			out, _, _ := kubectlOn(c.Name, "get", "replicasets", "--namespace=dev", "-o", `jsonpath={.items[0].status.conditions[?(@.type=="ReplicaFailure")].message}`)
			return out
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(ContainSubstring("exceeded quota: dev-quota"))
	})

	It("reaches a Service in dev as servicename.namespace.svc.cluster.local", func() {
		k("expose", "deployment", "myapp-deployment", "--port", "80", "--namespace=dev")
		Expect(k("get", "service", "myapp-deployment", "--namespace=dev")).To(MatchRegexp(`(?m)^myapp-deployment\s+ClusterIP\s+10\.96\.\d+\.\d+\s+<none>\s+80/TCP\s+`))
		on := func(args ...string) (string, string, int) { return kubectlOn(c.Name, args...) }
		Expect(fetchThroughPod(on, "http://myapp-deployment.dev.svc.cluster.local/")).To(ContainSubstring("<title>Welcome to nginx!</title>"))
	})
})
