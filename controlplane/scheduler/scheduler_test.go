package scheduler

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

// schedulerUser is the identity kubeadm gives kube-scheduler; using it
// proves the bootstrap RBAC lets the scheduler do its job.
const schedulerUser = "system:kube-scheduler"

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// fakeNode is a Node no kubelet backs, as the bench uses: only what the
// scheduler reads.
func fakeNode(name, cpu string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(cpu),
			corev1.ResourceMemory: resource.MustParse("8Gi"),
			corev1.ResourcePods:   resource.MustParse("110"),
		}},
	}
}

var controlPlaneTaint = corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}

func podRequesting(name, cpu string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "busybox",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
		}}},
	}
}

// createNodes creates the nodes with their status: kindish's API server,
// unlike upstream's, drops the status given on create, so it is written
// after, as a kubelet's status update would.
func createNodes(t *testing.T, client kubernetes.Interface, nodes ...*corev1.Node) {
	t.Helper()
	for _, n := range nodes {
		created, err := client.CoreV1().Nodes().Create(ctxFor(t), n, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create node %s: %v", n.Name, err)
		}
		created.Status = n.Status
		if _, err := client.CoreV1().Nodes().UpdateStatus(ctxFor(t), created, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("set status of node %s: %v", n.Name, err)
		}
	}
}

func createPod(t *testing.T, client kubernetes.Interface, pod *corev1.Pod) {
	t.Helper()
	if _, err := client.CoreV1().Pods(pod.Namespace).Create(ctxFor(t), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
}

// startScheduler runs a Scheduler as system:kube-scheduler until the test
// ends, and returns its metrics registry.
func startScheduler(t *testing.T, env *apiservertest.Env) *prometheus.Registry {
	t.Helper()
	client, err := kubernetes.NewForConfig(env.ConfigFor(t, schedulerUser))
	if err != nil {
		t.Fatal(err)
	}
	registry := prometheus.NewRegistry()
	sched := New(client, Config{Log: quietLog(), Registerer: registry})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sched.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("scheduler: %v", err)
		}
	})
	return registry
}

// waitForNode waits until the pod is bound and returns its node.
func waitForNode(t *testing.T, client kubernetes.Interface, namespace, name string) string {
	t.Helper()
	var node string
	err := wait.PollUntilContextTimeout(ctxFor(t), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node = p.Spec.NodeName
		return node != "", nil
	})
	if err != nil {
		t.Fatalf("pod %s/%s was not bound: %v", namespace, name, err)
	}
	return node
}

// waitForEvent waits for an event about the pod with reason and returns
// its message.
func waitForEvent(t *testing.T, client kubernetes.Interface, pod, reason string) *corev1.Event {
	t.Helper()
	var found *corev1.Event
	selector := fields.Set{"involvedObject.name": pod, "reason": reason}.String()
	err := wait.PollUntilContextTimeout(ctxFor(t), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		events, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: selector})
		if err != nil {
			return false, err
		}
		if len(events.Items) > 0 {
			found = &events.Items[0]
		}
		return found != nil, nil
	})
	if err != nil {
		t.Fatalf("no %s event for pod %s: %v", reason, pod, err)
	}
	return found
}

func TestSchedulerSpreadsABurstOverEqualNodes(t *testing.T) {
	env := apiservertest.Start(t)
	createNodes(t, env.Client, fakeNode("worker-a", "4"), fakeNode("worker-b", "4"), fakeNode("worker-c", "4"))
	registry := startScheduler(t, env)

	const pods = 9
	for i := range pods {
		createPod(t, env.Client, podRequesting(fmt.Sprintf("web-%d", i), "100m"))
	}
	perNode := map[string]int{}
	for i := range pods {
		perNode[waitForNode(t, env.Client, "default", fmt.Sprintf("web-%d", i))]++
	}
	for _, n := range []string{"worker-a", "worker-b", "worker-c"} {
		if perNode[n] != pods/3 {
			t.Fatalf("pods per node %v: want %d on each of three equal nodes", perNode, pods/3)
		}
	}

	ev := waitForEvent(t, env.Client, "web-0", "Scheduled")
	node := waitForNode(t, env.Client, "default", "web-0")
	if want := "Successfully assigned default/web-0 to " + node; ev.Message != want || ev.Type != corev1.EventTypeNormal || ev.Source.Component != "default-scheduler" {
		t.Fatalf("Scheduled event %q (%s from %q), want %q (Normal from default-scheduler)", ev.Message, ev.Type, ev.Source.Component, want)
	}
	// The binding goroutine counts the attempt after the API server
	// answers, which may be after the informer saw the pod bound.
	var got float64
	err := wait.PollUntilContextTimeout(ctxFor(t), 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		got = counterValue(t, registry, "scheduler_schedule_attempts_total", "result", "scheduled")
		return got == pods, nil
	})
	if err != nil {
		t.Fatalf("scheduler_schedule_attempts_total{result=scheduled} = %v, want %d", got, pods)
	}
}

func TestSchedulerReportsAPodThatFitsNowhereAndPlacesItOnANewNode(t *testing.T) {
	env := apiservertest.Start(t)
	createNodes(t, env.Client,
		fakeNode("control-plane", "8", controlPlaneTaint),
		fakeNode("worker-a", "1"), fakeNode("worker-b", "1"))
	startScheduler(t, env)
	createPod(t, env.Client, podRequesting("big", "2"))

	const want = "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu. " +
		"no new claims to deallocate, preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
	ev := waitForEvent(t, env.Client, "big", "FailedScheduling")
	if ev.Message != want || ev.Type != corev1.EventTypeWarning {
		t.Fatalf("FailedScheduling event %q (%s)\nwant %q (Warning)", ev.Message, ev.Type, want)
	}
	var cond *corev1.PodCondition
	err := wait.PollUntilContextTimeout(ctxFor(t), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := env.Client.CoreV1().Pods("default").Get(ctx, "big", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == corev1.PodScheduled {
				cond = &p.Status.Conditions[i]
			}
		}
		return cond != nil, nil
	})
	if err != nil {
		t.Fatalf("no PodScheduled condition: %v", err)
	}
	if cond.Status != corev1.ConditionFalse || cond.Reason != corev1.PodReasonUnschedulable || cond.Message != want {
		t.Fatalf("PodScheduled condition %+v, want False/Unschedulable with the event's message", *cond)
	}

	// A node with room makes the pod schedulable, without waiting for the
	// five-minute flush.
	createNodes(t, env.Client, fakeNode("worker-big", "4"))
	if node := waitForNode(t, env.Client, "default", "big"); node != "worker-big" {
		t.Fatalf("pod bound to %s, want worker-big", node)
	}
	p, err := env.Client.CoreV1().Pods("default").Get(ctxFor(t), "big", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
			t.Fatalf("PodScheduled after binding: %+v, want True", c)
		}
	}
}

func TestSchedulerKeepsPodsOffTheControlPlaneUnlessTheyTolerateIt(t *testing.T) {
	env := apiservertest.Start(t)
	createNodes(t, env.Client, fakeNode("control-plane", "8", controlPlaneTaint), fakeNode("worker", "1"))
	startScheduler(t, env)

	for i := range 4 {
		createPod(t, env.Client, podRequesting(fmt.Sprintf("plain-%d", i), "100m"))
	}
	tolerant := podRequesting("tolerant", "2")
	tolerant.Spec.Tolerations = []corev1.Toleration{{Key: controlPlaneTaint.Key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	createPod(t, env.Client, tolerant)

	for i := range 4 {
		if node := waitForNode(t, env.Client, "default", fmt.Sprintf("plain-%d", i)); node != "worker" {
			t.Fatalf("plain-%d bound to %s: the control-plane taint was not respected", i, node)
		}
	}
	if node := waitForNode(t, env.Client, "default", "tolerant"); node != "control-plane" {
		t.Fatalf("tolerant pod bound to %s, want control-plane (the only node with room)", node)
	}
}

// kubeconfigFor writes a kubeconfig with cfg's server and credentials.
func kubeconfigFor(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["kindish"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData, TLSServerName: cfg.ServerName}
	kc.AuthInfos["scheduler"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["scheduler"] = &clientcmdapi.Context{Cluster: "kindish", AuthInfo: "scheduler"}
	kc.CurrentContext = "scheduler"
	path := filepath.Join(t.TempDir(), "scheduler.conf")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCopy runs kube-scheduler as Run does, on a port of its own; it
// returns the address it serves and a function that stops it and returns
// Run's error.
func runCopy(t *testing.T, kubeconfig string) (addr string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, Options{Kubeconfig: kubeconfig, LeaderElect: true, Log: quietLog()}, ln)
	}()
	stopped := false
	var result error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			result = <-done
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return ln.Addr().String(), stop
}

func leaseHolder(ctx context.Context, client kubernetes.Interface) string {
	lease, err := client.CoordinationV1().Leases("kube-system").Get(ctx, "kube-scheduler", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

func TestRunTakesTheLeaseServesHealthAndHandsOver(t *testing.T) {
	env := apiservertest.Start(t)
	kubeconfig := kubeconfigFor(t, env.ConfigFor(t, schedulerUser))
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}

	addr, stopFirst := runCopy(t, kubeconfig)
	var first string
	err = wait.PollUntilContextTimeout(ctxFor(t), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		first = leaseHolder(ctx, env.Client)
		return first != "", nil
	})
	if err != nil {
		t.Fatalf("no copy took the kube-system/kube-scheduler Lease: %v", err)
	}
	if !strings.HasPrefix(first, hostname+"_") || len(first) != len(hostname)+1+36 {
		t.Fatalf("holderIdentity %q, want <hostname>_<uuid>", first)
	}

	// The leader schedules.
	createNodes(t, env.Client, fakeNode("worker", "2"))
	createPod(t, env.Client, podRequesting("web", "100m"))
	waitForNode(t, env.Client, "default", "web")

	// kubeadm's probes call /healthz over HTTPS without credentials.
	https := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for path, want := range map[string]string{
		"/healthz":         "ok",
		"/livez":           "ok",
		"/readyz?verbose":  "[+]ping ok\n[+]leaderElection ok\n[+]sched-handler-sync ok\nreadyz check passed\n",
		"/healthz?verbose": "[+]ping ok\n[+]leaderElection ok\nhealthz check passed\n",
	} {
		body, code := get(t, https, "https://"+addr+path)
		if code != http.StatusOK || body != want {
			t.Errorf("GET %s: %d %q, want 200 %q", path, code, body, want)
		}
	}
	wantMetrics := []string{`scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"} 1`, `scheduler_pending_pods{queue="active"} 0`, "scheduler_pod_scheduling_sli_duration_seconds_bucket"}
	var metricsBody string
	err = wait.PollUntilContextTimeout(ctxFor(t), 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		var code int
		metricsBody, code = get(t, https, "https://"+addr+"/metrics")
		for _, want := range wantMetrics {
			if code != http.StatusOK || !strings.Contains(metricsBody, want) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Errorf("/metrics lacks one of %q:\n%s", wantMetrics, metricsBody)
	}

	// A second copy waits; when the leader stops it releases the Lease
	// and the second takes over.
	_, stopSecond := runCopy(t, kubeconfig)
	time.Sleep(3 * time.Second)
	if holder := leaseHolder(ctxFor(t), env.Client); holder != first {
		t.Fatalf("lease taken from the running leader: %q, want %q", holder, first)
	}
	if err := stopFirst(); err != nil {
		t.Fatalf("leader stopped with %v", err)
	}
	err = wait.PollUntilContextTimeout(ctxFor(t), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		h := leaseHolder(ctx, env.Client)
		return h != "" && h != first, nil
	})
	if err != nil {
		t.Fatalf("the second copy did not take over: %v", err)
	}
	createPod(t, env.Client, podRequesting("after-handover", "100m"))
	waitForNode(t, env.Client, "default", "after-handover")
	if err := stopSecond(); err != nil {
		t.Fatalf("second copy stopped with %v", err)
	}
}

func get(t *testing.T, c *http.Client, url string) (string, int) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body), resp.StatusCode
}

// counterValue reads one labelled counter from the registry.
func counterValue(t *testing.T, registry *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
