package job

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Name is the controller's name in the controller manager.
const Name = "job-controller"

// EventComponent is the source of the controller's events, upstream's.
const EventComponent = "job-controller"

// Upstream's timings.
const (
	// DefaultPodFailureBackOff delays the first replacement of a failed
	// pod; each further failure doubles it.
	DefaultPodFailureBackOff = 10 * time.Second
	// DefaultMaxPodFailureBackOff caps that delay.
	DefaultMaxPodFailureBackOff = 6 * time.Minute
	// syncBatchPeriod gathers the events of a Job's pods into one sync.
	syncBatchPeriod = time.Second
	// apiBackOff and maxAPIBackOff pace retries of failed syncs.
	apiBackOff    = time.Second
	maxAPIBackOff = time.Minute
	// maxUncountedPods keeps status.uncountedTerminatedPods below about
	// 20 KB; maxPodCreateDeletePerSync keeps a big Job from starving the
	// others.
	maxUncountedPods          = 500
	maxPodCreateDeletePerSync = 500
	// slowStartInitialBatchSize is the first batch of pod creations; each
	// batch that succeeds doubles the next.
	slowStartInitialBatchSize = 1
)

// Config tunes the controller; zero fields take the defaults.
type Config struct {
	PodFailureBackOff    time.Duration
	MaxPodFailureBackOff time.Duration
	// Clock drives back-off, deadlines and timestamps; tests pass a fake.
	Clock clock.WithTicker
	Log   *slog.Logger
}

func (cfg Config) withDefaults() Config {
	if cfg.PodFailureBackOff == 0 {
		cfg.PodFailureBackOff = DefaultPodFailureBackOff
	}
	if cfg.MaxPodFailureBackOff == 0 {
		cfg.MaxPodFailureBackOff = DefaultMaxPodFailureBackOff
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// Controller runs Jobs' pods and keeps their status. Its queue holds Job
// keys; a second queue holds pods whose tracking finalizer must go
// because no running Job counts them any more.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	cfg      Config
	clock    clock.WithTicker
	log      *slog.Logger

	jobLister batchlisters.JobLister
	podLister corelisters.PodLister
	synced    []cache.InformerSynced

	queue       workqueue.TypedRateLimitingInterface[string]
	orphanQueue workqueue.TypedRateLimitingInterface[string]

	expectations          *expectations
	finalizerExpectations *finalizerExpectations
	backoff               *backoffStore
}

// New registers the controller's handlers on the factory's Job and pod
// informers; it starts nothing. Events go through recorder, whose source
// should be EventComponent.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, cfg Config) *Controller {
	cfg = cfg.withDefaults()
	jobs := factory.Batch().V1().Jobs()
	pods := factory.Core().V1().Pods()
	newQueue := func(name string) workqueue.TypedRateLimitingInterface[string] {
		return workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](apiBackOff, maxAPIBackOff),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: name, Clock: cfg.Clock},
		)
	}
	c := &Controller{
		client:                client,
		recorder:              recorder,
		cfg:                   cfg,
		clock:                 cfg.Clock,
		log:                   cfg.Log.With("controller", Name),
		jobLister:             jobs.Lister(),
		podLister:             pods.Lister(),
		synced:                []cache.InformerSynced{jobs.Informer().HasSynced, pods.Informer().HasSynced},
		queue:                 newQueue("job"),
		orphanQueue:           newQueue("job_orphan_pod"),
		expectations:          newExpectations(cfg.Clock.Now),
		finalizerExpectations: newFinalizerExpectations(),
		backoff:               newBackoffStore(),
	}
	_, _ = jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(obj, 0) },
		UpdateFunc: c.updateJob,
		DeleteFunc: c.deleteJob,
	})
	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: func(obj any) { c.deletePodEvent(obj, true) },
	})
	return c
}

// Run syncs Jobs with workers goroutines, and removes finalizers from
// orphaned pods with one more, until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.queue.ShutDown()
	defer c.orphanQueue.ShutDown()
	c.log.Info("Starting controller")
	defer c.log.Info("Shutting down controller")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { wait.UntilWithContext(ctx, c.worker, time.Second) })
	}
	wg.Go(func() { wait.UntilWithContext(ctx, c.orphanWorker, time.Second) })
	<-ctx.Done()
	c.queue.ShutDown()
	c.orphanQueue.ShutDown()
	wg.Wait()
}

func (c *Controller) worker(ctx context.Context) {
	for {
		key, quit := c.queue.Get()
		if quit {
			return
		}
		err := c.syncJob(ctx, key)
		if err == nil {
			c.queue.Forget(key)
		} else {
			// Conflicts included: the next attempt reads the latest Job.
			c.log.Info("Syncing job failed, requeuing", "job", key, "err", err)
			c.queue.AddRateLimited(key)
		}
		c.queue.Done(key)
	}
}

func (c *Controller) orphanWorker(ctx context.Context) {
	for {
		key, quit := c.orphanQueue.Get()
		if quit {
			return
		}
		if err := c.syncOrphanPod(ctx, key); err != nil {
			c.log.Info("Removing finalizer of orphan pod failed, requeuing", "pod", key, "err", err)
			c.orphanQueue.AddRateLimited(key)
		} else {
			c.orphanQueue.Forget(key)
		}
		c.orphanQueue.Done(key)
	}
}

func (c *Controller) enqueue(obj any, delay time.Duration) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.queue.AddAfter(key, delay)
}

func (c *Controller) enqueueOrphanPod(pod *corev1.Pod) {
	c.orphanQueue.Add(pod.Namespace + "/" + pod.Name)
}

func (c *Controller) updateJob(oldObj, newObj any) {
	old, cur := oldObj.(*batchv1.Job), newObj.(*batchv1.Job)
	// A spec change is acted on at once; status changes, usually the
	// controller's own, are batched with the pod events.
	if cur.Generation == old.Generation {
		c.enqueue(cur, syncBatchPeriod)
	} else {
		c.enqueue(cur, 0)
	}
	if isFinished(cur) {
		c.cleanupPodFinalizers(cur)
	}
	// A new deadline needs a sync when it passes.
	if cur.Status.StartTime != nil && cur.Spec.ActiveDeadlineSeconds != nil &&
		(old.Spec.ActiveDeadlineSeconds == nil || *old.Spec.ActiveDeadlineSeconds != *cur.Spec.ActiveDeadlineSeconds) {
		total := time.Duration(*cur.Spec.ActiveDeadlineSeconds) * time.Second
		c.enqueue(cur, total-c.clock.Since(cur.Status.StartTime.Time))
	}
}

func (c *Controller) deleteJob(obj any) {
	c.enqueue(obj, 0)
	job, ok := obj.(*batchv1.Job)
	if !ok {
		tombstone, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if job, ok = tombstone.Obj.(*batchv1.Job); !ok {
			return
		}
	}
	c.cleanupPodFinalizers(job)
}

// cleanupPodFinalizers queues the Job's pods that still hold a finalizer
// for the orphan worker: a finished or deleted Job no longer syncs them.
func (c *Controller) cleanupPodFinalizers(job *batchv1.Job) {
	selector, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return
	}
	pods, _ := c.podLister.Pods(job.Namespace).List(selector)
	for _, pod := range pods {
		if metav1.IsControlledBy(pod, job) && hasTrackingFinalizer(pod) {
			c.enqueueOrphanPod(pod)
		}
	}
}

// resolveControllerRef returns the Job a controller reference names, if
// it is still that Job.
func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *batchv1.Job {
	if ref.Kind != controllerKind.Kind {
		return nil
	}
	job, err := c.jobLister.Jobs(namespace).Get(ref.Name)
	if err != nil || job.UID != ref.UID {
		return nil
	}
	return job
}

// jobsSelecting are the Jobs whose selector matches an orphan pod: one
// of them may adopt it.
func (c *Controller) jobsSelecting(pod *corev1.Pod) []*batchv1.Job {
	jobs, err := c.jobLister.Jobs(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*batchv1.Job
	for _, job := range jobs {
		selector, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
		if err != nil || selector.Empty() || !selector.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, job)
	}
	return out
}

func jobKey(job *batchv1.Job) string { return job.Namespace + "/" + job.Name }

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// A pod that shows up already being deleted (after a restart)
		// is not a creation the controller waits for.
		c.deletePodEvent(pod, false)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if job := c.resolveControllerRef(pod.Namespace, ref); job != nil {
			c.expectations.creationObserved(jobKey(job))
			c.enqueue(job, syncBatchPeriod)
		}
		return
	}
	if hasTrackingFinalizer(pod) {
		c.enqueueOrphanPod(pod)
	}
	for _, job := range c.jobsSelecting(pod) {
		c.enqueue(job, syncBatchPeriod)
	}
}

func (c *Controller) updatePod(oldObj, newObj any) {
	old, cur := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	if cur.ResourceVersion == old.ResourceVersion {
		return // a resync
	}
	if cur.DeletionTimestamp != nil {
		// A graceful deletion has begun: the Job may replace the pod
		// now rather than when it is gone.
		c.deletePodEvent(cur, false)
		return
	}
	// Whether old had it does not matter: during an ownership transfer
	// the finalizer may come and go within one event.
	finalizerRemoved := !hasTrackingFinalizer(cur)
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if job := c.resolveControllerRef(old.Namespace, oldRef); job != nil {
			if finalizerRemoved {
				c.finalizerExpectations.removalObserved(jobKey(job), string(cur.UID))
			}
			c.enqueue(job, syncBatchPeriod)
		}
	}
	if curRef != nil {
		if job := c.resolveControllerRef(cur.Namespace, curRef); job != nil {
			if finalizerRemoved {
				c.finalizerExpectations.removalObserved(jobKey(job), string(cur.UID))
			}
			c.enqueue(job, syncBatchPeriod)
		}
		return
	}
	if hasTrackingFinalizer(cur) {
		c.enqueueOrphanPod(cur)
	}
	if refChanged || !reflect.DeepEqual(cur.Labels, old.Labels) {
		for _, job := range c.jobsSelecting(cur) {
			c.enqueue(job, syncBatchPeriod)
		}
	}
}

// deletePodEvent handles a pod's deletion; final is false for a pod that
// only started being deleted.
func (c *Controller) deletePodEvent(obj any, final bool) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tombstone, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tombstone.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	ref := metav1.GetControllerOf(pod)
	hasFinalizer := hasTrackingFinalizer(pod)
	if ref == nil {
		if hasFinalizer {
			c.enqueueOrphanPod(pod)
		}
		return
	}
	job := c.resolveControllerRef(pod.Namespace, ref)
	if job == nil || isFinished(job) {
		// No sync of that Job will remove the finalizer.
		if hasFinalizer {
			c.enqueueOrphanPod(pod)
		}
		return
	}
	key := jobKey(job)
	c.expectations.deletionObserved(key)
	if final || !hasFinalizer {
		c.finalizerExpectations.removalObserved(key, string(pod.UID))
	}
	c.enqueue(job, syncBatchPeriod)
}

// syncOrphanPod removes the tracking finalizer from a pod no running Job
// counts: without owner, owned by a finished Job, or by one that is gone.
func (c *Controller) syncOrphanPod(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	pod, err := c.podLister.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if ref.Kind != controllerKind.Kind || ref.APIVersion != batchv1.SchemeGroupVersion.String() {
			return nil // another controller's finalizer to manage
		}
		if job := c.resolveControllerRef(pod.Namespace, ref); job != nil && (managedElsewhere(job) || !isFinished(job)) {
			return nil // adopted meanwhile, or not ours to touch
		}
	}
	patch := removeTrackingFinalizerPatch(pod)
	if patch == nil {
		return nil
	}
	if err := c.patchPod(ctx, namespace, name, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove tracking finalizer of pod %s: %w", key, err)
	}
	return nil
}
