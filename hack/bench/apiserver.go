package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

// The API server workload, as the upstream reference was measured: 2000
// small pods in one namespace, created, listed, patched and deleted by a
// client-go load generator.
const (
	benchNamespace = "bench"
	benchPods      = 2000
	benchWorkers   = 16
	benchLists     = 20
	// addedTimeout bounds the wait for the watch's last ADDED event once
	// every create has returned.
	addedTimeout = 30 * time.Second
)

// Content types, as client-go names them.
const (
	contentJSON     = "application/json"
	contentProtobuf = "application/vnd.kubernetes.protobuf"
)

// apiServer measures kindish's kube-apiserver, on its own etcd, both started
// from the node binary: the workload's throughputs and latencies, with JSON
// (as the upstream reference) and with protobuf, and the two processes'
// memory, idle and after the runs.
func (b *bench) apiServer(ctx context.Context) error {
	cp, err := startControlPlane(ctx, b.nodeBinary)
	if err != nil {
		return fmt.Errorf("start the control plane: %w", err)
	}
	defer cp.stop()

	jsonPods, err := newPodClient(cp.admin, contentJSON)
	if err != nil {
		return err
	}
	protoPods, err := newPodClient(cp.admin, contentProtobuf)
	if err != nil {
		return err
	}
	idle, err := cp.memory()
	if err != nil {
		return err
	}
	if err := createNamespace(ctx, cp.admin); err != nil {
		return err
	}

	var asJSON, asProtobuf []podRound
	var single []createRound
	for run := range b.runs {
		for _, v := range []struct {
			pods   podClient
			rounds *[]podRound
		}{{jsonPods, &asJSON}, {protoPods, &asProtobuf}} {
			r, err := runPodRound(ctx, v.pods)
			if err != nil {
				return fmt.Errorf("run %d: %w", run+1, err)
			}
			*v.rounds = append(*v.rounds, r)
		}
		c, err := createPods(ctx, jsonPods, 1)
		if err == nil {
			_, err = deletePods(ctx, jsonPods)
		}
		if err != nil {
			return fmt.Errorf("run %d, one worker: %w", run+1, err)
		}
		single = append(single, c)
	}
	after, err := cp.memory()
	if err != nil {
		return err
	}

	b.addPodRounds("16 workers, JSON", asJSON, true)
	b.addPodRounds("16 workers, protobuf", asProtobuf, false)
	b.add(Figure{Name: "apiserver creates/s (1 worker, JSON)", Unit: "/s", Samples: each(single, func(c createRound) float64 { return c.perSecond }), Target: "-"})
	b.add(Figure{Name: "apiserver create p50 (1 worker, JSON)", Unit: "ms", Samples: each(single, func(c createRound) float64 { return ms(c.p50) }), Target: "-"})
	b.add(Figure{Name: "apiserver create p99 (1 worker, JSON)", Unit: "ms", Samples: each(single, func(c createRound) float64 { return ms(c.p99) }), Target: "-"})

	b.addMemory("idle", idle, memoryGoals{"≤ 66 MB", "upstream 263 MB", "≤ 11 MB", "upstream 43 MB"})
	created := (len(asJSON) + len(asProtobuf) + len(single)) * benchPods
	b.addMemory(fmt.Sprintf("after %d runs (%d pods created)", b.runs, created), after,
		memoryGoals{"≤ 195 MB", "upstream 779 MB after 6 runs", "≤ 29 MB", "upstream 115 MB after 6 runs"})
	return nil
}

// addPodRounds adds one workload's figures; only the JSON one has upstream
// figures to aim at (twice the throughput, half the latency).
func (b *bench) addPodRounds(variant string, rounds []podRound, upstream bool) {
	goal := func(target, reference string) (string, string) {
		if !upstream {
			return "-", ""
		}
		return target, reference
	}
	figure := func(name, unit string, value func(podRound) float64, target, reference string) {
		target, reference = goal(target, reference)
		b.add(Figure{Name: fmt.Sprintf("apiserver %s (%s)", name, variant), Unit: unit, Samples: each(rounds, value), Target: target, Reference: reference})
	}
	figure("creates/s", "/s", func(r podRound) float64 { return r.create.perSecond }, "≥ 1614", "upstream 807")
	figure("create p50", "ms", func(r podRound) float64 { return ms(r.create.p50) }, "-", "")
	figure("create p99", "ms", func(r podRound) float64 { return ms(r.create.p99) }, "≤ 30 ms", "upstream 60 ms")
	figure("watch delay p50, ADDED − create response", "ms", func(r podRound) float64 { return ms(r.watchP50) }, "-", "")
	figure("watch delay p99, ADDED − create response", "ms", func(r podRound) float64 { return ms(r.watchP99) }, "≤ 19.5 ms", "upstream 39 ms")
	figure("watch delay p99, ADDED − create start", "ms", func(r podRound) float64 { return ms(r.watchFromStartP99) }, "≤ 19.5 ms", "upstream 39 ms")
	figure("LIST 2000 pods p50", "ms", func(r podRound) float64 { return ms(r.listP50) }, "≤ 61 ms", "upstream 122 ms")
	figure("LIST 2000 pods p50, body not decoded", "ms", func(r podRound) float64 { return ms(r.listBodyP50) }, "-", "")
	figure("LIST 2000 pods p50, client-go decoding alone", "ms", func(r podRound) float64 { return ms(r.listDecodeP50) }, "-", "")
	figure("patches/s", "/s", func(r podRound) float64 { return r.patchesPerSecond }, "≥ 1310", "upstream 655")
	figure("deletes/s", "/s", func(r podRound) float64 { return r.deletesPerSecond }, "≥ 1072", "upstream 536")
}

// memoryGoals are a quarter of upstream's memory, process by process.
type memoryGoals struct{ apiserver, apiserverRef, etcd, etcdRef string }

func (b *bench) addMemory(when string, m memory, goals memoryGoals) {
	b.add(Figure{Name: "kube-apiserver RSS, " + when, Unit: "MB", Samples: []float64{m.apiserver.rss}, Target: goals.apiserver, Reference: goals.apiserverRef})
	b.add(Figure{Name: "etcd RSS, " + when, Unit: "MB", Samples: []float64{m.etcd.rss}, Target: goals.etcd, Reference: goals.etcdRef})
	b.add(Figure{Name: "kube-apiserver RSS, anonymous part, " + when, Unit: "MB", Samples: []float64{m.apiserver.anon}, Target: "-"})
	b.add(Figure{Name: "etcd RSS, anonymous part, " + when, Unit: "MB", Samples: []float64{m.etcd.anon}, Target: "-"})
	b.add(Figure{Name: "kube-apiserver PSS, " + when, Unit: "MB", Samples: []float64{m.apiserver.pss}, Target: "-"})
	b.add(Figure{Name: "etcd PSS, " + when, Unit: "MB", Samples: []float64{m.etcd.pss}, Target: "-"})
}

// podClient is the bench namespace's pods, typed and raw.
type podClient struct {
	typedcorev1.PodInterface
	raw         rest.Interface
	contentType string
}

// newPodClient is a pods client for the bench namespace that speaks
// contentType and is never throttled: the server's speed is measured, not
// client-go's rate limiter.
func newPodClient(admin *rest.Config, contentType string) (podClient, error) {
	cfg := rest.CopyConfig(admin)
	cfg.QPS = -1
	cfg.ContentType = contentType
	cfg.AcceptContentTypes = contentType
	if contentType == contentProtobuf {
		cfg.AcceptContentTypes = contentProtobuf + "," + contentJSON
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return podClient{}, err
	}
	return podClient{PodInterface: client.CoreV1().Pods(benchNamespace), raw: client.CoreV1().RESTClient(), contentType: contentType}, nil
}

func createNamespace(ctx context.Context, admin *rest.Config) error {
	client, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", benchNamespace, err)
	}
	return nil
}

// podRound is one run of the workload with benchWorkers workers.
type podRound struct {
	create createRound
	// The watch delays are the ADDED event's arrival minus the create's
	// response (at least 0: the event may come first), and minus the
	// create's start.
	watchP50, watchP99, watchFromStartP99 time.Duration
	// listP50 includes client-go's decoding of the list; listBodyP50 is
	// the same request with the body read but not decoded: the server's
	// part, plus the transfer.
	listP50, listBodyP50 time.Duration
	// listDecodeP50 is client-go's decoding alone of a body of the same
	// list, no server involved: the floor under listP50.
	listDecodeP50                      time.Duration
	patchesPerSecond, deletesPerSecond float64
}

// runPodRound creates benchPods pods under a watch opened beforehand, lists
// them benchLists times, label-patches them all and deletes them all.
func runPodRound(ctx context.Context, pods podClient) (podRound, error) {
	var r podRound
	// The watch starts from the empty namespace's revision, so it sees
	// exactly this round's pods.
	empty, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		return r, fmt.Errorf("list pods: %w", err)
	}
	if n := len(empty.Items); n != 0 {
		return r, fmt.Errorf("namespace %s holds %d pods before the creates", benchNamespace, n)
	}
	w, err := pods.Watch(ctx, metav1.ListOptions{ResourceVersion: empty.ResourceVersion})
	if err != nil {
		return r, fmt.Errorf("watch pods: %w", err)
	}
	arrivals := make([]time.Time, benchPods)
	watched := make(chan error, 1)
	go func() { watched <- recordAdded(w, arrivals) }()

	r.create, err = createPods(ctx, pods, benchWorkers)
	if err == nil {
		select {
		case err = <-watched:
		case <-time.After(addedTimeout):
			w.Stop()
			err = <-watched
		}
	}
	w.Stop()
	if err != nil {
		return r, err
	}
	fromResponse := make([]time.Duration, benchPods)
	fromStart := make([]time.Duration, benchPods)
	for i, at := range arrivals {
		fromResponse[i] = max(0, at.Sub(r.create.ends[i]))
		fromStart[i] = at.Sub(r.create.starts[i])
	}
	r.watchP50, r.watchP99 = percentile(fromResponse, 0.50), percentile(fromResponse, 0.99)
	r.watchFromStartP99 = percentile(fromStart, 0.99)

	if r.listP50, r.listBodyP50, r.listDecodeP50, err = listPods(ctx, pods); err != nil {
		return r, err
	}
	if r.patchesPerSecond, err = patchPods(ctx, pods); err != nil {
		return r, err
	}
	if r.deletesPerSecond, err = deletePods(ctx, pods); err != nil {
		return r, err
	}
	return r, nil
}

// recordAdded stamps each pod's ADDED event with its arrival time, until
// every pod has one or the watch ends.
func recordAdded(w watch.Interface, arrivals []time.Time) error {
	seen := 0
	for ev := range w.ResultChan() {
		at := time.Now()
		switch ev.Type {
		case watch.Added:
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				return fmt.Errorf("watch: ADDED event of a %T", ev.Object)
			}
			i, ok := podIndex(pod.Name)
			if !ok {
				return fmt.Errorf("watch: ADDED event of an unexpected pod %s", pod.Name)
			}
			if arrivals[i].IsZero() {
				arrivals[i] = at
				seen++
			}
			if seen == len(arrivals) {
				return nil
			}
		case watch.Error:
			return fmt.Errorf("watch: %v", apierrors.FromObject(ev.Object))
		}
	}
	return fmt.Errorf("watch: ended after %d of %d ADDED events (waited %v after the last create)", seen, len(arrivals), addedTimeout)
}

// createRound is one round of benchPods creates.
type createRound struct {
	perSecond    float64
	p50, p99     time.Duration
	starts, ends []time.Time
}

// createPods creates benchPods pods with the given number of workers.
func createPods(ctx context.Context, pods podClient, workers int) (createRound, error) {
	c := createRound{starts: make([]time.Time, benchPods), ends: make([]time.Time, benchPods)}
	begin := time.Now()
	err := forEachIndex(ctx, benchPods, workers, func(ctx context.Context, i int) error {
		c.starts[i] = time.Now()
		_, err := pods.Create(ctx, benchPod(i), metav1.CreateOptions{})
		c.ends[i] = time.Now()
		if err != nil {
			return fmt.Errorf("create pod %s: %w", podName(i), err)
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	c.perSecond = benchPods / time.Since(begin).Seconds()
	latencies := make([]time.Duration, benchPods)
	for i := range latencies {
		latencies[i] = c.ends[i].Sub(c.starts[i])
	}
	c.p50, c.p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
	return c, nil
}

// listPods lists the namespace's pods benchLists times, decoded by
// client-go, as many times as a body only, and decodes one such body as
// many times with client-go's codec, without a server; it returns the
// three medians.
func listPods(ctx context.Context, pods podClient) (decoded, body, decodeOnly time.Duration, err error) {
	decodedTimes := make([]time.Duration, benchLists)
	bodyTimes := make([]time.Duration, benchLists)
	decodeTimes := make([]time.Duration, benchLists)
	var raw []byte
	for i := range benchLists {
		start := time.Now()
		list, err := pods.List(ctx, metav1.ListOptions{})
		decodedTimes[i] = time.Since(start)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("list pods: %w", err)
		}
		if n := len(list.Items); n != benchPods {
			return 0, 0, 0, fmt.Errorf("list pods: %d pods, want %d", n, benchPods)
		}
		start = time.Now()
		raw, err = pods.raw.Get().Namespace(benchNamespace).Resource("pods").DoRaw(ctx)
		bodyTimes[i] = time.Since(start)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("list pods: %w", err)
		}
	}
	// The decoder client-go's typed clients use for this content type.
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), pods.contentType)
	if !ok {
		return 0, 0, 0, fmt.Errorf("no decoder for %s", pods.contentType)
	}
	dec := scheme.Codecs.DecoderToVersion(info.Serializer, corev1.SchemeGroupVersion)
	for i := range benchLists {
		start := time.Now()
		var list corev1.PodList
		if _, _, err := dec.Decode(raw, nil, &list); err != nil {
			return 0, 0, 0, fmt.Errorf("decode the pod list: %w", err)
		}
		decodeTimes[i] = time.Since(start)
	}
	return percentile(decodedTimes, 0.50), percentile(bodyTimes, 0.50), percentile(decodeTimes, 0.50), nil
}

// patchPods adds a label to every pod with a strategic merge patch, as
// `kubectl label` does, and returns the patches per second.
func patchPods(ctx context.Context, pods podClient) (float64, error) {
	patch := []byte(`{"metadata":{"labels":{"bench.kindish.dev/patched":"true"}}}`)
	begin := time.Now()
	err := forEachIndex(ctx, benchPods, benchWorkers, func(ctx context.Context, i int) error {
		pod, err := pods.Patch(ctx, podName(i), types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		if err != nil {
			return fmt.Errorf("patch pod %s: %w", podName(i), err)
		}
		if pod.Labels["bench.kindish.dev/patched"] != "true" {
			return fmt.Errorf("patch pod %s: the label is not in the answer: %v", podName(i), pod.Labels)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return benchPods / time.Since(begin).Seconds(), nil
}

// deletePods deletes every pod at once (grace period 0; the pods are on no
// node, so nothing waits for a kubelet), returns the deletes per second,
// and checks that the namespace is empty afterwards.
func deletePods(ctx context.Context, pods podClient) (float64, error) {
	now := int64(0)
	begin := time.Now()
	err := forEachIndex(ctx, benchPods, benchWorkers, func(ctx context.Context, i int) error {
		if err := pods.Delete(ctx, podName(i), metav1.DeleteOptions{GracePeriodSeconds: &now}); err != nil {
			return fmt.Errorf("delete pod %s: %w", podName(i), err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	perSecond := benchPods / time.Since(begin).Seconds()
	left, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("list pods: %w", err)
	}
	if n := len(left.Items); n != 0 {
		return 0, fmt.Errorf("delete pods: %d of %d pods still listed after their deletes returned (first: %s, deletionTimestamp %v)",
			n, benchPods, left.Items[0].Name, left.Items[0].DeletionTimestamp)
	}
	return perSecond, nil
}

// forEachIndex calls f for every index below n from the given number of workers,
// and returns the first error, after which no new call starts.
func forEachIndex(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	indexes := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range indexes {
				if err := f(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case indexes <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(indexes)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// benchPod is about what `kubectl run` creates, with a resource request.
func benchPod(i int) *corev1.Pod {
	name := podName(i)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: map[string]string{"run": name, "app": "bench"},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  "app",
				Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("10m"),
					corev1.ResourceMemory: resource.MustParse("16Mi"),
				}},
			}},
			RestartPolicy: corev1.RestartPolicyAlways,
			DNSPolicy:     corev1.DNSClusterFirst,
		},
	}
}

const podPrefix = "bench-"

func podName(i int) string { return podPrefix + strconv.Itoa(i) }

func podIndex(name string) (int, bool) {
	i, err := strconv.Atoi(strings.TrimPrefix(name, podPrefix))
	return i, err == nil && strings.HasPrefix(name, podPrefix) && i >= 0 && i < benchPods
}

// memory is the two processes' resident memory.
type memory struct{ apiserver, etcd usage }

func (cp *controlPlane) memory() (memory, error) {
	var m memory
	var err error
	if m.apiserver, err = cp.apiserver.memory(); err != nil {
		return m, err
	}
	m.etcd, err = cp.etcd.memory()
	return m, err
}

// percentile is the nearest-rank percentile of ds (which it sorts).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(math.Ceil(p*float64(len(ds)))) - 1
	return ds[min(max(rank, 0), len(ds)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func each[T any](xs []T, f func(T) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}
