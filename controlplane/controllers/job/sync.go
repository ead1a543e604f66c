package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"
)

// defaultManager is spec.managedBy of the Jobs this controller runs.
const defaultManager = "kubernetes.io/job-controller"

// Conditions' reasons and messages, and events, upstream's.
const (
	msgCompletionsReached   = "Reached expected number of succeeded pods"
	msgBackoffLimitExceeded = "Job has reached the specified backoff limit"
	msgDeadlineExceeded     = "Job was active longer than specified deadline"
)

// syncContext is what one sync of a Job learns and decides.
type syncContext struct {
	job        *batchv1.Job
	pods       []*corev1.Pod
	activePods []*corev1.Pod
	// finishedCondition is the verdict, once there is one: first the
	// interim SuccessCriteriaMet or FailureTarget condition, then the
	// terminal one that follows it.
	finishedCondition    *batchv1.JobCondition
	succeeded, failed    int32
	prevSucceededIndexes orderedIntervals
	succeededIndexes     orderedIntervals
	newBackoff           backoffRecord
	expectedRmFinalizers sets.Set[string]
	uncountedSucceeded   sets.Set[string]
	uncountedFailed      sets.Set[string]
	terminating          int32
	ready                int32
}

// syncJob makes one step toward the Job's desired state: pods created or
// deleted, finished pods counted, conditions set.
func (c *Controller) syncJob(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	shared, err := c.jobLister.Jobs(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.forget(key)
		c.finalizerExpectations.forget(key)
		c.backoff.remove(key)
		return nil
	}
	if err != nil {
		return err
	}
	if managedElsewhere(shared) {
		return nil
	}
	job := shared.DeepCopy()
	if isFinished(job) {
		c.backoff.remove(key)
		return nil
	}
	if m := job.Spec.CompletionMode; m != nil && *m != batchv1.NonIndexedCompletion && *m != batchv1.IndexedCompletion {
		c.recorder.Event(job, corev1.EventTypeWarning, "UnknownCompletionMode", "Skipped Job sync because completion mode is unknown")
		return nil
	}
	if job.Status.UncountedTerminatedPods == nil {
		job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	// Expectations are read before the pods: a pod created after this
	// point waits for the next sync rather than being missed.
	satisfied := c.expectations.satisfied(key)
	pods, err := c.podsForJob(ctx, job)
	if err != nil {
		return err
	}
	now := c.clock.Now()
	jc := &syncContext{
		job:                  job,
		pods:                 pods,
		activePods:           activePods(pods),
		expectedRmFinalizers: c.finalizerExpectations.expectedUIDs(key),
		uncountedSucceeded:   uidSet(job.Status.UncountedTerminatedPods.Succeeded),
		uncountedFailed:      uidSet(job.Status.UncountedTerminatedPods.Failed),
		terminating:          int32(len(terminatingPods(pods))),
	}
	jc.ready = countReady(jc.activePods)
	active := int32(len(jc.activePods))
	newSucceeded, newFailed := newFinishedPods(jc)
	jc.succeeded = job.Status.Succeeded + int32(len(newSucceeded)) + int32(jc.uncountedSucceeded.Len())
	jc.failed = job.Status.Failed + countedFailures(job, newFailed) + int32(jc.uncountedFailed.Len())

	if job.Status.StartTime == nil && !suspended(job) {
		start := metav1.NewTime(now)
		job.Status.StartTime = &start
	}
	jc.newBackoff = c.backoff.next(key, newSucceeded, newFailed)

	jc.finishedCondition = successCriteriaMet(job)
	// With SuccessCriteriaMet already set, the Job has succeeded: no
	// failure may overturn that.
	if jc.finishedCondition == nil {
		if target := findCondition(job.Status.Conditions, batchv1.JobFailureTarget); target != nil && target.Status == corev1.ConditionTrue {
			jc.finishedCondition = newCondition(batchv1.JobFailed, corev1.ConditionTrue, target.Reason, target.Message, now)
		} else if msg := failJobMessage(job, pods); msg != nil {
			jc.finishedCondition = newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonPodFailurePolicy, *msg, now)
		}
	}
	if jc.finishedCondition == nil {
		switch {
		case jc.failed > *job.Spec.BackoffLimit || pastBackoffLimitOnFailure(job, pods):
			jc.finishedCondition = newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonBackoffLimitExceeded, msgBackoffLimitExceeded, now)
		case c.pastActiveDeadline(job):
			jc.finishedCondition = newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonDeadlineExceeded, msgDeadlineExceeded, now)
		case job.Spec.ActiveDeadlineSeconds != nil && !suspended(job):
			c.queue.AddAfter(key, time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second-c.clock.Since(job.Status.StartTime.Time))
		}
	}
	if isIndexedJob(job) {
		jc.prevSucceededIndexes, jc.succeededIndexes = succeededIndexes(job, pods)
		jc.succeeded = int32(jc.succeededIndexes.total())
		if jc.finishedCondition == nil {
			if msg, met := matchSuccessPolicy(job.Spec.SuccessPolicy, *job.Spec.Completions, jc.succeededIndexes); met {
				jc.finishedCondition = newCondition(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, batchv1.JobReasonSuccessPolicy, msg, now)
			}
		}
	}

	suspendChanged := false
	var manageErr error
	if jc.finishedCondition != nil {
		deletedReady, deleted, err := c.deleteActivePods(ctx, job, jc.activePods)
		if deleted != active || !satisfied {
			// Pods may remain, or be missing from the cache: the verdict
			// waits for a sync that sees them all gone.
			jc.finishedCondition = nil
		}
		active -= deleted
		jc.terminating += deleted
		jc.ready -= deletedReady
		manageErr = err
	} else {
		managed := false
		if satisfied && job.DeletionTimestamp == nil {
			active, manageErr = c.manageJob(ctx, job, jc)
			managed = true
		}
		var complete bool
		if job.Spec.Completions == nil {
			// Any success means the work is done; the others finish.
			complete = jc.succeeded > 0 && active == 0
		} else {
			complete = jc.succeeded >= *job.Spec.Completions && active == 0
		}
		switch {
		case complete:
			jc.finishedCondition = newCondition(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, batchv1.JobReasonCompletionsReached, msgCompletionsReached, now)
		case managed && suspended(job):
			var changed bool
			job.Status.Conditions, changed = ensureCondition(job.Status.Conditions, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", now)
			if changed {
				suspendChanged = true
				c.recorder.Event(job, corev1.EventTypeNormal, "Suspended", "Job suspended")
			}
		case managed:
			var changed bool
			job.Status.Conditions, changed = ensureCondition(job.Status.Conditions, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", now)
			if changed {
				suspendChanged = true
				c.recorder.Event(job, corev1.EventTypeNormal, "Resumed", "Job resumed")
				// activeDeadlineSeconds counts time continuously active.
				start := metav1.NewTime(now)
				job.Status.StartTime = &start
			}
		}
	}

	needsUpdate := suspendChanged || active != job.Status.Active ||
		job.Status.Ready == nil || *job.Status.Ready != jc.ready ||
		job.Status.Terminating == nil || *job.Status.Terminating != jc.terminating
	job.Status.Active = active
	job.Status.Ready = new(jc.ready)
	job.Status.Terminating = new(jc.terminating)
	if err := c.trackStatusAndRemoveFinalizers(ctx, jc, needsUpdate); err != nil {
		return fmt.Errorf("track status of job %s: %w", key, err)
	}
	return manageErr
}

// podsForJob lists every pod of the namespace, not only those the
// selector matches, so that the Job's pods whose labels changed are
// released.
func (c *Controller) podsForJob(ctx context.Context, job *batchv1.Job) ([]*corev1.Pod, error) {
	pods, err := c.podLister.Pods(job.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	return c.claimPods(ctx, job, pods)
}

// manageJob creates or deletes pods toward the number that should run,
// and returns how many are active after it.
func (c *Controller) manageJob(ctx context.Context, job *batchv1.Job, jc *syncContext) (int32, error) {
	key := jobKey(job)
	active := int32(len(jc.activePods))
	if suspended(job) {
		toDelete := activePodsForRemoval(job, jc.activePods, int(active))
		c.expectations.expectDeletions(key, len(toDelete))
		removedReady, removed, err := c.deleteJobPods(ctx, job, key, toDelete)
		jc.terminating += removed
		jc.ready -= removedReady
		return active - removed, err
	}

	parallelism := *job.Spec.Parallelism
	var want int32
	switch {
	case job.Spec.Completions != nil:
		// Never more than the completions still missing.
		want = max(min(*job.Spec.Completions-jc.succeeded, parallelism), 0)
	case jc.succeeded > 0:
		// A success means the work is done: let the others finish.
		want = active
	default:
		want = parallelism
	}

	toDelete := activePodsForRemoval(job, jc.activePods, int(max(active-want, 0)))
	if len(toDelete) > maxPodCreateDeletePerSync {
		toDelete = toDelete[:maxPodCreateDeletePerSync]
	}
	if len(toDelete) > 0 {
		c.expectations.expectDeletions(key, len(toDelete))
		removedReady, removed, err := c.deleteJobPods(ctx, job, key, toDelete)
		jc.terminating += removed
		jc.ready -= removedReady
		// One sync deletes or creates, never both.
		return active - removed, err
	}

	var terminating int32
	if onlyReplaceFailedPods(job) {
		terminating = jc.terminating
	}
	diff := want - terminating - active
	if diff <= 0 {
		return active, nil
	}
	if remaining := jc.newBackoff.remaining(c.clock.Now(), c.cfg.PodFailureBackOff, c.cfg.MaxPodFailureBackOff); remaining > 0 {
		c.queue.AddAfter(key, max(remaining, syncBatchPeriod))
		return active, nil
	}
	diff = min(diff, maxPodCreateDeletePerSync)
	var indexes []int
	if isIndexedJob(job) {
		indexes = firstPendingIndexes(jc, int(diff), int(*job.Spec.Completions))
		diff = int32(len(indexes))
	}
	c.expectations.expectCreations(key, int(diff))
	active += diff

	template := job.Spec.Template.DeepCopy()
	if isIndexedJob(job) {
		addCompletionIndexEnv(template)
	}
	if !slices.Contains(template.Finalizers, batchv1.JobTrackingFinalizer) {
		template.Finalizers = append(template.Finalizers, batchv1.JobTrackingFinalizer)
	}
	var mu sync.Mutex
	var errs []error
	// Batches start at one pod and double while they succeed: a Job that
	// quota or admission refuses makes one failing request, not hundreds.
	for batch := min(diff, slowStartInitialBatchSize); diff > 0; batch = min(2*batch, diff) {
		failedBefore := len(errs)
		var wg sync.WaitGroup
		for range batch {
			ix := unknownCompletionIndex
			if len(indexes) > 0 {
				ix, indexes = indexes[0], indexes[1:]
			}
			wg.Go(func() {
				t, generateName := template, ""
				if ix != unknownCompletionIndex {
					t, generateName = withCompletionIndex(template, job.Name, ix)
				}
				if err := c.createPod(ctx, job, newPod(job, t, generateName)); err != nil {
					c.expectations.creationObserved(key)
					mu.Lock()
					active--
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		skipped := diff - batch
		if len(errs) > failedBefore && skipped > 0 {
			// The next sync tries again from a batch of one.
			active -= skipped
			for range skipped {
				c.expectations.creationObserved(key)
			}
			break
		}
		diff -= batch
	}
	return active, firstError(errs)
}

// activePodsForRemoval picks at least rmAtLeast active pods to delete:
// for an Indexed Job, first those without a valid index and the extra
// pods of repeated indexes; then the least advanced.
func activePodsForRemoval(job *batchv1.Job, pods []*corev1.Pod, rmAtLeast int) []*corev1.Pod {
	var rm, left []*corev1.Pod
	if isIndexedJob(job) {
		rm, left = duplicatedIndexPodsForRemoval(pods, int(*job.Spec.Completions))
	} else {
		left = slices.Clone(pods)
	}
	if len(rm) < rmAtLeast {
		sortForRemoval(left)
		rm = append(rm, left[:rmAtLeast-len(rm)]...)
	}
	return rm
}

// deleteActivePods deletes the pods of a Job that has a verdict, keeping
// their finalizers: they are counted as failed before they go. It returns
// how many ready pods and how many pods it deleted.
func (c *Controller) deleteActivePods(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod) (int32, int32, error) {
	return c.forEachPod(pods, func(pod *corev1.Pod) error {
		if err := c.deletePod(ctx, job, pod.Name); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return nil
	})
}

// deleteJobPods deletes pods the Job no longer wants (too many, or
// suspended) after removing their finalizers: such pods are not failures
// and are not counted.
func (c *Controller) deleteJobPods(ctx context.Context, job *batchv1.Job, key string, pods []*corev1.Pod) (int32, int32, error) {
	return c.forEachPod(pods, func(pod *corev1.Pod) error {
		err := func() error {
			if patch := removeTrackingFinalizerPatch(pod); patch != nil {
				if err := c.patchPod(ctx, pod.Namespace, pod.Name, patch); err != nil {
					return fmt.Errorf("remove tracking finalizer of pod %s/%s: %w", pod.Namespace, pod.Name, err)
				}
			}
			return c.deletePod(ctx, job, pod.Name)
		}()
		if err != nil {
			// The cache will not see this deletion.
			c.expectations.deletionObserved(key)
			if !apierrors.IsNotFound(err) {
				return err
			}
		}
		return nil
	})
}

// forEachPod runs do on the pods concurrently and counts the ready pods
// and all pods it succeeded for.
func (c *Controller) forEachPod(pods []*corev1.Pod, do func(*corev1.Pod) error) (ready, done int32, err error) {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, pod := range pods {
		wg.Go(func() {
			err := do(pod)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			done++
			if isPodReady(pod) {
				ready++
			}
		})
	}
	wg.Wait()
	return ready, done, firstError(errs)
}

// trackStatusAndRemoveFinalizers counts finished pods without ever
// counting one twice: their UIDs are written to
// status.uncountedTerminatedPods, then their finalizers are removed, and
// then they move to the counters. Once the verdict stands and nothing is
// left uncounted or terminating, the terminal condition is set.
func (c *Controller) trackStatusAndRemoveFinalizers(ctx context.Context, jc *syncContext, needsFlush bool) error {
	job := jc.job
	indexed := isIndexedJob(job)
	uncounted := job.Status.UncountedTerminatedPods
	if indexed {
		// Indexes are then added in order.
		slices.SortStableFunc(jc.pods, func(a, b *corev1.Pod) int { return completionIndex(a) - completionIndex(b) })
	}
	withFinalizer := sets.New[string]()
	for _, p := range jc.pods {
		if hasTrackingFinalizer(p) && !jc.expectedRmFinalizers.Has(string(p.UID)) {
			withFinalizer.Insert(string(p.UID))
		}
	}
	if moveUncountedWithoutFinalizers(&job.Status, withFinalizer) {
		needsFlush = true
	}
	var toRemove []*corev1.Pod
	var newSucceededIndexes []int
	reachedMaxUncounted := false
	for _, pod := range jc.pods {
		uid := string(pod.UID)
		if !hasTrackingFinalizer(pod) || jc.expectedRmFinalizers.Has(uid) {
			continue // counted in an earlier sync
		}
		failed := isPodFailed(pod, job)
		if !canRemoveFinalizer(jc, pod, failed) {
			continue
		}
		toRemove = append(toRemove, pod)
		switch {
		case pod.Status.Phase == corev1.PodSucceeded && !jc.uncountedFailed.Has(uid):
			if indexed {
				// The index alone keeps the pod from being counted
				// twice.
				if ix := completionIndex(pod); validIndex(job, pod) && !jc.prevSucceededIndexes.has(ix) {
					newSucceededIndexes = append(newSucceededIndexes, ix)
					needsFlush = true
				}
			} else if !jc.uncountedSucceeded.Has(uid) {
				uncounted.Succeeded = append(uncounted.Succeeded, pod.UID)
				needsFlush = true
			}
		case failed || jc.finishedCondition != nil && !isSuccessCriteriaMet(jc.finishedCondition):
			// Once the Job fails, its unfinished pods count as failed.
			if jc.uncountedFailed.Has(uid) || indexed && !validIndex(job, pod) {
				break
			}
			if _, counts, _ := matchPodFailurePolicy(job.Spec.PodFailurePolicy, pod); counts {
				uncounted.Failed = append(uncounted.Failed, pod.UID)
				needsFlush = true
			}
		}
		if len(newSucceededIndexes)+len(uncounted.Succeeded)+len(uncounted.Failed) >= maxUncountedPods {
			// The status and pod updates bring the Job back for the rest.
			reachedMaxUncounted = true
			break
		}
	}
	if indexed {
		jc.succeededIndexes = jc.succeededIndexes.withOrderedIndexes(newSucceededIndexes)
		completed := jc.succeededIndexes.String()
		if completed != job.Status.CompletedIndexes {
			needsFlush = true
		}
		job.Status.Succeeded = int32(jc.succeededIndexes.total())
		job.Status.CompletedIndexes = completed
	}
	now := c.clock.Now()
	if f := jc.finishedCondition; f != nil && f.Type == batchv1.JobFailureTarget {
		// The interim condition is stored before any finalizer goes, so
		// that the verdict survives a restart; Failed follows.
		job.Status.Conditions = append(job.Status.Conditions, *f)
		needsFlush = true
		jc.finishedCondition = newCondition(batchv1.JobFailed, corev1.ConditionTrue, f.Reason, f.Message, now)
	}
	if f := jc.finishedCondition; isSuccessCriteriaMet(f) {
		if successCriteriaMet(job) == nil {
			job.Status.Conditions = append(job.Status.Conditions, *f)
			needsFlush = true
		}
		jc.finishedCondition = newCondition(batchv1.JobComplete, corev1.ConditionTrue, f.Reason, f.Message, now)
	}
	var err error
	if needsFlush, err = c.flushUncountedAndRemoveFinalizers(ctx, jc, toRemove, withFinalizer, needsFlush); err != nil {
		return err
	}
	finished := !reachedMaxUncounted && c.enactJobFinished(jc)
	if finished || needsFlush {
		if _, err := c.updateStatus(ctx, jc.job); err != nil {
			return fmt.Errorf("remove uncounted pods from status: %w", err)
		}
		if finished {
			c.recordJobFinished(jc.job, jc.finishedCondition)
		}
	}
	return nil
}

// flushUncountedAndRemoveFinalizers writes the status with the new
// uncounted pods, removes those pods' finalizers, and moves the pods
// whose finalizer went into the counters. It reports whether the status
// still has changes to write.
func (c *Controller) flushUncountedAndRemoveFinalizers(ctx context.Context, jc *syncContext, toRemove []*corev1.Pod, withFinalizer sets.Set[string], needsFlush bool) (bool, error) {
	key := jobKey(jc.job)
	if needsFlush {
		updated, err := c.updateStatus(ctx, jc.job)
		if err != nil {
			return needsFlush, fmt.Errorf("add uncounted pods to status: %w", err)
		}
		jc.job = updated
		c.backoff.update(key, jc.newBackoff)
		needsFlush = false
	}
	var rmErr error
	if len(toRemove) > 0 {
		var removed []bool
		removed, rmErr = c.removeTrackingFinalizers(ctx, key, toRemove)
		for i, p := range toRemove {
			if removed[i] {
				withFinalizer.Delete(string(p.UID))
			}
		}
	}
	if moveUncountedWithoutFinalizers(&jc.job.Status, withFinalizer) {
		needsFlush = true
	}
	if rmErr != nil && needsFlush {
		// Keep the progress made before reporting the failure.
		if _, err := c.updateStatus(ctx, jc.job); err != nil {
			return needsFlush, fmt.Errorf("remove uncounted pods from status: %w", err)
		}
	}
	return needsFlush, rmErr
}

// moveUncountedWithoutFinalizers moves the uncounted pods whose finalizer
// is gone into status.succeeded and status.failed; it reports a change.
func moveUncountedWithoutFinalizers(status *batchv1.JobStatus, withFinalizer sets.Set[string]) bool {
	u := status.UncountedTerminatedPods
	changed := false
	keep := func(uids []types.UID) []types.UID {
		var out []types.UID
		for _, uid := range uids {
			if withFinalizer.Has(string(uid)) {
				out = append(out, uid)
			}
		}
		return out
	}
	if left := keep(u.Succeeded); len(left) != len(u.Succeeded) {
		status.Succeeded += int32(len(u.Succeeded) - len(left))
		u.Succeeded, changed = left, true
	}
	if left := keep(u.Failed); len(left) != len(u.Failed) {
		status.Failed += int32(len(u.Failed) - len(left))
		u.Failed, changed = left, true
	}
	return changed
}

// removeTrackingFinalizers removes the finalizer from each pod and
// reports, pod by pod, whether it is gone (a deleted pod counts as gone).
func (c *Controller) removeTrackingFinalizers(ctx context.Context, key string, pods []*corev1.Pod) ([]bool, error) {
	uids := make([]string, len(pods))
	for i, p := range pods {
		uids[i] = string(p.UID)
	}
	c.finalizerExpectations.expectRemoved(key, uids)
	removed := make([]bool, len(pods))
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for i, pod := range pods {
		wg.Go(func() {
			patch := removeTrackingFinalizerPatch(pod)
			if patch == nil {
				return
			}
			if err := c.patchPod(ctx, pod.Namespace, pod.Name, patch); err != nil {
				// No update will come for this pod.
				c.finalizerExpectations.removalObserved(key, string(pod.UID))
				if !apierrors.IsNotFound(err) {
					mu.Lock()
					errs = append(errs, fmt.Errorf("remove tracking finalizer of pod %s/%s: %w", pod.Namespace, pod.Name, err))
					mu.Unlock()
					return
				}
			}
			removed[i] = true
		})
	}
	wg.Wait()
	return removed, firstError(errs)
}

// enactJobFinished sets the terminal condition once the verdict stands,
// no pod is left uncounted and none is still terminating.
func (c *Controller) enactJobFinished(jc *syncContext) bool {
	f := jc.finishedCondition
	if f == nil {
		return false
	}
	job := jc.job
	if u := job.Status.UncountedTerminatedPods; u != nil && len(u.Succeeded)+len(u.Failed) > 0 {
		return false
	}
	if jc.terminating > 0 {
		return false
	}
	job.Status.Conditions, _ = ensureCondition(job.Status.Conditions, f.Type, f.Status, f.Reason, f.Message, c.clock.Now())
	if f.Type == batchv1.JobComplete {
		completion := f.LastTransitionTime
		job.Status.CompletionTime = &completion
	}
	return true
}

func (c *Controller) recordJobFinished(job *batchv1.Job, f *batchv1.JobCondition) {
	if f.Type != batchv1.JobComplete {
		c.recorder.Event(job, corev1.EventTypeWarning, f.Reason, f.Message)
		return
	}
	if job.Spec.Completions != nil && job.Status.Succeeded > *job.Spec.Completions {
		c.recorder.Event(job, corev1.EventTypeWarning, "TooManySucceededPods", "Too many succeeded pods running after completion count reached")
	}
	c.recorder.Event(job, corev1.EventTypeNormal, "Completed", "Job completed")
}

func (c *Controller) updateStatus(ctx context.Context, job *batchv1.Job) (*batchv1.Job, error) {
	return c.client.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, job, metav1.UpdateOptions{})
}

// pastActiveDeadline reports a running Job past activeDeadlineSeconds.
func (c *Controller) pastActiveDeadline(job *batchv1.Job) bool {
	if job.Spec.ActiveDeadlineSeconds == nil || job.Status.StartTime == nil || suspended(job) {
		return false
	}
	return c.clock.Since(job.Status.StartTime.Time) >= time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second
}

// pastBackoffLimitOnFailure reports a Job whose pods restart in place
// (restartPolicy OnFailure) and whose running pods' containers restarted
// as often as the back-off limit allows.
func pastBackoffLimitOnFailure(job *batchv1.Job, pods []*corev1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var restarts int32
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, s := range p.Status.InitContainerStatuses {
			restarts += s.RestartCount
		}
		for _, s := range p.Status.ContainerStatuses {
			restarts += s.RestartCount
		}
	}
	if *job.Spec.BackoffLimit == 0 {
		return restarts > 0
	}
	return restarts >= *job.Spec.BackoffLimit
}

// newFinishedPods are the finished pods not counted yet: still holding
// the finalizer, not in the uncounted lists, with a valid index.
func newFinishedPods(jc *syncContext) (succeeded, failed []*corev1.Pod) {
	for _, p := range jc.pods {
		uid := string(p.UID)
		if !hasTrackingFinalizer(p) || jc.expectedRmFinalizers.Has(uid) {
			continue
		}
		if isIndexedJob(jc.job) && !validIndex(jc.job, p) {
			continue
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !jc.uncountedSucceeded.Has(uid):
			succeeded = append(succeeded, p)
		case p.Status.Phase != corev1.PodSucceeded && isPodFailed(p, jc.job) && !jc.uncountedFailed.Has(uid):
			failed = append(failed, p)
		}
	}
	return succeeded, failed
}

// countedFailures are the failed pods the back-off limit counts: all but
// those an Ignore rule matches.
func countedFailures(job *batchv1.Job, failed []*corev1.Pod) int32 {
	n := int32(0)
	for _, p := range failed {
		if _, counts, _ := matchPodFailurePolicy(job.Spec.PodFailurePolicy, p); counts {
			n++
		}
	}
	return n
}

// canRemoveFinalizer: every pod of a Job with a verdict or being deleted,
// succeeded pods, and failed pods.
func canRemoveFinalizer(jc *syncContext, pod *corev1.Pod, failed bool) bool {
	return jc.job.DeletionTimestamp != nil || jc.finishedCondition != nil || pod.Status.Phase == corev1.PodSucceeded || failed
}

// isPodFailed: Failed, or being deleted before it succeeded (an orphan
// may never reach Failed), unless only failed pods are replaced.
func isPodFailed(p *corev1.Pod, job *batchv1.Job) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	if onlyReplaceFailedPods(job) {
		return false
	}
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded
}

// onlyReplaceFailedPods: podReplacementPolicy Failed, which a pod
// failure policy implies.
func onlyReplaceFailedPods(job *batchv1.Job) bool {
	if p := job.Spec.PodReplacementPolicy; p != nil && *p == batchv1.Failed {
		return true
	}
	return job.Spec.PodFailurePolicy != nil
}

func suspended(job *batchv1.Job) bool { return job.Spec.Suspend != nil && *job.Spec.Suspend }

func managedElsewhere(job *batchv1.Job) bool {
	return job.Spec.ManagedBy != nil && *job.Spec.ManagedBy != defaultManager
}

// isFinished reports a Job with a terminal condition.
func isFinished(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func successCriteriaMet(job *batchv1.Job) *batchv1.JobCondition {
	if c := findCondition(job.Status.Conditions, batchv1.JobSuccessCriteriaMet); c != nil && c.Status == corev1.ConditionTrue {
		return c
	}
	return nil
}

func isSuccessCriteriaMet(c *batchv1.JobCondition) bool {
	return c != nil && c.Type == batchv1.JobSuccessCriteriaMet && c.Status == corev1.ConditionTrue
}

func findCondition(list []batchv1.JobCondition, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range list {
		if list[i].Type == t {
			return &list[i]
		}
	}
	return nil
}

func newCondition(t batchv1.JobConditionType, status corev1.ConditionStatus, reason, message string, now time.Time) *batchv1.JobCondition {
	return &batchv1.JobCondition{
		Type: t, Status: status, Reason: reason, Message: message,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now),
	}
}

// ensureCondition sets a condition of type t, as upstream: a new False
// condition is not added (from nothing to False means nothing). It
// reports whether the list changed.
func ensureCondition(list []batchv1.JobCondition, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, message string, now time.Time) ([]batchv1.JobCondition, bool) {
	if c := findCondition(list, t); c != nil {
		if c.Status == status && c.Reason == reason && c.Message == message {
			return list, false
		}
		*c = *newCondition(t, status, reason, message, now)
		return list, true
	}
	if status == corev1.ConditionFalse {
		return list, false
	}
	return append(list, *newCondition(t, status, reason, message, now)), true
}

func uidSet(uids []types.UID) sets.Set[string] {
	s := sets.New[string]()
	for _, u := range uids {
		s.Insert(string(u))
	}
	return s
}

func firstError(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}
