package prober

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// API defaults of a probe, for specs that skipped defaulting (a static pod
// read from disk): a zero period would spin, a zero threshold would act on
// every result.
const (
	defaultPeriodSeconds    = 10
	defaultTimeoutSeconds   = 1
	defaultFailureThreshold = 3
	defaultSuccessThreshold = 1
)

// worker probes one probe of one container instance. It lives from the
// container's start until the container stops or is replaced, or until its
// probe has reached a verdict that only a new container can change.
type worker struct {
	m           *Manager
	key         workerKey
	pod         *corev1.Pod
	container   corev1.Container
	init        bool
	spec        corev1.Probe
	containerID string

	ctx    context.Context
	cancel context.CancelFunc

	// Touched by the worker's goroutine only.
	lastResult result
	resultRun  int
}

func newWorker(m *Manager, key workerKey, pod *corev1.Pod, target probedContainer, spec *corev1.Probe, containerID string) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	return &worker{
		m:           m,
		key:         key,
		pod:         pod,
		container:   target.container,
		init:        target.init,
		spec:        withDefaults(*spec),
		containerID: containerID,
		ctx:         ctx,
		cancel:      cancel,
	}
}

func withDefaults(p corev1.Probe) corev1.Probe {
	if p.PeriodSeconds <= 0 {
		p.PeriodSeconds = defaultPeriodSeconds
	}
	if p.TimeoutSeconds <= 0 {
		p.TimeoutSeconds = defaultTimeoutSeconds
	}
	if p.FailureThreshold <= 0 {
		p.FailureThreshold = defaultFailureThreshold
	}
	if p.SuccessThreshold <= 0 {
		p.SuccessThreshold = defaultSuccessThreshold
	}
	return p
}

// stop ends the worker; an attempt in flight is abandoned and not recorded.
// It is safe to call more than once.
func (w *worker) stop() { w.cancel() }

// run probes once at once, then once a period, until stopped or done.
func (w *worker) run() {
	defer w.m.running.Done()
	period := time.Duration(w.spec.PeriodSeconds) * time.Second
	for w.doProbe() {
		timer := w.m.clock.NewTimer(period)
		select {
		case <-w.ctx.Done():
			timer.Stop()
			return
		case <-timer.C():
		}
	}
}

// doProbe probes the container once, if it is time to, and records the
// result once a threshold is reached. It reports whether probing goes on.
func (w *worker) doProbe() (keepGoing bool) {
	if w.ctx.Err() != nil {
		return false
	}
	snap, ok := w.m.snapshot(w.key.podUID)
	if !ok {
		return false
	}
	cs := findContainerStatus(snap.status, w.container.Name, w.init)
	if cs == nil || bareContainerID(cs.ContainerID) != w.containerID || cs.State.Running == nil {
		// The manager replaces or stops this worker on the pod's next update.
		return true
	}

	// A pod being deleted is about to stop its containers: a liveness or
	// startup failure now would only restart one in vain.
	if snap.pod.DeletionTimestamp != nil && (w.key.kind == livenessProbe || w.key.kind == startupProbe) {
		w.record(success)
		return false
	}

	if w.m.clock.Since(cs.State.Running.StartedAt.Time) < time.Duration(w.spec.InitialDelaySeconds)*time.Second {
		return true
	}
	started := w.m.started(w.containerID)
	if w.key.kind == startupProbe && started {
		return false
	}
	if w.key.kind != startupProbe && !started {
		return true
	}

	res, output, err := w.m.prober.probe(w.ctx, w.key.kind, &w.spec, snap.pod, snap.status, &w.container, w.containerID)
	if w.ctx.Err() != nil {
		// Stopped mid-probe: the attempt says nothing about the container.
		return false
	}
	w.m.report(w, snap.pod, res, output, err)
	if err != nil {
		// An error is not a verdict on the container (the probe could not be
		// run): upstream throws the attempt away.
		return true
	}

	r := failure
	if res == outcomeSuccess || res == outcomeWarning {
		r = success
	}
	if r == w.lastResult {
		w.resultRun++
	} else {
		w.lastResult = r
		w.resultRun = 1
	}
	if (r == failure && w.resultRun < int(w.spec.FailureThreshold)) ||
		(r == success && w.resultRun < int(w.spec.SuccessThreshold)) {
		return true
	}
	w.record(r)

	// A failed liveness probe and a decided startup probe hold until a new
	// container replaces this one; probing a container being killed only
	// races with its stop.
	return !((w.key.kind == livenessProbe && r == failure) || w.key.kind == startupProbe)
}

func (w *worker) record(r result) {
	if w.m.setResult(w, r) {
		w.m.log.Debug("probe result changed", "pod", w.pod.Namespace+"/"+w.pod.Name,
			"container", w.container.Name, "probe", w.key.kind.String(), "result", r.String())
		w.m.onChange(w.key.podUID)
	}
}
