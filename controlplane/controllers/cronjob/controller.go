// Package cronjob is upstream's cronjob-controller (the v2 controller):
// it creates a CronJob's Jobs on its schedule, named
// <cronjob>-<scheduled time in minutes since the epoch> so that one
// activation never runs twice, honours startingDeadlineSeconds, the
// concurrency policy (Allow, Forbid, Replace), suspend and the time zone,
// keeps status.active, lastScheduleTime and lastSuccessfulTime, and
// deletes finished Jobs beyond the history limits.
//
// Instead of polling every CronJob every ten seconds, as the first
// controller did, each CronJob is requeued for its next activation. The
// schedule grammar is robfig/cron's standard one, which upstream uses,
// reimplemented here.
package cronjob

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Name is the controller's name in the controller manager.
const Name = "cronjob-controller"

// EventComponent is the source of the controller's events, upstream's.
const EventComponent = "cronjob-controller"

var controllerKind = batchv1.SchemeGroupVersion.WithKind("CronJob")

// Config tunes the controller; zero fields take the defaults.
type Config struct {
	// Clock decides when activations are due and drives the requeues;
	// tests pass a fake.
	Clock clock.WithTicker
	Log   *slog.Logger
}

// Controller runs CronJobs. Its queue holds CronJob keys.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	clock    clock.WithTicker
	log      *slog.Logger

	jobLister     batchlisters.JobLister
	cronJobLister batchlisters.CronJobLister
	synced        []cache.InformerSynced

	queue workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's handlers on the factory's Job and
// CronJob informers; it starts nothing. Events go through recorder,
// whose source should be EventComponent.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, cfg Config) *Controller {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	jobs := factory.Batch().V1().Jobs()
	cronJobs := factory.Batch().V1().CronJobs()
	c := &Controller{
		client:        client,
		recorder:      recorder,
		clock:         cfg.Clock,
		log:           cfg.Log.With("controller", Name),
		jobLister:     jobs.Lister(),
		cronJobLister: cronJobs.Lister(),
		synced:        []cache.InformerSynced{jobs.Informer().HasSynced, cronJobs.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "cronjob", Clock: cfg.Clock},
		),
	}
	_, _ = jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addJob,
		UpdateFunc: c.updateJob,
		DeleteFunc: c.jobDeleted,
	})
	_, _ = cronJobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(obj, 0) },
		UpdateFunc: c.updateCronJob,
		DeleteFunc: func(obj any) { c.enqueue(obj, 0) },
	})
	return c
}

// Run syncs CronJobs with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.queue.ShutDown()
	c.log.Info("Starting controller")
	defer c.log.Info("Shutting down controller")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
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

func (c *Controller) worker(ctx context.Context) {
	for {
		key, quit := c.queue.Get()
		if quit {
			return
		}
		requeueAfter, err := c.sync(ctx, key)
		switch {
		case err != nil:
			// Conflicts included: the next attempt reads the latest
			// CronJob.
			c.log.Info("Syncing cronjob failed, requeuing", "cronjob", key, "err", err)
			c.queue.AddRateLimited(key)
		case requeueAfter != nil:
			c.queue.Forget(key)
			c.queue.AddAfter(key, *requeueAfter)
		default:
			c.queue.Forget(key)
		}
		c.queue.Done(key)
	}
}

func (c *Controller) enqueue(obj any, after time.Duration) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.queue.AddAfter(key, after)
}

// updateCronJob requeues for the next activation when the schedule
// changed, at once otherwise.
func (c *Controller) updateCronJob(oldObj, newObj any) {
	old, cur := oldObj.(*batchv1.CronJob), newObj.(*batchv1.CronJob)
	sameZone := old.Spec.TimeZone == nil && cur.Spec.TimeZone == nil ||
		old.Spec.TimeZone != nil && cur.Spec.TimeZone != nil && *old.Spec.TimeZone == *cur.Spec.TimeZone
	if old.Spec.Schedule == cur.Spec.Schedule && sameZone {
		c.enqueue(cur, 0)
		return
	}
	sched, err := ParseStandard(c.formatSchedule(cur, false))
	if err != nil {
		c.recorder.Eventf(cur, corev1.EventTypeWarning, "UnParseableCronJobSchedule", "unparseable schedule for cronjob: %s", cur.Spec.Schedule)
		return
	}
	c.enqueue(cur, nextScheduleTimeDuration(cur, c.clock.Now(), sched))
}

// resolveControllerRef returns the CronJob a controller reference names,
// if it is still that CronJob.
func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *batchv1.CronJob {
	if ref.Kind != controllerKind.Kind {
		return nil
	}
	cj, err := c.cronJobLister.CronJobs(namespace).Get(ref.Name)
	if err != nil || cj.UID != ref.UID {
		return nil
	}
	return cj
}

func (c *Controller) addJob(obj any) {
	job := obj.(*batchv1.Job)
	if job.DeletionTimestamp != nil {
		c.jobDeleted(job)
		return
	}
	if ref := metav1.GetControllerOf(job); ref != nil {
		if cj := c.resolveControllerRef(job.Namespace, ref); cj != nil {
			c.enqueue(cj, 0)
		}
	}
}

func (c *Controller) updateJob(oldObj, newObj any) {
	old, cur := oldObj.(*batchv1.Job), newObj.(*batchv1.Job)
	if old.ResourceVersion == cur.ResourceVersion {
		return // a resync
	}
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	if !reflect.DeepEqual(curRef, oldRef) && oldRef != nil {
		if cj := c.resolveControllerRef(old.Namespace, oldRef); cj != nil {
			c.enqueue(cj, 0)
		}
	}
	if curRef != nil {
		if cj := c.resolveControllerRef(cur.Namespace, curRef); cj != nil {
			c.enqueue(cj, 0)
		}
	}
}

func (c *Controller) jobDeleted(obj any) {
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
	if ref := metav1.GetControllerOf(job); ref != nil {
		if cj := c.resolveControllerRef(job.Namespace, ref); cj != nil {
			c.enqueue(cj, 0)
		}
	}
}

// sync makes one step for a CronJob and says when to come back.
func (c *Controller) sync(ctx context.Context, key string) (*time.Duration, error) {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, err
	}
	shared, err := c.cronJobLister.CronJobs(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	jobs, err := c.jobsOf(shared)
	if err != nil {
		return nil, err
	}
	// All changes go into one status update.
	cj := shared.DeepCopy()
	cleanedUp := c.cleanupFinishedJobs(ctx, cj, jobs)
	requeueAfter, changed, syncErr := c.syncCronJob(ctx, cj, jobs)
	if syncErr != nil {
		c.log.Info("Reconciling cronjob failed", "cronjob", key, "err", syncErr)
	}
	if cleanedUp || changed {
		if _, err := c.client.BatchV1().CronJobs(cj.Namespace).UpdateStatus(ctx, cj, metav1.UpdateOptions{}); err != nil {
			return nil, fmt.Errorf("update status of cronjob %s: %w", key, err)
		}
	}
	if requeueAfter != nil {
		return requeueAfter, nil
	}
	return nil, syncErr
}

// jobsOf lists the Jobs the CronJob controls, whatever their labels.
func (c *Controller) jobsOf(cj *batchv1.CronJob) ([]*batchv1.Job, error) {
	all, err := c.jobLister.Jobs(cj.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var jobs []*batchv1.Job
	for _, job := range all {
		if ref := metav1.GetControllerOf(job); ref != nil && ref.Kind == controllerKind.Kind && ref.Name == cj.Name {
			jobs = append(jobs, job)
		}
	}
	return jobs, nil
}

// syncCronJob brings status.active up to date and starts the activation
// that is due, if any. It returns when to come back and whether the
// status changed.
func (c *Controller) syncCronJob(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) (*time.Duration, bool, error) {
	now := c.clock.Now()
	changed := false
	children := map[types.UID]bool{}
	for _, j := range jobs {
		children[j.UID] = true
		found := inActiveList(cj, j.UID)
		finished, condition := finishedCondition(j)
		switch {
		case !found && !finished:
			// Perhaps the status update that listed it was not seen yet.
			fresh, err := c.client.BatchV1().CronJobs(cj.Namespace).Get(ctx, cj.Name, metav1.GetOptions{})
			if err != nil {
				return nil, changed, fmt.Errorf("get cronjob %s/%s: %w", cj.Namespace, cj.Name, err)
			}
			if inActiveList(fresh, j.UID) {
				*cj = *fresh
				continue
			}
			// Created by someone else (kubectl create job --from), or by
			// this controller just before a crash.
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnexpectedJob", "Saw a job that the controller did not create or forgot: %s", j.Name)
		case finished:
			if found {
				deleteFromActiveList(cj, j.UID)
				c.recorder.Eventf(cj, corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %v", j.Name, condition)
				changed = true
			}
			// A Job need not have been active to count as the last
			// success.
			if condition == batchv1.JobComplete && j.Status.CompletionTime != nil &&
				(cj.Status.LastSuccessfulTime == nil || j.Status.CompletionTime.After(cj.Status.LastSuccessfulTime.Time)) {
				cj.Status.LastSuccessfulTime = j.Status.CompletionTime
				changed = true
			}
		}
	}
	// A Job listed as active that no longer exists must not hold the
	// CronJob (Forbid) forever. The cache may lag: ask the server.
	for _, ref := range slices.Clone(cj.Status.Active) {
		if children[ref.UID] {
			continue
		}
		_, err := c.client.BatchV1().Jobs(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", ref.Name)
			deleteFromActiveList(cj, ref.UID)
			changed = true
		case err != nil:
			return nil, changed, fmt.Errorf("get job %s/%s: %w", ref.Namespace, ref.Name, err)
		}
	}

	if cj.DeletionTimestamp != nil {
		return nil, changed, nil
	}
	if tz := cj.Spec.TimeZone; tz != nil {
		if _, err := time.LoadLocation(*tz); err != nil {
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %s", *tz, err)
			return nil, changed, nil
		}
	}
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return nil, changed, nil
	}
	sched, err := ParseStandard(c.formatSchedule(cj, true))
	if err != nil {
		// A user error: nothing to do until the spec changes.
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return nil, changed, nil
	}
	scheduled, err := c.nextScheduleTime(cj, now, sched)
	if err != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "InvalidSchedule", "invalid schedule: %s : %s", cj.Spec.Schedule, err)
		return nil, changed, nil
	}
	next := func() *time.Duration { return new(nextScheduleTimeDuration(cj, now, sched)) }
	if scheduled == nil {
		return next(), changed, nil
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && scheduled.Add(time.Duration(*d)*time.Second).Before(now) {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "MissSchedule", "Missed scheduled time to start a job: %s", scheduled.UTC().Format(time.RFC1123Z))
		return next(), changed, nil
	}
	if inActiveListByName(cj, jobName(cj, *scheduled)) || cj.Status.LastScheduleTime != nil && cj.Status.LastScheduleTime.Time.Equal(*scheduled) {
		return next(), changed, nil // this activation ran already
	}
	if cj.Spec.ConcurrencyPolicy == batchv1.ForbidConcurrent && len(cj.Status.Active) > 0 {
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
		return next(), changed, nil
	}
	if cj.Spec.ConcurrencyPolicy == batchv1.ReplaceConcurrent {
		for _, ref := range slices.Clone(cj.Status.Active) {
			job, err := c.client.BatchV1().Jobs(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedGet", "Get job: %v", err)
				return nil, changed, fmt.Errorf("get job %s/%s to replace: %w", ref.Namespace, ref.Name, err)
			}
			if !c.deleteJob(ctx, cj, job) {
				return nil, changed, fmt.Errorf("could not replace job %s/%s", job.Namespace, job.Name)
			}
			changed = true
		}
	}

	req, err := jobFromTemplate(cj, *scheduled)
	if err != nil {
		return nil, changed, err
	}
	job, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, req, metav1.CreateOptions{})
	switch {
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil, changed, err
	case apierrors.IsAlreadyExists(err):
		// Created before, but the status update that listed it was lost;
		// unless someone else made it.
		existing, getErr := c.client.BatchV1().Jobs(req.Namespace).Get(ctx, req.Name, metav1.GetOptions{})
		if getErr != nil {
			return nil, changed, fmt.Errorf("get job %s/%s: %w", req.Namespace, req.Name, getErr)
		}
		if !metav1.IsControlledBy(existing, cj) || inActiveList(cj, existing.UID) {
			return nil, changed, nil
		}
		c.log.Info("Job already exists", "cronjob", cj.Namespace+"/"+cj.Name, "job", req.Name)
		job = existing
	case err != nil:
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return nil, changed, fmt.Errorf("create job %s/%s: %w", req.Namespace, req.Name, err)
	default:
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", job.Name)
	}
	// If the controller stops here, before the status update, the next
	// sync finds the Job by its name: it is not created twice.
	cj.Status.Active = append(cj.Status.Active, corev1.ObjectReference{
		Kind: "Job", APIVersion: "batch/v1", Namespace: job.Namespace, Name: job.Name,
		UID: job.UID, ResourceVersion: job.ResourceVersion,
	})
	cj.Status.LastScheduleTime = &metav1.Time{Time: *scheduled}
	return next(), true, nil
}

// cleanupFinishedJobs deletes the oldest finished Jobs beyond the
// history limits; it reports a status change.
func (c *Controller) cleanupFinishedJobs(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) bool {
	if cj.Spec.SuccessfulJobsHistoryLimit == nil && cj.Spec.FailedJobsHistoryLimit == nil {
		return false
	}
	var succeeded, failed []*batchv1.Job
	for _, j := range jobs {
		switch _, condition := finishedCondition(j); condition {
		case batchv1.JobComplete:
			succeeded = append(succeeded, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	changed := false
	if limit := cj.Spec.SuccessfulJobsHistoryLimit; limit != nil && c.removeOldestJobs(ctx, cj, succeeded, *limit) {
		changed = true
	}
	if limit := cj.Spec.FailedJobsHistoryLimit; limit != nil && c.removeOldestJobs(ctx, cj, failed, *limit) {
		changed = true
	}
	return changed
}

func (c *Controller) removeOldestJobs(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job, keep int32) bool {
	n := len(jobs) - int(keep)
	if n <= 0 {
		return false
	}
	slices.SortStableFunc(jobs, byStartTime)
	changed := false
	for _, j := range jobs[:n] {
		if c.deleteJob(ctx, cj, j) {
			changed = true
		}
	}
	return changed
}

// byStartTime orders Jobs oldest first, those not started last, by name
// when equal.
func byStartTime(a, b *batchv1.Job) int {
	switch {
	case a.Status.StartTime == nil && b.Status.StartTime != nil:
		return 1
	case a.Status.StartTime != nil && b.Status.StartTime == nil:
		return -1
	case a.Status.StartTime == nil || a.Status.StartTime.Equal(b.Status.StartTime):
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	case a.Status.StartTime.Before(b.Status.StartTime):
		return -1
	}
	return 1
}

// deleteJob deletes a Job with its pods (in the background, by the
// garbage collector) and drops it from status.active.
func (c *Controller) deleteJob(ctx context.Context, cj *batchv1.CronJob, job *batchv1.Job) bool {
	background := metav1.DeletePropagationBackground
	err := c.client.BatchV1().Jobs(job.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{PropagationPolicy: &background})
	if err != nil && !apierrors.IsNotFound(err) {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		c.log.Info("Deleting job failed", "cronjob", cj.Namespace+"/"+cj.Name, "job", job.Name, "err", err)
		return false
	}
	deleteFromActiveList(cj, job.UID)
	c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", job.Name)
	return true
}

// finishedCondition reports a Job with a terminal condition, and which.
func finishedCondition(j *batchv1.Job) (bool, batchv1.JobConditionType) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true, c.Type
		}
	}
	return false, ""
}

func inActiveList(cj *batchv1.CronJob, uid types.UID) bool {
	return slices.ContainsFunc(cj.Status.Active, func(r corev1.ObjectReference) bool { return r.UID == uid })
}

func inActiveListByName(cj *batchv1.CronJob, name string) bool {
	return slices.ContainsFunc(cj.Status.Active, func(r corev1.ObjectReference) bool {
		return r.Name == name && r.Namespace == cj.Namespace
	})
}

func deleteFromActiveList(cj *batchv1.CronJob, uid types.UID) {
	cj.Status.Active = slices.DeleteFunc(cj.Status.Active, func(r corev1.ObjectReference) bool { return r.UID == uid })
}
