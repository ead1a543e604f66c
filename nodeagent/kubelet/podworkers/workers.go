package podworkers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kindish/kindish/nodeagent/kubelet/kuberuntime"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// Volumes mounts and unmounts pods' volumes. SetUp runs before a pod's
// containers start (its error is the pod's FailedMount event); TearDown
// after they are all stopped.
type Volumes interface {
	SetUp(ctx context.Context, pod *corev1.Pod) error
	TearDown(ctx context.Context, uid types.UID) error
	kuberuntime.MountSource
}

// Probes runs the pods' probes. Container IDs are "containerd://<id>".
type Probes interface {
	UpdatePod(pod *corev1.Pod, status *corev1.PodStatus)
	RemovePod(uid types.UID)
	Readiness(containerID string) (ready, known bool)
	Startup(containerID string) (started, known bool)
	LivenessFailed(containerID string) bool
}

// Config is what Workers need. Runtime, Images and Client are required.
type Config struct {
	Runtime kuberuntime.RuntimeService
	Images  kuberuntime.ImageService
	// Volumes sets up pods' volumes and containers' mounts; nil mounts
	// nothing.
	Volumes Volumes
	// Env resolves containers' environments; nil passes literal values.
	Env kuberuntime.EnvSource
	// Probes runs probes; nil makes every running container started and
	// ready.
	Probes Probes
	// DNSConfig and Hostname come from the node's DNS configurer.
	DNSConfig func(pod *corev1.Pod) (*runtimeapi.DNSConfig, error)
	Hostname  func(pod *corev1.Pod) (hostname, domain string, err error)
	// NetworkReady returns nil once the pod network (CNI) is ready; until
	// then only hostNetwork pods start. nil means always ready.
	NetworkReady func() error
	// Client writes pod statuses and finishes deletions.
	Client kubernetes.Interface
	// Recorder receives the pods' events; nil drops them.
	Recorder record.EventRecorder
	// NodeName names the node in logs.
	NodeName string
	// NodeIP is status.hostIP, and podIP of hostNetwork pods.
	NodeIP string
	// MirrorPodFor returns the mirror pod of a static pod, where its status
	// goes; while there is none, the status waits.
	MirrorPodFor func(pod *corev1.Pod) (mirror *corev1.Pod, ok bool)
	// PodLogsDir holds pods' logs; default /var/log/pods.
	PodLogsDir string
	// ResyncPeriod is how often a pod is synced without a reason (jittered
	// up to half again); default 10s.
	ResyncPeriod time.Duration
	// RelistPeriod is how often the runtime is listed for changes;
	// default 1s.
	RelistPeriod time.Duration
	// Clock drives timers, back-offs and timestamps; default the real
	// clock.
	Clock clock.WithTicker
	Log   *slog.Logger
}

// workerPhase is where a pod worker is in a pod's life.
type workerPhase int

const (
	// syncing: the pod should run; each sync moves it toward its spec.
	syncing workerPhase = iota
	// terminating: the pod must be killed (deleted, gone from the API,
	// or done).
	terminating
	// terminated: nothing of the pod runs; its deletion, if any, can be
	// finished.
	terminated
)

// podWorker is one pod's goroutine and what it is told.
type podWorker struct {
	uid  types.UID
	wake chan struct{}

	// Guarded by Workers.mu.
	pod     *corev1.Pod
	removed bool
	// readded is set when a static pod comes back (same UID) while its
	// removal is under way: the worker starts over instead of finishing.
	readded bool
	started bool
	phase   workerPhase
	// cancelSync cancels the sync in flight, for a termination that must
	// not wait for it.
	cancelSync context.CancelFunc

	// volumeRetry is the wait before the next try after the pod's volumes
	// failed to set up; zero after a sync that got past them. Touched by
	// the worker's goroutine only.
	volumeRetry time.Duration
}

// errVolumesNotReady marks a sync that stopped at the pod's volumes.
var errVolumesNotReady = errors.New("volumes not ready")

// Upstream's volume manager retries a failed mount after half a second,
// doubling the wait each time: a ConfigMap or Secret that appears a moment
// after its pod (kube-root-ca.crt in a new namespace, say) is mounted a
// moment later, not at the pod's next resync.
const firstVolumeRetry = 500 * time.Millisecond

func (w *Workers) nextVolumeRetry(pw *podWorker) time.Duration {
	pw.volumeRetry = min(max(2*pw.volumeRetry, firstVolumeRetry), w.resync)
	return pw.volumeRetry
}

func (pw *podWorker) poke() {
	select {
	case pw.wake <- struct{}{}:
	default:
	}
}

// Workers runs the node's pods. Its methods are safe for concurrent use and
// never block on a pod's work.
type Workers struct {
	runtime      *kuberuntime.Manager
	status       *statusManager
	reasons      *reasonCache
	volumes      Volumes
	probes       Probes
	networkReady func() error
	recorder     record.EventRecorder
	nodeIP       string
	resync       time.Duration
	relistEvery  time.Duration
	clock        clock.WithTicker
	log          *slog.Logger

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	// finished are pods whose workers completed: late updates about them
	// are ignored rather than start a worker again.
	finished map[types.UID]bool
	runCtx   context.Context
	running  sync.WaitGroup

	// lastRelist is each pod's runtime fingerprint at the last relist.
	lastRelist map[types.UID]string
}

// New returns Workers; nothing runs until Run.
func New(cfg Config) *Workers {
	w := &Workers{
		volumes:      cfg.Volumes,
		probes:       cfg.Probes,
		networkReady: cfg.NetworkReady,
		recorder:     cfg.Recorder,
		nodeIP:       cfg.NodeIP,
		resync:       cfg.ResyncPeriod,
		relistEvery:  cfg.RelistPeriod,
		clock:        cfg.Clock,
		log:          cfg.Log,
		workers:      map[types.UID]*podWorker{},
		finished:     map[types.UID]bool{},
		reasons:      newReasonCache(),
	}
	if w.recorder == nil {
		w.recorder = discardRecorder{}
	}
	if w.resync == 0 {
		w.resync = 10 * time.Second
	}
	if w.relistEvery == 0 {
		w.relistEvery = time.Second
	}
	if w.clock == nil {
		w.clock = clock.RealClock{}
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if cfg.NodeName != "" {
		w.log = w.log.With("node", cfg.NodeName)
	}
	rc := kuberuntime.Config{
		Runtime:    cfg.Runtime,
		Images:     cfg.Images,
		Recorder:   w.recorder,
		Env:        cfg.Env,
		DNSConfig:  cfg.DNSConfig,
		Hostname:   cfg.Hostname,
		NodeIP:     cfg.NodeIP,
		PodLogsDir: cfg.PodLogsDir,
		Clock:      w.clock,
		Log:        w.log,
	}
	if cfg.Volumes != nil {
		rc.Mounts = cfg.Volumes
	}
	if cfg.Probes != nil {
		rc.Liveness = cfg.Probes
	}
	w.runtime = kuberuntime.New(rc)
	w.status = newStatusManager(cfg.Client, cfg.MirrorPodFor, w.clock)
	return w
}

// Run starts the workers of the pods given so far and the relist loop, and
// returns once ctx is done and every worker has stopped.
func (w *Workers) Run(ctx context.Context) {
	w.mu.Lock()
	w.runCtx = ctx
	for _, pw := range w.workers {
		w.startLocked(pw)
	}
	w.mu.Unlock()

	ticker := w.clock.NewTicker(w.relistEvery)
	defer ticker.Stop()
	w.relist(ctx)
	for {
		select {
		case <-ctx.Done():
			w.running.Wait()
			return
		case <-ticker.C():
			w.relist(ctx)
		}
	}
}

// startLocked starts the pod's goroutine once Run has started. The caller
// holds w.mu.
func (w *Workers) startLocked(pw *podWorker) {
	if pw.started || w.runCtx == nil || w.runCtx.Err() != nil {
		return
	}
	pw.started = true
	w.running.Add(1)
	go w.runWorker(w.runCtx, pw)
}

// UpdatePod hands the pod's latest version to its worker, starting one for
// a new pod. A pod with a deletion timestamp is terminated with its grace
// period, then deleted from the API.
func (w *Workers) UpdatePod(pod *corev1.Pod) {
	w.mu.Lock()
	if w.finished[pod.UID] {
		// A late update about a pod that is done with is ignored; a static
		// pod keeps its UID when its manifest comes back, and starts anew.
		if !isStatic(pod) {
			w.mu.Unlock()
			return
		}
		delete(w.finished, pod.UID)
	}
	pw, ok := w.workers[pod.UID]
	if !ok {
		pw = &podWorker{uid: pod.UID, wake: make(chan struct{}, 1)}
		w.workers[pod.UID] = pw
	}
	// Most updates are the kubelet's own status writes coming back through
	// the watch: as upstream's config source, keep the newest object but
	// sync only for what can change what runs, lest every status write
	// cause another sync (and a waiting reason such as ErrImagePull be
	// replaced before anyone saw it).
	needsSync := !ok || pw.pod == nil || podsDifferSemantically(pw.pod, pod) || statusNeedsSync(pw.pod, pod)
	pw.pod = pod.DeepCopy()
	if pw.removed && isStatic(pod) {
		pw.readded = true
	}
	if pod.DeletionTimestamp != nil && pw.cancelSync != nil {
		pw.cancelSync()
	}
	// A goroutine that starts now works at once; only a running one needs
	// waking.
	wasStarted := pw.started
	w.startLocked(pw)
	w.mu.Unlock()
	if wasStarted && needsSync {
		pw.poke()
	}
}

// podsDifferSemantically reports a change the kubelet acts on, as
// upstream's config source decides: the spec, labels, annotations or a
// deletion, not the status.
func podsDifferSemantically(old, pod *corev1.Pod) bool {
	return !equality.Semantic.DeepEqual(old.Spec, pod.Spec) ||
		!equality.Semantic.DeepEqual(old.Labels, pod.Labels) ||
		!equality.Semantic.DeepEqual(old.Annotations, pod.Annotations) ||
		!equality.Semantic.DeepEqual(old.DeletionTimestamp, pod.DeletionTimestamp) ||
		!equality.Semantic.DeepEqual(old.DeletionGracePeriodSeconds, pod.DeletionGracePeriodSeconds)
}

// statusNeedsSync reports a status change made by someone other than the
// kubelet that its next status must reflect: a terminal phase, or a
// condition it does not own (a readiness gate, DisruptionTarget...).
func statusNeedsSync(old, pod *corev1.Pod) bool {
	if pod.Status.Phase != old.Status.Phase && isTerminalPhase(pod.Status.Phase) {
		return true
	}
	for _, c := range pod.Status.Conditions {
		if kubeletConditions[c.Type] {
			continue
		}
		if prev := findCondition(old.Status.Conditions, c.Type); prev == nil || prev.Status != c.Status {
			return true
		}
	}
	return false
}

// DeletePod tells the worker its pod is gone from its source (the API, or
// a static pod's file): the pod is killed and its volumes and runtime
// objects removed, without touching the API.
func (w *Workers) DeletePod(uid types.UID) {
	w.mu.Lock()
	pw, ok := w.workers[uid]
	if ok {
		pw.removed = true
		if pw.cancelSync != nil {
			pw.cancelSync()
		}
	}
	w.mu.Unlock()
	if ok {
		pw.poke()
	}
}

// SyncAll wakes every worker.
func (w *Workers) SyncAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, pw := range w.workers {
		pw.poke()
	}
}

// Resync wakes the pod's worker at once; the prober calls it when a result
// changes.
func (w *Workers) Resync(uid types.UID) {
	w.mu.Lock()
	pw, ok := w.workers[uid]
	w.mu.Unlock()
	if ok {
		pw.poke()
	}
}

// PodStatus returns the pod's latest status as the kubelet computed it.
func (w *Workers) PodStatus(uid types.UID) (*corev1.PodStatus, bool) {
	return w.status.get(uid)
}

// RemoveOrphans stops and removes the sandboxes and containers of pods
// that are not in known, the complete set of the node's pods; pods with a
// worker that are not in known are terminated as by DeletePod. Call it
// once the first complete pod list has been handed to UpdatePod.
func (w *Workers) RemoveOrphans(ctx context.Context, known map[types.UID]bool) error {
	w.mu.Lock()
	var vanished []types.UID
	for uid := range w.workers {
		if !known[uid] {
			vanished = append(vanished, uid)
		}
	}
	for uid := range w.finished {
		if !known[uid] {
			delete(w.finished, uid)
		}
	}
	w.mu.Unlock()
	for _, uid := range vanished {
		w.DeletePod(uid)
	}

	pods, err := w.runtime.ListPods(ctx)
	if err != nil {
		return fmt.Errorf("remove orphaned pods: %w", err)
	}
	var errs []error
	for uid, rp := range pods {
		w.mu.Lock()
		_, hasWorker := w.workers[uid]
		w.mu.Unlock()
		if known[uid] || hasWorker {
			continue
		}
		if err := w.removeOrphan(ctx, rp); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("remove orphaned pods: %w", errors.Join(errs...))
	}
	return nil
}

// orphanGracePeriod is upstream's for runtime pods nobody knows: the
// minimum, since no spec says otherwise.
const orphanGracePeriod int64 = 1

func (w *Workers) removeOrphan(ctx context.Context, rp *kuberuntime.RuntimePod) error {
	w.log.Info("Removing orphaned pod", "pod", rp.Name, "namespace", rp.Namespace, "uid", rp.UID)
	ps, err := w.runtime.PodStatus(ctx, rp.UID, rp.Name, rp.Namespace)
	if err != nil {
		return err
	}
	grace := orphanGracePeriod
	if err := w.runtime.KillPod(ctx, nil, ps, &grace); err != nil {
		return fmt.Errorf("kill orphaned pod %s_%s(%s): %w", rp.Name, rp.Namespace, rp.UID, err)
	}
	if w.volumes != nil {
		if err := w.volumes.TearDown(ctx, rp.UID); err != nil {
			return fmt.Errorf("tear down volumes of orphaned pod %s_%s(%s): %w", rp.Name, rp.Namespace, rp.UID, err)
		}
	}
	if err := w.runtime.RemovePod(ctx, ps); err != nil {
		return fmt.Errorf("remove orphaned pod %s_%s(%s): %w", rp.Name, rp.Namespace, rp.UID, err)
	}
	return nil
}

// runWorker is a pod's goroutine: it works, then waits for a poke or its
// resync, until the pod is done with or ctx ends.
func (w *Workers) runWorker(ctx context.Context, pw *podWorker) {
	defer w.running.Done()
	for {
		next, done := w.work(ctx, pw)
		if done {
			return
		}
		var timer clock.Timer
		var fire <-chan time.Time
		if next > 0 {
			timer = w.clock.NewTimer(next)
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
		case <-pw.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// jittered is the resync period plus up to half again, so that pods do
// not all sync at once.
func (w *Workers) jittered() time.Duration {
	return wait.Jitter(w.resync, 0.5)
}

// work does what the pod needs now and returns when to come back (0: only
// when poked), or done when the worker is finished.
func (w *Workers) work(ctx context.Context, pw *podWorker) (time.Duration, bool) {
	for {
		w.mu.Lock()
		pod, removed, phase := pw.pod, pw.removed, pw.phase
		syncCtx, cancel := context.WithCancel(ctx)
		pw.cancelSync = cancel
		w.mu.Unlock()

		next, advance, done := w.step(ctx, syncCtx, pw, pod, removed, phase)
		cancel()
		w.mu.Lock()
		pw.cancelSync = nil
		if advance {
			pw.phase++
		}
		if done && pw.readded {
			pw.phase, pw.removed, pw.readded = syncing, false, false
			done, advance = false, true
		}
		if done {
			if w.workers[pw.uid] == pw {
				delete(w.workers, pw.uid)
			}
			w.finished[pw.uid] = true
		}
		w.mu.Unlock()
		if done || !advance {
			return next, done
		}
	}
}

// step does one phase's work. advance moves the worker to the next phase
// at once.
func (w *Workers) step(ctx, syncCtx context.Context, pw *podWorker, pod *corev1.Pod, removed bool, phase workerPhase) (next time.Duration, advance, done bool) {
	switch phase {
	case syncing:
		if removed || pod.DeletionTimestamp != nil || w.isTerminal(pod) {
			return 0, true, false
		}
		terminal, err := w.syncPod(syncCtx, pod)
		if errors.Is(err, errPodGone) {
			// The API no longer has the pod: terminate it as removed.
			w.markRemoved(pod.UID)
			return 0, true, false
		}
		if err != nil {
			w.log.Info("Sync pod failed", "pod", kuberuntime.FormatPod(pod), "err", err)
		}
		if terminal {
			return 0, true, false
		}
		if errors.Is(err, errVolumesNotReady) {
			return w.nextVolumeRetry(pw), false, false
		}
		pw.volumeRetry = 0
		return w.jittered(), false, false
	case terminating:
		if err := w.terminatePod(ctx, pod, removed); err != nil {
			w.log.Error("Terminate pod failed", "pod", kuberuntime.FormatPod(pod), "err", err)
			return w.jittered(), false, false
		}
		return 0, true, false
	default:
		finished, err := w.finishPod(ctx, pod, removed)
		if err != nil {
			w.log.Error("Finish pod failed", "pod", kuberuntime.FormatPod(pod), "err", err)
			return w.jittered(), false, false
		}
		return 0, false, finished
	}
}

func (w *Workers) markRemoved(uid types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pw, ok := w.workers[uid]; ok {
		pw.removed = true
	}
}

type discardRecorder struct{}

func (discardRecorder) Event(runtime.Object, string, string, string)          {}
func (discardRecorder) Eventf(runtime.Object, string, string, string, ...any) {}
func (discardRecorder) AnnotatedEventf(runtime.Object, map[string]string, string, string, string, ...any) {
}
