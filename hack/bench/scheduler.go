package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/kindish/kindish/cluster/kubeconfig"
	"github.com/kindish/kindish/cluster/pki"
)

// The scheduler workload, upstream scheduler_perf's SchedulingBasic at its
// 1000-node size: simulated nodes (Node objects, no kubelets) and small
// pods that all fit.
const (
	schedNodes    = 1000
	schedPods     = 10000
	schedReplicas = 1000
	// schedWorkers create the nodes and pods; creation is not measured.
	schedWorkers = 16
	// bindTimeout bounds each wait for every pod to be bound: at the
	// scheduler's client limit of 50 requests/s, 10,000 pods take minutes.
	bindTimeout = 30 * time.Minute
	// deploymentNamespace holds the Deployment; the pending pods are in
	// benchNamespace.
	deploymentNamespace = "bench-deployment"
)

// schedulerBench measures kindish's kube-scheduler, started from the node
// binary on fresh control planes each run: its throughput on 10,000
// pending pods, the time a 1,000-replica Deployment takes to be bound
// (kube-controller-manager creating the pods), and its memory.
func (b *bench) schedulerBench(ctx context.Context) error {
	var rounds []schedRound
	for run := range b.runs {
		r, err := runSchedRound(ctx, b.nodeBinary)
		if err != nil {
			return fmt.Errorf("scheduler run %d: %w", run+1, err)
		}
		rounds = append(rounds, r)
	}
	b.add(Figure{
		Name: fmt.Sprintf("scheduler throughput, %d pending pods on %d nodes, first to last bind", schedPods, schedNodes),
		Unit: "pods/s", Samples: each(rounds, func(r schedRound) float64 { return r.podsPerSecond }),
		Target: "≥ 1000 pods/s", Reference: "upstream scheduler_perf 680–1100; default client limits 50–100",
	})
	b.add(Figure{
		Name: fmt.Sprintf("scheduler process start to first bind, %d pending pods", schedPods),
		Unit: "s", Samples: each(rounds, func(r schedRound) float64 { return r.firstBind.Seconds() }), Target: "-",
	})
	b.add(Figure{
		Name: fmt.Sprintf("Deployment of %d replicas on %d nodes, create to all pods created", schedReplicas, schedNodes),
		Unit: "s", Samples: each(rounds, func(r schedRound) float64 { return r.deploymentCreated.Seconds() }), Target: "-",
	})
	b.add(Figure{
		Name: fmt.Sprintf("Deployment of %d replicas on %d nodes, create to all pods bound", schedReplicas, schedNodes),
		Unit: "s", Samples: each(rounds, func(r schedRound) float64 { return r.deploymentBound.Seconds() }), Target: "-",
	})
	after := fmt.Sprintf("after binding %d pods on %d nodes", schedPods, schedNodes)
	b.add(Figure{Name: "kube-scheduler RSS, " + after, Unit: "MB", Samples: each(rounds, func(r schedRound) float64 { return r.memory.rss }), Target: "-"})
	b.add(Figure{Name: "kube-scheduler RSS, anonymous part, " + after, Unit: "MB", Samples: each(rounds, func(r schedRound) float64 { return r.memory.anon }), Target: "-"})
	return nil
}

// schedRound is one run's measurements.
type schedRound struct {
	// podsPerSecond is the pending pods bound per second between the
	// first bind and the last, as a watch saw them; firstBind, from the
	// process's start (its informers listing 10,000 pods), is kept apart.
	podsPerSecond float64
	firstBind     time.Duration
	// The Deployment's times run from its create request.
	deploymentCreated, deploymentBound time.Duration
	memory                             usage
}

// runSchedRound measures the scheduler on pending pods, then the
// Deployment, each on a control plane of its own with the simulated
// nodes: the Deployment is bound on empty nodes, as a fresh cluster's,
// without deleting the 10,000 pending pods first (11 s a round).
func runSchedRound(ctx context.Context, nodeBinary string) (r schedRound, err error) {
	if err := r.bindPending(ctx, nodeBinary); err != nil {
		return r, err
	}
	return r, r.bindDeployment(ctx, nodeBinary)
}

// simulatedCluster starts a control plane and creates the simulated
// nodes in it. The caller stops the control plane.
func simulatedCluster(ctx context.Context, nodeBinary string) (*controlPlane, *kubernetes.Clientset, error) {
	cp, err := startControlPlane(ctx, nodeBinary)
	if err != nil {
		return nil, nil, fmt.Errorf("start the control plane: %w", err)
	}
	client, err := benchClient(cp)
	if err == nil {
		err = forEachIndex(ctx, schedNodes, schedWorkers, func(ctx context.Context, i int) error {
			node := simulatedNode(i)
			if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("create node %s: %w", node.Name, err)
			}
			return nil
		})
	}
	if err != nil {
		cp.stop()
		return nil, nil, err
	}
	return cp, client, nil
}

// bindPending creates the pending pods with no scheduler running, so that
// creation is not what is measured, then starts kube-scheduler and waits
// for every pod to be bound.
func (r *schedRound) bindPending(ctx context.Context, nodeBinary string) error {
	cp, client, err := simulatedCluster(ctx, nodeBinary)
	if err != nil {
		return err
	}
	defer cp.stop()
	pods := client.CoreV1().Pods(benchNamespace)
	binds, err := watchBinds(ctx, client, benchNamespace, schedPods)
	if err != nil {
		return err
	}
	defer binds.stop()
	if err := forEachIndex(ctx, schedPods, schedWorkers, func(ctx context.Context, i int) error {
		if _, err := pods.Create(ctx, benchPod(i), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create pod %s: %w", podName(i), err)
		}
		return nil
	}); err != nil {
		return err
	}

	started := time.Now()
	sched, err := startScheduler(ctx, cp, nodeBinary)
	if err != nil {
		return err
	}
	defer sched.stop()
	seen, err := binds.wait(sched)
	if err != nil {
		return fmt.Errorf("%d pending pods: %w", schedPods, err)
	}
	// n binds are n−1 intervals.
	r.podsPerSecond = float64(schedPods-1) / seen.lastBound.Sub(seen.firstBound).Seconds()
	r.firstBind = seen.firstBound.Sub(started)
	r.memory, err = sched.memory()
	return err
}

// bindDeployment starts kube-scheduler and kube-controller-manager and
// times a Deployment from its create to the last of its pods created, and
// bound.
func (r *schedRound) bindDeployment(ctx context.Context, nodeBinary string) error {
	cp, client, err := simulatedCluster(ctx, nodeBinary)
	if err != nil {
		return err
	}
	defer cp.stop()
	binds, err := watchBinds(ctx, client, deploymentNamespace, schedReplicas)
	if err != nil {
		return err
	}
	defer binds.stop()
	sched, err := startScheduler(ctx, cp, nodeBinary)
	if err != nil {
		return err
	}
	defer sched.stop()
	manager, err := startControllerManager(ctx, cp, nodeBinary, client)
	if err != nil {
		return err
	}
	defer manager.stop()
	start := time.Now()
	if _, err := client.AppsV1().Deployments(deploymentNamespace).Create(ctx, benchDeployment(), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create deployment: %w", err)
	}
	seen, err := binds.wait(sched, manager)
	if err != nil {
		return fmt.Errorf("deployment of %d replicas: %w", schedReplicas, err)
	}
	r.deploymentCreated, r.deploymentBound = seen.lastCreated.Sub(start), seen.lastBound.Sub(start)
	return nil
}

// benchClient is the admin's client, never throttled and speaking
// protobuf: on two cores the bench's own CPU is the components' loss.
func benchClient(cp *controlPlane) (*kubernetes.Clientset, error) {
	cfg := rest.CopyConfig(cp.admin)
	cfg.QPS = -1
	cfg.ContentType = contentProtobuf
	cfg.AcceptContentTypes = contentProtobuf + "," + contentJSON
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	return client, nil
}

// bindWatch follows a namespace's pods from the moment it was empty until
// want of them have been bound. Events are read from the start, also
// while the pods are being created, so that the API server never holds
// thousands of them for a slow watcher.
type bindWatch struct {
	w    watch.Interface
	done chan bindResult
}

type bindResult struct {
	times bindTimes
	err   error
}

// watchBinds creates namespace unless it exists, checks that it holds no
// pods and starts following its pods.
func watchBinds(ctx context.Context, client kubernetes.Interface, namespace string, want int) (*bindWatch, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create namespace %s: %w", namespace, err)
	}
	pods := client.CoreV1().Pods(namespace)
	empty, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods in %s: %w", namespace, err)
	}
	if n := len(empty.Items); n != 0 {
		return nil, fmt.Errorf("namespace %s holds %d pods before the creates", namespace, n)
	}
	w, err := pods.Watch(ctx, metav1.ListOptions{ResourceVersion: empty.ResourceVersion})
	if err != nil {
		return nil, fmt.Errorf("watch pods in %s: %w", namespace, err)
	}
	bw := &bindWatch{w: w, done: make(chan bindResult, 1)}
	go func() {
		t, err := recordBinds(w, want)
		bw.done <- bindResult{t, err}
	}()
	return bw, nil
}

// wait returns the times once every pod is bound, or an error when
// bindTimeout passes or one of the components exits first.
func (bw *bindWatch) wait(components ...*process) (bindTimes, error) {
	stop := make(chan struct{})
	defer close(stop)
	exited := make(chan *process, len(components))
	for _, p := range components {
		go func() {
			select {
			case <-p.done:
				exited <- p
			case <-stop:
			}
		}()
	}
	timeout := time.NewTimer(bindTimeout)
	defer timeout.Stop()
	select {
	case r := <-bw.done:
		return r.times, r.err
	case <-timeout.C:
		bw.w.Stop()
		r := <-bw.done
		return r.times, fmt.Errorf("after %v: %w", bindTimeout, r.err)
	case p := <-exited:
		return bindTimes{}, p.exited()
	}
}

func (bw *bindWatch) stop() { bw.w.Stop() }

// startScheduler runs kube-scheduler as kubeadm's manifest does, but alone
// (no leader election, which would only delay its start) and serving on a
// free port, and waits for its /readyz: its informers have synced.
func startScheduler(ctx context.Context, cp *controlPlane, nodeBinary string) (*process, error) {
	conf, err := componentKubeconfig(cp, pki.SchedulerUser, "scheduler.conf")
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	p, err := cp.start(nodeBinary, "kube-scheduler",
		"--kubeconfig", conf,
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(ports[0]),
		"--leader-elect=false",
	)
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx, selfSigned, loopbackURL("https", ports[0])+"/readyz"); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startControllerManager runs kube-controller-manager with kubeadm's
// manifest's controllers and credentials, and waits until its controllers
// act: the ServiceAccount controller has given the Deployment's namespace
// its default account.
func startControllerManager(ctx context.Context, cp *controlPlane, nodeBinary string, client kubernetes.Interface) (*process, error) {
	conf, err := componentKubeconfig(cp, pki.ControllerManagerUser, "controller-manager.conf")
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	p, err := cp.start(nodeBinary, "kube-controller-manager",
		"--kubeconfig", conf,
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(ports[0]),
		"--leader-elect=false",
		"--controllers", "*,bootstrapsigner,tokencleaner",
		"--use-service-account-credentials=true",
		"--root-ca-file", cp.path(pki.CACertPath),
		"--service-cluster-ip-range", "10.96.0.0/16",
		// kind's 10.244.0.0/16 has ranges for 256 nodes, not 1,000;
		// simulated nodes need no pod range.
		"--allocate-node-cidrs=false",
		// No kubelet renews the simulated nodes' Leases: the node
		// lifecycle controller must not mark them unreachable meanwhile.
		"--node-monitor-grace-period", "1h",
		"--node-startup-grace-period", "1h",
	)
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx, selfSigned, loopbackURL("https", ports[0])+"/healthz"); err == nil {
		err = waitDefaultServiceAccount(ctx, client, p)
	}
	if err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// selfSigned probes the components' endpoints, whose certificates are
// self-signed, without verifying them, as kubeadm's probes do.
var selfSigned = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}}}

func waitDefaultServiceAccount(ctx context.Context, client kubernetes.Interface, manager *process) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		_, err := client.CoreV1().ServiceAccounts(deploymentNamespace).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("get serviceaccount %s/default: %w", deploymentNamespace, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("serviceaccount %s/default: %w:\n%s", deploymentNamespace, ctx.Err(), manager.logTail())
		case <-manager.done:
			return manager.exited()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// componentKubeconfig writes a kubeconfig named name for user, with the
// client certificate the control plane's PKI issued it.
func componentKubeconfig(cp *controlPlane, user, name string) (string, error) {
	certPEM, keyPEM, err := cp.pki.Client(user)
	if err != nil {
		return "", fmt.Errorf("kubeconfig %s: %w", name, err)
	}
	data, err := kubeconfig.Bytes(kubeconfig.Build(benchCluster, cp.admin.Host, cp.pki.CACert(), certPEM, keyPEM))
	if err != nil {
		return "", fmt.Errorf("kubeconfig %s: %w", name, err)
	}
	path := filepath.Join(cp.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("kubeconfig %s: %w", name, err)
	}
	return path, nil
}

// simulatedNode is a Node as a kubelet would register it, Ready, with room
// for 110 pods and no taints; no kubelet ever runs it.
func simulatedNode(i int) *corev1.Node {
	name := fmt.Sprintf("sim-%04d", i)
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	now := metav1.Now()
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			// A kubelet's labels, the beta ones included: without them
			// the node lifecycle controller patches every node while
			// the Deployment is measured.
			Labels: map[string]string{
				corev1.LabelHostname:      name,
				corev1.LabelOSStable:      "linux",
				corev1.LabelArchStable:    "amd64",
				"beta.kubernetes.io/os":   "linux",
				"beta.kubernetes.io/arch": "amd64",
			},
		},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity,
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				LastHeartbeatTime: now, LastTransitionTime: now,
			}},
		},
	}
}

// benchDeployment's pods are benchPod's: the pause image, small requests.
func benchDeployment() *appsv1.Deployment {
	labels := map[string]string{"app": "bench-deployment"}
	pod := benchPod(0)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "bench", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(schedReplicas)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       pod.Spec,
			},
		},
	}
}

// bindTimes are when a watch saw the last of the pods created, and the
// first and the last of them bound.
type bindTimes struct{ lastCreated, firstBound, lastBound time.Time }

// recordBinds reads pod events until want distinct pods have a node, and
// returns when it saw the want-th pod created and the first and the
// want-th bound.
func recordBinds(w watch.Interface, want int) (bindTimes, error) {
	var t bindTimes
	created := map[string]bool{}
	bound := map[string]bool{}
	for ev := range w.ResultChan() {
		at := time.Now()
		switch ev.Type {
		case watch.Added, watch.Modified:
		case watch.Error:
			return t, fmt.Errorf("watch pods: %w", apierrors.FromObject(ev.Object))
		default:
			continue
		}
		pod, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return t, fmt.Errorf("watch pods: %s event of a %T", ev.Type, ev.Object)
		}
		if !created[pod.Name] {
			created[pod.Name] = true
			if len(created) == want {
				t.lastCreated = at
			}
		}
		if pod.Spec.NodeName == "" || bound[pod.Name] {
			continue
		}
		bound[pod.Name] = true
		switch len(bound) {
		case 1:
			t.firstBound = at
		case want:
			t.lastBound = at
			return t, nil
		}
	}
	return t, fmt.Errorf("watch pods: ended with %d of %d pods created, %d bound", len(created), want, len(bound))
}
