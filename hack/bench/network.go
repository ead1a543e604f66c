package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	netCluster   = "bench-net"
	netNamespace = "netbench"
	// netServices are created one after the other in each run.
	netServices = 20
	// netLookups are made in a row, per name and run.
	netLookups = 1000
	// testboxRef is on every node from the start (--preload-image).
	testboxRef = "kindish/testbox:v0.1.0"
)

// The client polls from one worker, the backends answer on the other: a
// Service's traffic crosses nodes, as most of a real cluster's does.
var (
	netClientNode  = netCluster + "-worker"
	netBackendNode = netCluster + "-worker2"
)

// network measures, on a 1 control-plane + 2 worker cluster, how long a
// new Service takes to carry traffic and how long a pod's DNS lookups
// take. Both are measured in a pod by testbox, so that kubectl exec's
// delay (≈ 0.2 s) is not in the figures.
func (b *bench) network(ctx context.Context) error {
	// A testbox image from this tree: wait-for and dns-lookup --count are
	// what the figures come from.
	if err := b.workload.wait(ctx); err != nil {
		return err
	}
	kubeconfig, remove, err := b.workloadCluster(ctx, netCluster, "--preload-image", testboxRef)
	if err != nil {
		return err
	}
	defer remove()

	rest, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return err
	}
	if err := startNetWorkloads(ctx, client); err != nil {
		return err
	}
	inClient := podExecer{kubeconfig: kubeconfig, namespace: netNamespace, pod: "client"}

	var progP50, progP99 []float64
	lookups := []*lookupFigures{
		{name: "kubernetes.default.svc.cluster.local."}, // absolute: one query
		{name: "kubernetes.default"},                    // through the search path, as programs write it
	}
	for run := range b.runs {
		lat, err := programmingRound(ctx, client, inClient, run)
		if err != nil {
			return fmt.Errorf("run %d: %w", run+1, err)
		}
		progP50 = append(progP50, ms(percentile(lat, 0.50)))
		progP99 = append(progP99, ms(percentile(lat, 0.99)))
		for _, l := range lookups {
			p50, p99, err := lookupLatency(ctx, inClient, l.name)
			if err != nil {
				return fmt.Errorf("run %d: %w", run+1, err)
			}
			l.p50s, l.p99s = append(l.p50s, ms(p50)), append(l.p99s, ms(p99))
		}
	}
	prog := fmt.Sprintf("Service programming %%s (%d Services, creation → first HTTP reply from a pod on the other worker)", netServices)
	b.add(Figure{Name: fmt.Sprintf(prog, "p50"), Unit: "ms", Samples: progP50, Target: "-"})
	b.add(Figure{Name: fmt.Sprintf(prog, "p99"), Unit: "ms", Samples: progP99, Target: "≤ 1000 ms", Reference: "upstream load test allows 30 s"})
	for _, l := range lookups {
		what := fmt.Sprintf("DNS lookup %%s (%s, %d in a row from a pod)", l.name, netLookups)
		b.add(Figure{Name: fmt.Sprintf(what, "p50"), Unit: "ms", Samples: l.p50s, Target: "-", Reference: "upstream threshold 20 ms"})
		b.add(Figure{Name: fmt.Sprintf(what, "p99"), Unit: "ms", Samples: l.p99s, Target: "≤ 10 ms", Reference: "upstream threshold 100 ms"})
	}
	return nil
}

// lookupFigures are one name's lookup latencies, a p50 and a p99 per run.
type lookupFigures struct {
	name       string
	p50s, p99s []float64
}

// startNetWorkloads starts two testbox servers on the backend worker and
// a testbox client on the other, and waits until all are Ready: the
// Services made later select servers that already answer, so what is
// measured is the network's programming, not a pod's start.
func startNetWorkloads(ctx context.Context, client kubernetes.Interface) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: netNamespace}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", netNamespace, err)
	}
	// Pods need the namespace's default ServiceAccount to be admitted.
	if err := poll(ctx, time.Minute, func() (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(netNamespace).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		return fmt.Errorf("namespace %s has no default ServiceAccount: %w", netNamespace, err)
	}

	labels := map[string]string{"app": "backend"}
	replicas := int32(2)
	backend := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "backend"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: testboxPodSpec(netBackendNode, &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
					PeriodSeconds: 1,
				}),
			},
		},
	}
	if _, err := client.AppsV1().Deployments(netNamespace).Create(ctx, backend, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create deployment backend: %w", err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client"}, Spec: testboxPodSpec(netClientNode, nil)}
	if _, err := client.CoreV1().Pods(netNamespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create pod client: %w", err)
	}

	err := poll(ctx, 2*time.Minute, func() (bool, error) {
		d, err := client.AppsV1().Deployments(netNamespace).Get(ctx, "backend", metav1.GetOptions{})
		if err != nil || d.Status.ReadyReplicas < replicas {
			return false, nil
		}
		p, err := client.CoreV1().Pods(netNamespace).Get(ctx, "client", metav1.GetOptions{})
		return err == nil && podReady(p), nil
	})
	if err != nil {
		return fmt.Errorf("backend and client not Ready: %w", err)
	}
	return nil
}

// testboxPodSpec runs testbox serve on node.
func testboxPodSpec(node string, readiness *corev1.Probe) corev1.PodSpec {
	grace := int64(1)
	return corev1.PodSpec{
		NodeSelector:                  map[string]string{corev1.LabelHostname: node},
		TerminationGracePeriodSeconds: &grace,
		Containers: []corev1.Container{{
			Name: "testbox", Image: testboxRef, ImagePullPolicy: corev1.PullIfNotPresent,
			Args:           []string{"serve"},
			Ports:          []corev1.ContainerPort{{ContainerPort: 8080}},
			ReadinessProbe: readiness,
		}},
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// programmingRound creates netServices Services, one at a time, each with
// the client already polling its ClusterIP, and returns for each the time
// from its create request to the client's first HTTP reply through it.
// The ClusterIPs are chosen here, so that the poll can begin first; until
// kube-proxy programs one, it refuses connections at once.
func programmingRound(ctx context.Context, client kubernetes.Interface, inClient podExecer, run int) ([]time.Duration, error) {
	var lat []time.Duration
	for i := range netServices {
		name := fmt.Sprintf("svc-%d-%d", run, i)
		// One /24 per run; the few addresses the API server allocated at
		// random are unlikely to be there, and a clash fails the create.
		ip := fmt.Sprintf("10.96.%d.%d", 200+run, 10+i)
		d, err := programmingLatency(ctx, client, inClient, name, ip)
		if err != nil {
			return nil, fmt.Errorf("service %s at %s: %w", name, ip, err)
		}
		lat = append(lat, d)
	}
	return lat, nil
}

func programmingLatency(ctx context.Context, client kubernetes.Interface, inClient podExecer, name, ip string) (time.Duration, error) {
	wait, err := inClient.start(ctx, "wait-for", ip+":80", "--protocol", "http", "--request", "/hostname",
		"--interval", "5ms", "--try-timeout", "500ms", "--timeout", "30s")
	if err != nil {
		return 0, err
	}
	defer wait.close()
	if _, err := wait.line(); err != nil { // "waiting for ADDR": the tries have begun
		return 0, err
	}

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			ClusterIP: ip,
			Selector:  map[string]string{"app": "backend"},
			Ports:     []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	created := time.Now()
	if _, err := client.CoreV1().Services(netNamespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return 0, fmt.Errorf("create: %w", err)
	}
	report, err := wait.line()
	if err != nil {
		return 0, err
	}
	fields := keyValues(report)
	// The pod's clock is the host's: nodes are containers on one kernel.
	reached, err := time.Parse(time.RFC3339Nano, fields["at"])
	if err != nil {
		return 0, fmt.Errorf("wait-for reported %q: %w", report, err)
	}
	return reached.Sub(created), nil
}

// lookupLatency resolves name netLookups times in a row in the client pod
// and returns testbox's p50 and p99.
func lookupLatency(ctx context.Context, inClient podExecer, name string) (p50, p99 time.Duration, err error) {
	out, err := inClient.run(ctx, "dns-lookup", name, "--count", fmt.Sprint(netLookups))
	if err != nil {
		return 0, 0, fmt.Errorf("look up %s: %w", name, err)
	}
	fields := keyValues(out)
	if p50, err = time.ParseDuration(fields["p50"]); err == nil {
		p99, err = time.ParseDuration(fields["p99"])
	}
	if err != nil {
		return 0, 0, fmt.Errorf("dns-lookup reported %q: %w", out, err)
	}
	return p50, p99, nil
}

// keyValues reads the key=value words of a testbox report.
func keyValues(line string) map[string]string {
	kv := map[string]string{}
	for _, word := range strings.Fields(line) {
		if k, v, ok := strings.Cut(word, "="); ok {
			kv[k] = v
		}
	}
	return kv
}

// podExecer runs testbox in a pod through kubectl exec.
type podExecer struct {
	kubeconfig, namespace, pod string
}

func (e podExecer) command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", e.kubeconfig, "exec", "-n", e.namespace, e.pod, "--", "/testbox"}, args...)...)
}

// run runs testbox to the end and returns its standard output.
func (e podExecer) run(ctx context.Context, args ...string) (string, error) {
	cmd := e.command(ctx, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("testbox %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// start starts testbox and hands its standard output over line by line.
func (e podExecer) start(ctx context.Context, args ...string) (*streamedCommand, error) {
	cmd := e.command(ctx, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s := &streamedCommand{cmd: cmd, what: "testbox " + strings.Join(args, " "), lines: bufio.NewReader(stdout)}
	cmd.Stderr = &s.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", s.what, err)
	}
	return s, nil
}

type streamedCommand struct {
	cmd    *exec.Cmd
	what   string
	lines  *bufio.Reader
	stderr strings.Builder
}

// line returns the next line of output, or why there is none.
func (s *streamedCommand) line() (string, error) {
	line, err := s.lines.ReadString('\n')
	if err == nil {
		return strings.TrimSuffix(line, "\n"), nil
	}
	if errors.Is(err, io.EOF) {
		err = s.cmd.Wait()
		if err == nil {
			err = errors.New("ended without a report")
		}
		s.cmd = nil
	}
	return "", fmt.Errorf("%s: %w: %s", s.what, err, strings.TrimSpace(s.stderr.String()))
}

func (s *streamedCommand) close() {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// poll calls done until it reports true or an error, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
