package main

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	// startupPods are created per run, spread by the scheduler over the
	// cluster's two workers: 20 s of the stream.
	startupPods = 40
	// startupRate is how many pods a second are created: a steady stream
	// of one pod a second per worker, as upstream's SLO holds for a
	// cluster inside its load envelope. Starting a pod costs this
	// machine about half a CPU-second, three quarters of it in runc, the
	// shims and the CNI plugins, so its two cores, shared by the control
	// plane and both workers, start at most 3–4 pods a second; a faster
	// stream measures a queue that grows without end, not the startup.
	// burstRound measures that ceiling.
	startupRate = 2
	// burstPods are created at once to measure how many pods a second the
	// cluster can start.
	burstPods = 20
	// startupImage is on every node from the start: its pull is not what
	// is measured.
	startupImage = "kindish/pause:v0.1.0"
)

// podStartup measures pod startup latency as upstream's SLO defines it,
// from the pod's creation to the watch reporting it Running, for pods
// whose image is present, on a 1 control-plane + 2 worker cluster.
func (b *bench) podStartup(ctx context.Context) error {
	name := benchCluster + "-pods"
	// The load figure loads testbox.
	if err := b.workload.wait(ctx); err != nil {
		return err
	}
	kubeconfig, remove, err := b.workloadCluster(ctx, name)
	if err != nil {
		return err
	}
	defer remove()
	if err := b.imageLoad(ctx, name); err != nil {
		return err
	}

	rest, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	rest.QPS, rest.Burst = 100, 200
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return err
	}
	var p50s, p99s, burst []float64
	previous := ""
	for run := range b.runs {
		namespace := "startup-" + strconv.Itoa(run)
		lat, err := startupRound(ctx, client, name, previous, namespace, startupPods, startupRate)
		if err != nil {
			return fmt.Errorf("run %d: %w", run+1, err)
		}
		previous = namespace
		p50s = append(p50s, ms(percentile(lat, 0.50)))
		p99s = append(p99s, ms(percentile(lat, 0.99)))
	}
	for run := range b.runs {
		// With every pod created at once, the last one's latency is the
		// time the cluster took to start them all.
		namespace := "burst-" + strconv.Itoa(run)
		lat, err := startupRound(ctx, client, name, previous, namespace, burstPods, 0)
		if err != nil {
			return fmt.Errorf("burst run %d: %w", run+1, err)
		}
		previous = namespace
		burst = append(burst, burstPods/slices.Max(lat).Seconds())
	}
	what := fmt.Sprintf("pod startup %%s (%d pods at %d/s on 2 workers, image present)", startupPods, startupRate)
	b.add(Figure{Name: fmt.Sprintf(what, "p50"), Unit: "ms", Samples: p50s, Target: "-"})
	b.add(Figure{Name: fmt.Sprintf(what, "p99"), Unit: "ms", Samples: p99s, Target: "≤ 1000 ms", Reference: "upstream SLO 5 s"})
	b.add(Figure{Name: fmt.Sprintf("pods started/s (%d created at once on 2 workers)", burstPods), Unit: "/s", Samples: burst, Target: "-"})
	return nil
}

// startupRound creates n pods, rate a second (all at once when rate is 0),
// in a namespace of their own under a watch opened beforehand, and returns
// each pod's creation-to-Running latency. It first waits until the
// previous round's pods are gone from the API and from the nodes, so that
// no round pays for another's teardown; its own pods and namespace are
// deleted on return, and the last round's are not waited for: the cluster
// goes next.
func startupRound(ctx context.Context, client kubernetes.Interface, cluster, previous, namespace string, n, rate int) ([]time.Duration, error) {
	if previous != "" {
		if err := waitPodsGone(ctx, client, cluster, previous); err != nil {
			return nil, err
		}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", namespace, err)
	}
	defer deleteRound(context.WithoutCancel(ctx), client, namespace)
	// Pods need the namespace's default ServiceAccount to be admitted.
	for {
		if _, err := client.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}

	pods := client.CoreV1().Pods(namespace)
	w, err := pods.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("watch pods: %w", err)
	}
	defer w.Stop()
	created := make([]time.Time, n)
	running := make([]time.Time, n)
	watched := make(chan error, 1)
	go func() { watched <- recordRunning(w, running) }()

	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		tick = t.C
	}
	for i := range n {
		created[i] = time.Now()
		if _, err := pods.Create(ctx, startupPod(i), metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("create pod %d: %w", i, err)
		}
		if tick != nil {
			<-tick
		}
	}
	select {
	case err := <-watched:
		if err != nil {
			return nil, err
		}
	case <-time.After(2 * time.Minute):
		return nil, fmt.Errorf("pods not Running 2 minutes after the last create")
	}
	lat := make([]time.Duration, n)
	for i := range lat {
		lat[i] = running[i].Sub(created[i])
	}
	return lat, nil
}

// deleteRound deletes a round's pods, then its namespace. Deleting the
// pods first spares the wait for them the namespace controller's delay
// (five seconds, as upstream's) before it empties a deleted namespace.
func deleteRound(ctx context.Context, client kubernetes.Interface, namespace string) {
	client.CoreV1().Pods(namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	client.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{})
}

// waitPodsGone waits, for up to two minutes, until a round's pods are
// gone from the API and from the workers: a kubelet removes a pod's log
// directory last, after its containers and sandboxes. Each worker is
// watched by one docker exec whose shell polls with builtins: a docker
// exec every half second per worker costs the nodes CPU that the teardown
// being awaited needs.
func waitPodsGone(ctx context.Context, client kubernetes.Interface, cluster, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	for _, node := range []string{cluster + "-worker", cluster + "-worker2"} {
		g.Go(func() error {
			script := `set -- /var/log/pods/` + namespace + `_*; while [ -e "$1" ]; do sleep 0.2; set -- /var/log/pods/` + namespace + `_*; done`
			if out, err := exec.CommandContext(gctx, "docker", "exec", node, "sh", "-c", script).CombinedOutput(); err != nil {
				return fmt.Errorf("wait for the pods of %s to leave %s: %w\n%s", namespace, node, err, out)
			}
			return nil
		})
	}
	g.Go(func() error {
		return poll(gctx, 2*time.Minute, func() (bool, error) {
			list, err := client.CoreV1().Pods(namespace).List(gctx, metav1.ListOptions{Limit: 1})
			return err == nil && len(list.Items) == 0, nil
		})
	})
	if err := g.Wait(); err != nil {
		return fmt.Errorf("wait for the pods of namespace %s to go: %w", namespace, err)
	}
	return nil
}

func startupPod(i int) *corev1.Pod {
	grace := int64(0)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "startup-" + strconv.Itoa(i)},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name: "pause", Image: startupImage, ImagePullPolicy: corev1.PullIfNotPresent,
			}},
		},
	}
}

// recordRunning stamps each pod's first Running event, until every pod
// has one.
func recordRunning(w watch.Interface, running []time.Time) error {
	seen := 0
	for ev := range w.ResultChan() {
		at := time.Now()
		pod, ok := ev.Object.(*corev1.Pod)
		if !ok || pod.Status.Phase != corev1.PodRunning {
			continue
		}
		i, err := strconv.Atoi(pod.Name[len("startup-"):])
		if err != nil || i < 0 || i >= len(running) {
			return fmt.Errorf("watch: unexpected pod %s", pod.Name)
		}
		if running[i].IsZero() {
			running[i] = at
			seen++
		}
		if seen == len(running) {
			return nil
		}
	}
	return fmt.Errorf("watch: ended with %d of %d pods Running", seen, len(running))
}
