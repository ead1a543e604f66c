package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
	"github.com/kindish/kindish/controlplane/controllers"
	"github.com/kindish/kindish/controlplane/scheduler"
)

var everything = labels.Everything()

// Waits are generous: the tests share a busy machine with other work,
// and only a controller that never gets there should fail them.
const (
	waitTimeout  = 90 * time.Second
	pollInterval = 100 * time.Millisecond
	// stopTimeout bounds how long the components may take to stop.
	stopTimeout = 30 * time.Second
)

// clusterOptions shape the control plane of one test.
type clusterOptions struct {
	// nodes is how many simulated nodes register, named worker-1 on.
	nodes int
	// nodeMonitorPeriod and nodeMonitorGracePeriod are the controller
	// manager's flags; zero keeps upstream's defaults (5s and 40s).
	nodeMonitorPeriod      time.Duration
	nodeMonitorGracePeriod time.Duration
	// cronJobClock, when set, runs the cronjob-controller in a controller
	// manager of its own on this clock (the main one runs the others on
	// the real clock), so that a test can make minutes pass.
	cronJobClock clock.WithTicker
	// policy is how the nodes run pods.
	policy podPolicy
}

// cluster is a control plane and its simulated nodes, for one test.
type cluster struct {
	t      *testing.T
	ctx    context.Context
	env    *apiservertest.Env
	client kubernetes.Interface

	policy   podPolicy
	kubelets map[string]*fakeKubelet
	nodeIPs  map[string]string
	// onPoll runs at every poll of eventually: a test on a fake clock
	// steps it there so that the controllers' delayed retries come due.
	onPoll func()
}

// startCluster starts etcd and the API server (apiservertest), the
// scheduler, the controller manager and the nodes, each component with
// the identity kubeadm gives it, and waits until pods can run. All of it
// stops when the test ends.
func startCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	env := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	c := &cluster{t: t, ctx: ctx, env: env, client: env.Client, policy: o.policy, kubelets: map[string]*fakeKubelet{}, nodeIPs: map[string]string{}}

	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var components sync.WaitGroup
	var errsMu sync.Mutex
	var errs []error
	run := func(name string, f func(context.Context) error) {
		components.Go(func() {
			if err := f(ctx); err != nil {
				errsMu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				errsMu.Unlock()
			}
		})
	}
	t.Cleanup(func() {
		for _, k := range c.kubelets {
			k.Stop()
		}
		cancel()
		stopped := make(chan struct{})
		go func() { components.Wait(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(stopTimeout):
			t.Errorf("the control plane did not stop within %s", stopTimeout)
		}
		errsMu.Lock()
		for _, err := range errs {
			t.Errorf("%v", err)
		}
		errsMu.Unlock()
		if t.Failed() {
			t.Logf("control plane logs:\n%s", logs.tail(256<<10))
		}
	})

	schedulerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:kube-scheduler"))
	sched := scheduler.New(schedulerClient, scheduler.Config{Log: log.With("component", "kube-scheduler")})
	run("kube-scheduler", sched.Run)

	manager := controllers.DefaultOptions()
	manager.RestConfig = env.ConfigFor(t, "system:kube-controller-manager")
	manager.SecurePort = 0
	manager.UseServiceAccountCredentials = true
	manager.AllocateNodeCIDRs = true
	manager.ServiceClusterIPRange = "10.96.0.0/16"
	manager.Log = log.With("component", "kube-controller-manager")
	if o.nodeMonitorPeriod != 0 {
		manager.NodeMonitorPeriod = o.nodeMonitorPeriod
	}
	if o.nodeMonitorGracePeriod != 0 {
		manager.NodeMonitorGracePeriod = o.nodeMonitorGracePeriod
	}
	if o.cronJobClock != nil {
		cronJobManager := manager
		cronJobManager.Controllers = []string{"cronjob-controller"}
		cronJobManager.Clock = o.cronJobClock
		cronJobManager.Log = log.With("component", "kube-controller-manager", "clock", "fake")
		manager.Controllers = []string{"*", "-cronjob-controller"}
		run("kube-controller-manager (cronjob-controller)", func(ctx context.Context) error { return controllers.Run(ctx, cronJobManager) })
	}
	run("kube-controller-manager", func(ctx context.Context) error { return controllers.Run(ctx, manager) })

	for i := 1; i <= o.nodes; i++ {
		c.addNode(fmt.Sprintf("worker-%d", i), fmt.Sprintf("172.18.0.%d", i+1))
	}
	c.eventually("the scheduler's informers synced", func(context.Context) error {
		if !sched.HasSynced() {
			return errors.New("not synced")
		}
		return nil
	})
	c.waitNodesReady()
	return c
}

// addNode starts a simulated node.
func (c *cluster) addNode(name, ip string) *fakeKubelet {
	c.t.Helper()
	client := kubernetes.NewForConfigOrDie(c.env.ConfigFor(c.t, "system:node:"+name, "system:nodes"))
	k, err := startFakeKubelet(c.ctx, client, name, ip, c.policy)
	if err != nil {
		c.t.Fatal(err)
	}
	c.kubelets[name], c.nodeIPs[name] = k, ip
	return k
}

// stopNode makes a node fall silent; restartNode brings it back.
func (c *cluster) stopNode(name string) { c.kubelets[name].Stop() }

func (c *cluster) restartNode(name string) { c.addNode(name, c.nodeIPs[name]) }

// waitNodesReady waits until every running node is Ready, untainted and
// has its pod range.
func (c *cluster) waitNodesReady() {
	c.t.Helper()
	for name := range c.kubelets {
		c.eventually("node "+name+" ready with a pod range", func(ctx context.Context) error {
			node, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if ready := nodeCondition(node, corev1.NodeReady); ready == nil || ready.Status != corev1.ConditionTrue {
				return fmt.Errorf("Ready condition %+v", ready)
			}
			if node.Spec.PodCIDR == "" || len(node.Spec.Taints) > 0 {
				return fmt.Errorf("podCIDR %q, taints %v", node.Spec.PodCIDR, node.Spec.Taints)
			}
			return nil
		})
	}
}

// createNamespace creates a namespace and waits for its default
// ServiceAccount, without which pods are refused, as upstream's e2e
// framework does.
func (c *cluster) createNamespace(name string) {
	c.t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.client.CoreV1().Namespaces().Create(c.ctx, ns, metav1.CreateOptions{}); err != nil {
		c.t.Fatalf("create namespace %s: %v", name, err)
	}
	c.eventually("the default ServiceAccount of "+name, func(ctx context.Context) error {
		_, err := c.client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

// eventually polls check until it returns nil, and fails the test with
// the last error if that takes longer than waitTimeout.
func (c *cluster) eventually(what string, check func(context.Context) error) {
	c.t.Helper()
	c.eventuallyWithin(waitTimeout, what, check)
}

func (c *cluster) eventuallyWithin(timeout time.Duration, what string, check func(context.Context) error) {
	c.t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(c.ctx, pollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		if c.onPoll != nil {
			c.onPoll()
		}
		last = check(ctx)
		return last == nil, nil
	})
	if err != nil {
		c.t.Fatalf("waiting for %s: %v; last: %v", what, err, last)
	}
}

// consistently checks for d that check keeps returning nil: for things
// that must not happen, such as a pod created out of order.
func (c *cluster) consistently(d time.Duration, what string, check func(context.Context) error) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := check(c.ctx); err != nil {
			c.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(pollInterval)
	}
}

// kubectl is the real kubectl against the cluster as its admin, or nil
// when it is not installed (the tests then do what it would do with
// client-go), unless KINDISH_REQUIRE_KUBECTL=1.
func (c *cluster) kubectl() *apiservertest.Kubectl {
	c.t.Helper()
	if _, err := os.Stat(apiservertest.KubectlPath); err != nil {
		if _, err := exec.LookPath("kubectl"); err != nil && os.Getenv(apiservertest.RequireKubectlEnv) != "1" {
			return nil
		}
	}
	return c.env.Kubectl(c.t)
}

func nodeCondition(node *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == t {
			return &node.Status.Conditions[i]
		}
	}
	return nil
}

// podsOf lists a namespace's pods matching selector.
func (c *cluster) podsOf(ctx context.Context, namespace string, selector map[string]string) ([]corev1.Pod, error) {
	list, err := c.client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(selector).String()})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

// syncBuffer collects the components' logs, shown when a test fails.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail is the last n bytes of the logs.
func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = "...\n" + s[len(s)-n:]
	}
	return s
}
