// Package queue is the scheduler's queue of pods waiting for a node, after
// upstream's PriorityQueue: an active queue ordered by priority then age,
// a backoff queue of pods serving their retry delay, the unschedulable
// pods, which wait for a cluster event that may let them fit, and the
// pods held back by scheduling gates. Pods that do not fit are retried
// when the cluster changes, not by polling.
package queue

import (
	"container/heap"
	"context"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"
)

// Upstream's defaults.
const (
	DefaultPodInitialBackoff = 1 * time.Second
	DefaultPodMaxBackoff     = 10 * time.Second
	// DefaultPodMaxInUnschedulable is how long an unschedulable pod waits
	// for an event before it is retried anyway.
	DefaultPodMaxInUnschedulable = 5 * time.Minute
	// DefaultUnschedulableFlushInterval is how often the queue looks for
	// such pods; DefaultBackoffFlushInterval how often for pods whose
	// backoff is over.
	DefaultUnschedulableFlushInterval = 30 * time.Second
	DefaultBackoffFlushInterval       = 1 * time.Second
)

// Config tunes a Queue; zero fields take upstream's defaults.
type Config struct {
	Clock                      clock.WithTicker
	PodInitialBackoff          time.Duration
	PodMaxBackoff              time.Duration
	PodMaxInUnschedulable      time.Duration
	UnschedulableFlushInterval time.Duration
	BackoffFlushInterval       time.Duration
}

func (c *Config) defaults() {
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	set := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	set(&c.PodInitialBackoff, DefaultPodInitialBackoff)
	set(&c.PodMaxBackoff, DefaultPodMaxBackoff)
	set(&c.PodMaxInUnschedulable, DefaultPodMaxInUnschedulable)
	set(&c.UnschedulableFlushInterval, DefaultUnschedulableFlushInterval)
	set(&c.BackoffFlushInterval, DefaultBackoffFlushInterval)
}

// QueuedPod is a pod in the queue and its scheduling history.
type QueuedPod struct {
	Pod *corev1.Pod
	// Timestamp is when the pod last entered the queue;
	// InitialAttemptTimestamp when it was first tried (zero until then).
	Timestamp               time.Time
	InitialAttemptTimestamp time.Time
	Attempts                int
	// UnschedulableCount counts failures to fit; ConsecutiveErrors
	// failures of another kind (the API server refusing a binding), which
	// back off on their own count.
	UnschedulableCount int
	ConsecutiveErrors  int
	// UnschedulablePlugins rejected the pod in its last attempt; only the
	// events that concern them bring it back. None means it failed for
	// another reason and any event may help.
	UnschedulablePlugins sets.Set[string]

	backoffExpiry time.Time
	index         int
}

// Counts are the pods in each part of the queue.
type Counts struct {
	Active, Backoff, Unschedulable, Gated int
}

// inFlight is a pod being tried, and what happened to it meanwhile.
type inFlight struct {
	updated *corev1.Pod
	deleted bool
}

// Queue is safe for concurrent use.
type Queue struct {
	cfg  Config
	mu   sync.Mutex
	cond *sync.Cond

	active        *podHeap
	backoff       *podHeap // failed to fit: may be tried early when idle
	errorBackoff  *podHeap // failed otherwise: must wait out the backoff
	unschedulable map[string]*QueuedPod
	gated         map[string]*QueuedPod
	inFlight      map[string]*inFlight

	// schedulingCycle counts attempts; moveRequestCycle is the cycle
	// during which the last cluster event arrived. A pod whose attempt
	// overlapped an event is not parked as unschedulable: the event may
	// already have made room for it.
	schedulingCycle  int64
	moveRequestCycle int64
	closed           bool
}

// New returns an empty Queue.
func New(cfg Config) *Queue {
	cfg.defaults()
	q := &Queue{
		cfg:              cfg,
		active:           newHeap(activeLess),
		backoff:          newHeap(backoffLess),
		errorBackoff:     newHeap(backoffLess),
		unschedulable:    map[string]*QueuedPod{},
		gated:            map[string]*QueuedPod{},
		inFlight:         map[string]*inFlight{},
		moveRequestCycle: -1,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Key is how the queue names a pod.
func Key(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// Run moves pods whose backoff is over to the active queue, and retries
// pods left unschedulable too long, until ctx ends; then it closes the
// queue.
func (q *Queue) Run(ctx context.Context) {
	backoff := q.cfg.Clock.NewTicker(q.cfg.BackoffFlushInterval)
	defer backoff.Stop()
	unschedulable := q.cfg.Clock.NewTicker(q.cfg.UnschedulableFlushInterval)
	defer unschedulable.Stop()
	for {
		select {
		case <-ctx.Done():
			q.Close()
			return
		case <-backoff.C():
			q.flushBackoffCompleted()
		case <-unschedulable.C():
			q.flushUnschedulableLeftover()
		}
	}
}

// Close wakes Pop for good.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// Add queues a new pod that needs a node.
func (q *Queue) Add(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := Key(pod)
	if f, ok := q.inFlight[key]; ok {
		f.updated = pod
		return
	}
	if qp := q.find(key); qp != nil {
		qp.Pod = pod
		q.reposition(qp)
		return
	}
	q.enqueue(&QueuedPod{Pod: pod, Timestamp: q.cfg.Clock.Now()})
}

// enqueue puts a new or ungated pod where it belongs: held by its gates, or
// active.
func (q *Queue) enqueue(qp *QueuedPod) {
	if len(qp.Pod.Spec.SchedulingGates) > 0 {
		q.gated[Key(qp.Pod)] = qp
		return
	}
	heap.Push(q.active, qp)
	q.cond.Broadcast()
}

// Update takes a new version of a pod that still needs a node. A pod
// parked as unschedulable is retried if its spec or labels changed; a
// status change (the scheduler's own condition) does not count.
func (q *Queue) Update(oldPod, newPod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := Key(newPod)
	if f, ok := q.inFlight[key]; ok {
		if oldPod == nil || isPodUpdated(oldPod, newPod) {
			f.updated = newPod
		}
		return
	}
	if qp, ok := q.gated[key]; ok {
		qp.Pod = newPod
		if len(newPod.Spec.SchedulingGates) == 0 {
			delete(q.gated, key)
			q.enqueue(qp)
		}
		return
	}
	if qp, ok := q.unschedulable[key]; ok {
		qp.Pod = newPod
		if oldPod == nil || isPodUpdated(oldPod, newPod) {
			delete(q.unschedulable, key)
			q.requeue(qp)
		}
		return
	}
	if qp := q.find(key); qp != nil {
		qp.Pod = newPod
		q.reposition(qp)
		return
	}
	q.enqueue(&QueuedPod{Pod: newPod, Timestamp: q.cfg.Clock.Now()})
}

// Delete forgets a pod: deleted, bound elsewhere, or no longer ours.
func (q *Queue) Delete(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := Key(pod)
	if f, ok := q.inFlight[key]; ok {
		f.deleted = true
	}
	delete(q.unschedulable, key)
	delete(q.gated, key)
	for _, h := range []*podHeap{q.active, q.backoff, q.errorBackoff} {
		if qp := h.get(key); qp != nil {
			heap.Remove(h, qp.index)
		}
	}
}

// Pop returns the next pod to try, waiting for one; false once the queue
// is closed. When no pod is active, a pod still backing off after failing
// to fit is tried at once (upstream's SchedulerPopFromBackoffQ): it only
// got there because the cluster changed.
func (q *Queue) Pop() (*QueuedPod, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 && q.backoff.Len() == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, false
	}
	var qp *QueuedPod
	if q.active.Len() > 0 {
		qp = heap.Pop(q.active).(*QueuedPod)
	} else {
		qp = heap.Pop(q.backoff).(*QueuedPod)
	}
	q.schedulingCycle++
	qp.Attempts++
	if qp.InitialAttemptTimestamp.IsZero() {
		qp.InitialAttemptTimestamp = q.cfg.Clock.Now()
	}
	q.inFlight[Key(qp.Pod)] = &inFlight{}
	return qp, true
}

// SchedulingCycle is the number of pods popped so far; an attempt's
// failure is reported with the cycle it started in.
func (q *Queue) SchedulingCycle() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.schedulingCycle
}

// Done ends the attempt of a pod that will not come back: bound, or gone.
func (q *Queue) Done(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, Key(pod))
}

// AddUnschedulable takes back a pod whose attempt, begun in cycle, failed.
// A pod that failed to fit waits for an event as unschedulable, unless an
// event or an update of its own came during the attempt; then, like a pod
// that failed for another reason, it backs off and is retried.
func (q *Queue) AddUnschedulable(qp *QueuedPod, cycle int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := Key(qp.Pod)
	f := q.inFlight[key]
	delete(q.inFlight, key)
	if f != nil && f.deleted {
		return
	}
	if q.find(key) != nil {
		return
	}
	if f != nil && f.updated != nil {
		qp.Pod = f.updated
	}
	now := q.cfg.Clock.Now()
	qp.Timestamp = now
	if len(qp.UnschedulablePlugins) == 0 {
		qp.ConsecutiveErrors++
	} else {
		qp.UnschedulableCount++
		qp.ConsecutiveErrors = 0
	}
	qp.backoffExpiry = now.Add(q.backoffDuration(qp))
	if len(qp.UnschedulablePlugins) == 0 || q.moveRequestCycle >= cycle || f != nil && f.updated != nil {
		q.requeue(qp)
		return
	}
	q.unschedulable[key] = qp
}

// MoveAll retries the unschedulable pods that a cluster event may help:
// those rejected by one of plugins, or for no plugin's reason.
func (q *Queue) MoveAll(plugins ...string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for key, qp := range q.unschedulable {
		if len(qp.UnschedulablePlugins) == 0 || qp.UnschedulablePlugins.HasAny(plugins...) {
			delete(q.unschedulable, key)
			q.requeue(qp)
		}
	}
	q.moveRequestCycle = q.schedulingCycle
}

// requeue puts a pod that was tried before into the backoff queue, or the
// active one if its backoff is over.
func (q *Queue) requeue(qp *QueuedPod) {
	switch {
	case !q.cfg.Clock.Now().Before(qp.backoffExpiry):
		heap.Push(q.active, qp)
	case qp.ConsecutiveErrors > 0:
		heap.Push(q.errorBackoff, qp)
	default:
		heap.Push(q.backoff, qp)
	}
	q.cond.Broadcast()
}

// backoffDuration doubles from the initial backoff with every failure, up
// to the maximum.
func (q *Queue) backoffDuration(qp *QueuedPod) time.Duration {
	count := qp.UnschedulableCount
	if qp.ConsecutiveErrors > 0 {
		count = qp.ConsecutiveErrors
	}
	if count == 0 {
		return 0
	}
	d := q.cfg.PodInitialBackoff
	for i := 1; i < count; i++ {
		if d > q.cfg.PodMaxBackoff-d {
			return q.cfg.PodMaxBackoff
		}
		d += d
	}
	return min(d, q.cfg.PodMaxBackoff)
}

func (q *Queue) flushBackoffCompleted() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.cfg.Clock.Now()
	for _, h := range []*podHeap{q.backoff, q.errorBackoff} {
		for h.Len() > 0 && !now.Before(h.peek().backoffExpiry) {
			heap.Push(q.active, heap.Pop(h))
			q.cond.Broadcast()
		}
	}
}

func (q *Queue) flushUnschedulableLeftover() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.cfg.Clock.Now()
	for key, qp := range q.unschedulable {
		if now.Sub(qp.Timestamp) > q.cfg.PodMaxInUnschedulable {
			delete(q.unschedulable, key)
			q.requeue(qp)
		}
	}
}

// Counts returns how many pods wait in each part of the queue.
func (q *Queue) Counts() Counts {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Counts{
		Active:        q.active.Len(),
		Backoff:       q.backoff.Len() + q.errorBackoff.Len(),
		Unschedulable: len(q.unschedulable),
		Gated:         len(q.gated),
	}
}

// find returns the pod if it waits in one of the heaps.
func (q *Queue) find(key string) *QueuedPod {
	for _, h := range []*podHeap{q.active, q.backoff, q.errorBackoff} {
		if qp := h.get(key); qp != nil {
			return qp
		}
	}
	return nil
}

// reposition restores heap order after a pod in a heap changed.
func (q *Queue) reposition(qp *QueuedPod) {
	for _, h := range []*podHeap{q.active, q.backoff, q.errorBackoff} {
		if h.get(Key(qp.Pod)) == qp {
			heap.Fix(h, qp.index)
			return
		}
	}
}

// isPodUpdated is upstream's: whether anything but the status and the
// bookkeeping fields changed.
func isPodUpdated(oldPod, newPod *corev1.Pod) bool {
	strip := func(p *corev1.Pod) *corev1.Pod {
		c := p.DeepCopy()
		c.ResourceVersion = ""
		c.Generation = 0
		c.ManagedFields = nil
		c.Finalizers = nil
		c.Status = corev1.PodStatus{}
		return c
	}
	return !reflect.DeepEqual(strip(oldPod), strip(newPod))
}

func priority(pod *corev1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

// activeLess is upstream's PrioritySort: higher priority first, then the
// pod that entered the queue first.
func activeLess(a, b *QueuedPod) bool {
	pa, pb := priority(a.Pod), priority(b.Pod)
	return pa > pb || pa == pb && a.Timestamp.Before(b.Timestamp)
}

func backoffLess(a, b *QueuedPod) bool { return a.backoffExpiry.Before(b.backoffExpiry) }

// podHeap is a heap of pods with an index by key.
type podHeap struct {
	items []*QueuedPod
	byKey map[string]*QueuedPod
	less  func(a, b *QueuedPod) bool
}

func newHeap(less func(a, b *QueuedPod) bool) *podHeap {
	return &podHeap{byKey: map[string]*QueuedPod{}, less: less}
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}

func (h *podHeap) Push(x any) {
	qp := x.(*QueuedPod)
	qp.index = len(h.items)
	h.items = append(h.items, qp)
	h.byKey[Key(qp.Pod)] = qp
}

func (h *podHeap) Pop() any {
	last := len(h.items) - 1
	qp := h.items[last]
	h.items[last] = nil
	h.items = h.items[:last]
	delete(h.byKey, Key(qp.Pod))
	return qp
}

func (h *podHeap) peek() *QueuedPod { return h.items[0] }

func (h *podHeap) get(key string) *QueuedPod { return h.byKey[key] }
