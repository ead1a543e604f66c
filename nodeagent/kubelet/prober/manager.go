package prober

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// ExecRunner runs a command in a container and waits for it: the one CRI
// call exec probes need. runtimeapi.RuntimeServiceClient satisfies it.
type ExecRunner interface {
	ExecSync(ctx context.Context, in *runtimeapi.ExecSyncRequest, opts ...grpc.CallOption) (*runtimeapi.ExecSyncResponse, error)
}

// Config is what a Manager needs from the kubelet.
type Config struct {
	// Exec runs exec probes in containers.
	Exec ExecRunner
	// Recorder receives the probes' Warning events; nil records none.
	Recorder record.EventRecorder
	// OnChange is called, from a probe worker, when a result of one of the
	// pod's containers changes, so that the pod is synced at once rather than
	// at its next periodic sync. It must not block for long.
	OnChange func(podUID types.UID)
	// Clock paces the probes; nil means the real clock.
	Clock clock.Clock
	// Log receives the probes' outcomes at debug level; nil discards them.
	Log *slog.Logger
}

// Manager runs the probes of the pods on this node and keeps their results.
// It is safe for concurrent use.
type Manager struct {
	prober   *prober
	recorder record.EventRecorder
	onChange func(types.UID)
	clock    clock.Clock
	log      *slog.Logger

	mu      sync.RWMutex
	stopped bool
	pods    map[types.UID]*podSnapshot
	workers map[workerKey]*worker
	results map[resultKey]result

	// running counts worker goroutines, so that Stop can wait for them.
	running sync.WaitGroup
}

// podSnapshot is the pod and status of the latest UpdatePod. Workers read it
// for the pod IP, the container's start time and the deletion timestamp; it
// is replaced, never mutated, so readers may keep it.
type podSnapshot struct {
	pod    *corev1.Pod
	status *corev1.PodStatus
}

// workerKey names one probe of one container of one pod.
type workerKey struct {
	podUID        types.UID
	containerName string
	kind          probeKind
}

// resultKey names the result of one probe kind of one container instance.
type resultKey struct {
	containerID string
	kind        probeKind
}

// NewManager returns a Manager with no pods.
func NewManager(cfg Config) *Manager {
	clk := cfg.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	onChange := cfg.OnChange
	if onChange == nil {
		onChange = func(types.UID) {}
	}
	return &Manager{
		prober:   newProber(cfg.Exec),
		recorder: cfg.Recorder,
		onChange: onChange,
		clock:    clk,
		log:      log,
		pods:     make(map[types.UID]*podSnapshot),
		workers:  make(map[workerKey]*worker),
		results:  make(map[resultKey]result),
	}
}

// UpdatePod brings the pod's probe workers in line with its status: a worker
// for each probe of each running container, started afresh for a new
// container ID, and none for containers that are not running. Call it after
// each sync of the pod.
func (m *Manager) UpdatePod(pod *corev1.Pod, status *corev1.PodStatus) {
	if !declaresProbes(pod) {
		// Probes cannot be added to a pod: most pods never need a copy.
		return
	}
	snap := &podSnapshot{pod: pod.DeepCopy(), status: status.DeepCopy()}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return
	}
	m.pods[pod.UID] = snap

	wanted := make(map[workerKey]bool)
	for _, target := range probedContainers(snap.pod) {
		cs := findContainerStatus(snap.status, target.container.Name, target.init)
		if cs == nil || cs.State.Running == nil || cs.ContainerID == "" {
			continue
		}
		id := bareContainerID(cs.ContainerID)
		for kind := range probeKind(probeKindCount) {
			spec := kind.spec(&target.container)
			if spec == nil {
				continue
			}
			key := workerKey{podUID: pod.UID, containerName: target.container.Name, kind: kind}
			wanted[key] = true
			if w, ok := m.workers[key]; ok {
				if w.containerID == id {
					continue
				}
				m.dropWorkerLocked(key, w)
			}
			m.startWorkerLocked(key, snap.pod, target, spec, id)
		}
	}
	for key, w := range m.workers {
		if key.podUID == pod.UID && !wanted[key] {
			m.dropWorkerLocked(key, w)
		}
	}
}

// RemovePod stops the pod's probe workers and forgets their results.
func (m *Manager) RemovePod(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, w := range m.workers {
		if key.podUID == uid {
			m.dropWorkerLocked(key, w)
		}
	}
	delete(m.pods, uid)
}

// Stop stops every probe worker, waits for them to return and ignores
// further updates.
func (m *Manager) Stop() {
	m.mu.Lock()
	m.stopped = true
	for key, w := range m.workers {
		m.dropWorkerLocked(key, w)
	}
	m.pods = make(map[types.UID]*podSnapshot)
	m.mu.Unlock()
	m.running.Wait()
}

// Readiness reports the readiness probe's result for a container, by its ID
// ("containerd://<id>" or the bare ID). known is false when no readiness
// worker has taken the container yet: the container then counts as ready only
// if it declares no readiness probe.
func (m *Manager) Readiness(containerID string) (ready, known bool) {
	r, ok := m.result(containerID, readinessProbe)
	return r == success, ok
}

// Startup reports whether the container's startup probe has succeeded. known
// is false when no startup worker has taken the container yet: the container
// then counts as started only if it declares no startup probe.
func (m *Manager) Startup(containerID string) (started, known bool) {
	r, ok := m.result(containerID, startupProbe)
	return r == success, ok
}

// LivenessFailed reports whether the container failed its liveness probe, or
// its startup probe, failureThreshold times in a row: it must be killed and
// restarted according to the pod's restart policy. The result holds until
// the container is replaced.
func (m *Manager) LivenessFailed(containerID string) bool {
	if r, _ := m.result(containerID, livenessProbe); r == failure {
		return true
	}
	r, _ := m.result(containerID, startupProbe)
	return r == failure
}

// UpdatePodStatus sets Started and Ready of each container status from the
// probe results, as upstream's prober manager does before the kubelet
// reports a status: a running container is started once its startup probe
// has succeeded (or it has none), and ready once started and its readiness
// probe has succeeded (or it has none). Init containers that are not
// sidecars are ready when they exited 0.
func (m *Manager) UpdatePodStatus(pod *corev1.Pod, status *corev1.PodStatus) {
	for i := range status.ContainerStatuses {
		cs := &status.ContainerStatuses[i]
		if c := findContainer(pod.Spec.Containers, cs.Name); c != nil {
			m.setStartedAndReady(c, cs)
		}
	}
	for i := range status.InitContainerStatuses {
		cs := &status.InitContainerStatuses[i]
		c := findContainer(pod.Spec.InitContainers, cs.Name)
		if c == nil {
			continue
		}
		if isSidecar(c) {
			m.setStartedAndReady(c, cs)
			continue
		}
		started := cs.State.Running != nil
		cs.Started = &started
		cs.Ready = cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0
	}
}

func (m *Manager) setStartedAndReady(c *corev1.Container, cs *corev1.ContainerStatus) {
	running := cs.State.Running != nil && cs.ContainerID != ""
	started := running
	if running && c.StartupProbe != nil {
		started, _ = m.Startup(cs.ContainerID)
	}
	cs.Started = &started
	ready := started
	if started && c.ReadinessProbe != nil {
		ready, _ = m.Readiness(cs.ContainerID)
	}
	cs.Ready = ready
}

func (m *Manager) result(containerID string, kind probeKind) (result, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r, ok := m.results[resultKey{containerID: bareContainerID(containerID), kind: kind}]
	return r, ok
}

func (m *Manager) startWorkerLocked(key workerKey, pod *corev1.Pod, target probedContainer, spec *corev1.Probe, containerID string) {
	w := newWorker(m, key, pod, target, spec, containerID)
	m.workers[key] = w
	// The initial result is set here rather than by the worker so that a
	// status computed right after this call already sees it (a readiness
	// probe that has not run yet means "not ready").
	m.results[resultKey{containerID: containerID, kind: key.kind}] = key.kind.initialResult()
	m.running.Add(1)
	go w.run()
}

func (m *Manager) dropWorkerLocked(key workerKey, w *worker) {
	w.stop()
	delete(m.workers, key)
	delete(m.results, resultKey{containerID: w.containerID, kind: key.kind})
}

// snapshot returns the pod as of its latest update.
func (m *Manager) snapshot(uid types.UID) (*podSnapshot, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.pods[uid]
	return s, ok
}

// setResult stores a worker's result and reports whether it changed. A
// worker that has been replaced or stopped meanwhile stores nothing: its
// container's results belong to its successor, or to nobody.
func (m *Manager) setResult(w *worker, r result) (changed bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.workers[w.key] != w {
		return false
	}
	rk := resultKey{containerID: w.containerID, kind: w.key.kind}
	if old, ok := m.results[rk]; ok && old == r {
		return false
	}
	m.results[rk] = r
	return true
}

// started reports whether the container has passed its startup probe, or
// has none; readiness and liveness probes wait for it.
func (m *Manager) started(containerID string) bool {
	r, ok := m.result(containerID, startupProbe)
	return !ok || r == success
}

// probedContainer is a container that may carry probes: a regular container
// or a sidecar (an init container that keeps running).
type probedContainer struct {
	container corev1.Container
	init      bool
}

func probedContainers(pod *corev1.Pod) []probedContainer {
	var out []probedContainer
	for _, c := range pod.Spec.InitContainers {
		if isSidecar(&c) {
			out = append(out, probedContainer{container: c, init: true})
		}
	}
	for _, c := range pod.Spec.Containers {
		out = append(out, probedContainer{container: c})
	}
	return out
}

func declaresProbes(pod *corev1.Pod) bool {
	for _, t := range probedContainers(pod) {
		c := &t.container
		if c.StartupProbe != nil || c.ReadinessProbe != nil || c.LivenessProbe != nil {
			return true
		}
	}
	return false
}

func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func findContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

func findContainerStatus(status *corev1.PodStatus, name string, init bool) *corev1.ContainerStatus {
	list := status.ContainerStatuses
	if init {
		list = status.InitContainerStatuses
	}
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// bareContainerID strips the runtime prefix of a status's container ID
// ("containerd://abc" -> "abc"), the form CRI calls take.
func bareContainerID(id string) string {
	if _, bare, ok := strings.Cut(id, "://"); ok {
		return bare
	}
	return id
}
