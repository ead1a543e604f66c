// Package ttlafterfinished is upstream's ttl-after-finished-controller:
// a Job with spec.ttlSecondsAfterFinished is deleted, with its pods in the
// background, that many seconds after it finished (the last transition
// of its Complete or Failed condition).
//
// Each Job is queued for the moment its TTL runs out; just before
// deleting, the Job is read again from the API server, so that a TTL
// changed meanwhile is honoured, and the deletion is conditional on the
// Job's UID, so that a new Job of the same name is never deleted.
package ttlafterfinished

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Name is the controller's name in the controller manager.
const Name = "ttl-after-finished-controller"

// Config tunes the controller; zero fields take the defaults.
type Config struct {
	// Clock decides when TTLs run out and drives the requeues; tests
	// pass a fake.
	Clock clock.WithTicker
	Log   *slog.Logger
}

// Controller deletes finished Jobs whose TTL ran out. Its queue holds Job
// keys.
type Controller struct {
	client    kubernetes.Interface
	clock     clock.WithTicker
	log       *slog.Logger
	jobLister batchlisters.JobLister
	synced    cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's handlers on the factory's Job informer;
// it starts nothing.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, cfg Config) *Controller {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	jobs := factory.Batch().V1().Jobs()
	c := &Controller{
		client:    client,
		clock:     cfg.Clock,
		log:       cfg.Log.With("controller", Name),
		jobLister: jobs.Lister(),
		synced:    jobs.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "ttl_jobs_to_delete", Clock: cfg.Clock},
		),
	}
	_, _ = jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueIfDue,
		UpdateFunc: func(_, obj any) { c.enqueueIfDue(obj) },
	})
	return c
}

// Run deletes expired Jobs with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.queue.ShutDown()
	c.log.Info("Starting controller")
	defer c.log.Info("Shutting down controller")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { wait.UntilWithContext(ctx, c.worker, time.Second) })
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

func (c *Controller) enqueueIfDue(obj any) {
	job, ok := obj.(*batchv1.Job)
	if !ok || job.DeletionTimestamp != nil || !needsCleanup(job) {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(job)
	if err != nil {
		return
	}
	c.queue.Add(key)
}

func (c *Controller) worker(ctx context.Context) {
	for {
		key, quit := c.queue.Get()
		if quit {
			return
		}
		if err := c.processJob(ctx, key); err != nil {
			c.log.Info("Cleaning up job failed, requeuing", "job", key, "err", err)
			c.queue.AddRateLimited(key)
		} else {
			c.queue.Forget(key)
		}
		c.queue.Done(key)
	}
}

// processJob deletes the Job if its TTL ran out, or queues it for when
// it will.
func (c *Controller) processJob(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	job, err := c.jobLister.Jobs(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if expired, err := c.processTTL(key, job); err != nil || !expired {
		return err
	}
	// The cache may be stale: the TTL may have been changed or removed.
	fresh, err := c.client.BatchV1().Jobs(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get job %s: %w", key, err)
	}
	if expired, err := c.processTTL(key, fresh); err != nil || !expired {
		return err
	}
	background := metav1.DeletePropagationBackground
	c.log.Info("Cleaning up job", "job", key)
	err = c.client.BatchV1().Jobs(namespace).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: &background,
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete job %s: %w", key, err)
	}
	return nil
}

// processTTL reports whether the Job's TTL ran out; if it will later,
// the Job is queued for then.
func (c *Controller) processTTL(key string, job *batchv1.Job) (bool, error) {
	if job.DeletionTimestamp != nil || !needsCleanup(job) {
		return false, nil
	}
	now := c.clock.Now()
	finishedAt, err := finishTime(job)
	if err != nil {
		return false, err
	}
	if finishedAt.After(now) {
		c.log.Info("Found Job finished in the future. This is likely due to time skew in the cluster. Job cleanup will be deferred.", "job", key)
	}
	left := finishedAt.Add(time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second).Sub(now)
	if left <= 0 {
		return true, nil
	}
	c.queue.AddAfter(key, left)
	return false, nil
}

// needsCleanup reports a finished Job with a TTL.
func needsCleanup(job *batchv1.Job) bool {
	if job.Spec.TTLSecondsAfterFinished == nil {
		return false
	}
	_, finished := finishedCondition(job)
	return finished
}

func finishedCondition(job *batchv1.Job) (*batchv1.JobCondition, bool) {
	for i := range job.Status.Conditions {
		c := &job.Status.Conditions[i]
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c, true
		}
	}
	return nil, false
}

// finishTime is when the Job finished: its terminal condition's last
// transition, which upstream requires.
func finishTime(job *batchv1.Job) (time.Time, error) {
	c, ok := finishedCondition(job)
	if !ok {
		return time.Time{}, fmt.Errorf("unable to find the status of the finished Job %s/%s", job.Namespace, job.Name)
	}
	if c.LastTransitionTime.IsZero() {
		return time.Time{}, fmt.Errorf("unable to find the time when the Job %s/%s finished", job.Namespace, job.Name)
	}
	return c.LastTransitionTime.Time, nil
}
