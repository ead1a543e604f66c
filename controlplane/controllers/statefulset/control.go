package statefulset

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/kindish/kindish/controlplane/controllers/history"
)

// maxBatchSize bounds the requests in flight for a Parallel set.
const maxBatchSize = 500

// updateStatefulSet is upstream's defaultStatefulSetControl: record the
// template as a revision, bring the pods one step toward the spec, write
// the status, and prune old revisions. Ordered sets create pods by
// increasing ordinal, each Running and Ready (and available) before the
// next, and delete by decreasing ordinal; Parallel sets do each step
// for all pods at once.
func (c *Controller) updateStatefulSet(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod) (*appsv1.StatefulSetStatus, error) {
	// Creating a revision changes the set's collision count: work on a
	// copy, not the cache's object.
	set = set.DeepCopy()
	revisions, err := c.listRevisions(set)
	if err != nil {
		return nil, err
	}
	history.SortControllerRevisions(revisions)
	current, update, status, err := c.performUpdate(ctx, set, pods, revisions)
	truncateErr := c.truncateHistory(ctx, set, pods, revisions, current, update)
	if err != nil {
		return nil, errors.Join(err, truncateErr)
	}
	return status, truncateErr
}

func (c *Controller) performUpdate(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, revisions []*appsv1.ControllerRevision) (current, update *appsv1.ControllerRevision, status *appsv1.StatefulSetStatus, err error) {
	current, update, collisionCount, err := c.statefulSetRevisions(ctx, set, revisions)
	if err != nil {
		return current, update, nil, err
	}
	status, err = c.updatePods(ctx, set, current, update, collisionCount, pods)
	if err != nil && status == nil {
		return current, update, nil, err
	}
	// The status is written even when the step failed part way: it
	// counts what happened.
	statusErr := c.updateStatefulSetStatus(ctx, set, status)
	if err != nil {
		if statusErr != nil {
			c.log.Error("Status update failed", "statefulset", set.Namespace+"/"+set.Name, "err", statusErr)
		}
		return current, update, status, err
	}
	return current, update, status, statusErr
}

// truncateHistory deletes the oldest revisions that are neither the
// current nor the update revision nor any pod's, beyond
// revisionHistoryLimit. revisions must be sorted.
func (c *Controller) truncateHistory(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, revisions []*appsv1.ControllerRevision, current, update *appsv1.ControllerRevision) error {
	live := map[string]bool{}
	if current != nil {
		live[current.Name] = true
	}
	if update != nil {
		live[update.Name] = true
	}
	for _, pod := range pods {
		live[getPodRevision(pod)] = true
	}
	var old []*appsv1.ControllerRevision
	for _, r := range revisions {
		if !live[r.Name] {
			old = append(old, r)
		}
	}
	limit := 10
	if set.Spec.RevisionHistoryLimit != nil {
		limit = int(*set.Spec.RevisionHistoryLimit)
	}
	if limit < 0 || len(old) <= limit {
		return nil
	}
	for _, r := range old[:len(old)-limit] {
		if err := c.history.Delete(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// statefulSetRevisions returns the current revision (the status's, or
// the update revision for a new set), the update revision for the
// template, and the collision count. A template equal to an older
// revision renumbers that revision as the newest, which is how
// `kubectl rollout undo` rolls back; a new template gets a new revision.
func (c *Controller) statefulSetRevisions(ctx context.Context, set *appsv1.StatefulSet, revisions []*appsv1.ControllerRevision) (current, update *appsv1.ControllerRevision, collisionCount int32, err error) {
	if set.Status.CollisionCount != nil {
		collisionCount = *set.Status.CollisionCount
	}
	update, err = newRevision(set, nextRevision(revisions), &collisionCount)
	if err != nil {
		return nil, nil, collisionCount, err
	}
	equal := history.FindEqualRevisions(revisions, update)
	switch {
	case len(equal) > 0 && history.EqualRevision(revisions[len(revisions)-1], equal[len(equal)-1]):
		// The newest revision is this template: nothing changed.
		update = revisions[len(revisions)-1]
	case len(equal) > 0:
		update, err = c.history.UpdateRevision(ctx, equal[len(equal)-1], update.Revision)
	default:
		update, err = c.history.Create(ctx, set, update, &collisionCount)
	}
	if err != nil {
		return nil, nil, collisionCount, err
	}
	for _, r := range revisions {
		if r.Name == set.Status.CurrentRevision {
			current = r
			break
		}
	}
	if current == nil {
		current = update
	}
	return current, update, collisionCount, nil
}

// replicaCounts are the status's pod counts.
func replicaCounts(status *appsv1.StatefulSetStatus, minReadySeconds int32, now time.Time, current, update *appsv1.ControllerRevision, podLists ...[]*corev1.Pod) {
	status.Replicas, status.ReadyReplicas, status.AvailableReplicas, status.CurrentReplicas, status.UpdatedReplicas = 0, 0, 0, 0, 0
	for _, pods := range podLists {
		for _, pod := range pods {
			if isCreated(pod) {
				status.Replicas++
			}
			if isRunningAndReady(pod) {
				status.ReadyReplicas++
				if isRunningAndAvailable(pod, minReadySeconds, now) {
					status.AvailableReplicas++
				}
			}
			if isCreated(pod) && !isTerminating(pod) {
				if getPodRevision(pod) == current.Name {
					status.CurrentReplicas++
				}
				if getPodRevision(pod) == update.Name {
					status.UpdatedReplicas++
				}
			}
		}
	}
}

// updatePods makes one step toward set's spec and returns the status
// that results.
func (c *Controller) updatePods(ctx context.Context, set *appsv1.StatefulSet, current, update *appsv1.ControllerRevision, collisionCount int32, pods []*corev1.Pod) (*appsv1.StatefulSetStatus, error) {
	currentSet, err := ApplyRevision(set, current)
	if err != nil {
		return nil, err
	}
	updateSet, err := ApplyRevision(set, update)
	if err != nil {
		return nil, err
	}
	now := c.clock.Now()
	minReady := set.Spec.MinReadySeconds
	status := &appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CurrentRevision:    current.Name,
		UpdateRevision:     update.Name,
		CollisionCount:     &collisionCount,
	}
	replicaCounts(status, minReady, now, current, update, pods)

	// replicas holds the pods of the wanted ordinals, made up where
	// missing; condemned those of ordinals past the end.
	start, end := startOrdinal(set), endOrdinal(set)
	replicas := make([]*corev1.Pod, end-start+1)
	var condemned []*corev1.Pod
	for _, pod := range pods {
		switch ordinal := getOrdinal(pod); {
		case podInOrdinalRange(pod, set):
			replicas[ordinal-start] = pod
		case ordinal >= 0:
			condemned = append(condemned, pod)
		}
	}
	for ordinal := start; ordinal <= end; ordinal++ {
		if replicas[ordinal-start] == nil {
			replicas[ordinal-start] = newVersionedStatefulSetPod(currentSet, updateSet, current.Name, update.Name, ordinal)
		}
	}
	// Scale down takes the highest ordinal first.
	slices.SortFunc(condemned, func(a, b *corev1.Pod) int { return getOrdinal(b) - getOrdinal(a) })

	var firstUnavailable *corev1.Pod
	for _, pod := range replicas {
		if isUnavailable(pod, minReady, now) {
			firstUnavailable = pod
			break
		}
	}
	if firstUnavailable == nil {
		for i := len(condemned) - 1; i >= 0; i-- {
			if isUnavailable(condemned[i], minReady, now) {
				firstUnavailable = condemned[i]
				break
			}
		}
	}

	// A set being deleted only reports; the garbage collector removes
	// its pods.
	if set.DeletionTimestamp != nil {
		return status, nil
	}
	monotonic := !allowsBurst(set)
	recount := func() { replicaCounts(status, minReady, now, current, update, replicas, condemned) }

	if stop, err := runForAll(replicas, func(i int) (bool, error) {
		return c.processReplica(ctx, set, updateSet, monotonic, replicas, i, now)
	}, monotonic); stop || err != nil {
		recount()
		return status, err
	}
	// In order, every wanted pod is now Running, Ready and available:
	// scale down may proceed. Scaling takes precedence over updating.
	if stop, err := runForAll(condemned, func(i int) (bool, error) {
		return c.processCondemned(ctx, set, firstUnavailable, monotonic, condemned, i, now)
	}, monotonic); stop || err != nil {
		recount()
		return status, err
	}
	recount()

	// OnDelete replaces a pod only when someone deletes it.
	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return status, nil
	}
	partition := 0
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		partition = int(*ru.Partition)
	}
	// A rolling update deletes the highest ordinal not at the update
	// revision, one at a time, each replacement available before the
	// next; ordinals below the partition stay.
	for target := len(replicas) - 1; target >= partition; target-- {
		pod := replicas[target]
		if getPodRevision(pod) != update.Name && !isTerminating(pod) {
			c.log.Info("Pod of statefulset is terminating for update", "statefulset", set.Namespace+"/"+set.Name, "pod", pod.Name)
			err := c.deleteStatefulPod(ctx, set, pod)
			if err != nil && !apierrors.IsNotFound(err) {
				return status, err
			}
			status.CurrentReplicas--
			return status, nil
		}
		if isUnavailable(pod, minReady, now) {
			return status, nil
		}
	}
	return status, nil
}

// processReplica handles the pod of one wanted ordinal and reports
// whether an ordered set must stop here for this sync.
func (c *Controller) processReplica(ctx context.Context, set, updateSet *appsv1.StatefulSet, monotonic bool, replicas []*corev1.Pod, i int, now time.Time) (bool, error) {
	pod := replicas[i]
	// A pod that finished, however it ended, is replaced: deleted now,
	// recreated by the sync that sees it gone.
	if isFailed(pod) || isSucceeded(pod) {
		if pod.DeletionTimestamp == nil {
			if err := c.deleteStatefulPod(ctx, set, pod); err != nil {
				return true, err
			}
		}
		return true, nil
	}
	if !isCreated(pod) {
		if err := c.createStatefulPod(ctx, set, pod); err != nil {
			return true, err
		}
		if monotonic {
			return true, nil
		}
	}
	// Claims deleted while their pod waits are made again.
	if isPending(pod) {
		if err := c.createPersistentVolumeClaims(ctx, set, pod); err != nil {
			return true, err
		}
	}
	if monotonic && (isTerminating(pod) || !isRunningAndReady(pod) || !isRunningAndAvailable(pod, set.Spec.MinReadySeconds, now)) {
		c.log.Debug("Statefulset is waiting for pod", "statefulset", set.Namespace+"/"+set.Name, "pod", pod.Name)
		return true, nil
	}
	if identityMatches(set, pod) && storageMatches(set, pod) {
		return false, nil
	}
	if err := c.updateStatefulPod(ctx, updateSet, pod.DeepCopy()); err != nil {
		return true, err
	}
	return false, nil
}

// processCondemned deletes the pod of an ordinal past the end. An
// ordered set waits for a terminating pod to go, and for an unavailable
// one to recover unless it is the first unavailable pod of the set.
func (c *Controller) processCondemned(ctx context.Context, set *appsv1.StatefulSet, firstUnavailable *corev1.Pod, monotonic bool, condemned []*corev1.Pod, i int, now time.Time) (bool, error) {
	pod := condemned[i]
	if isTerminating(pod) {
		return monotonic, nil
	}
	if monotonic && pod != firstUnavailable && (!isRunningAndReady(pod) || !isRunningAndAvailable(pod, set.Spec.MinReadySeconds, now)) {
		return true, nil
	}
	c.log.Info("Pod of statefulset is terminating for scale down", "statefulset", set.Namespace+"/"+set.Name, "pod", pod.Name)
	return true, c.deleteStatefulPod(ctx, set, pod)
}

// runForAll runs fn over pods: in order until one says stop for an
// ordered set, all of them in slow-start batches for a Parallel one.
func runForAll(pods []*corev1.Pod, fn func(i int) (bool, error), monotonic bool) (bool, error) {
	if monotonic {
		for i := range pods {
			if stop, err := fn(i); stop || err != nil {
				return true, err
			}
		}
		return false, nil
	}
	if err := slowStartBatch(1, len(pods), fn); err != nil {
		return true, err
	}
	return false, nil
}

// slowStartBatch runs fn for 0..remaining-1 in batches that double
// while they succeed, stopping at the first batch that fails.
func slowStartBatch(initial, remaining int, fn func(int) (bool, error)) error {
	next := 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining, maxBatchSize) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var errs []error
		for range batch {
			k := next
			next++
			wg.Go(func() {
				if _, err := fn(k); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		remaining -= batch
	}
	return nil
}

// updateStatefulSetStatus completes a finished rolling update in status
// and writes it if it differs from the set's.
func (c *Controller) updateStatefulSetStatus(ctx context.Context, set *appsv1.StatefulSet, status *appsv1.StatefulSetStatus) error {
	completeRollingUpdate(set, status)
	if !inconsistentStatus(set, status) {
		return nil
	}
	toUpdate := set.DeepCopy()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		toUpdate.Status = *status
		_, err := c.client.AppsV1().StatefulSets(toUpdate.Namespace).UpdateStatus(ctx, toUpdate, metav1.UpdateOptions{})
		if err == nil {
			return nil
		}
		if cached, getErr := c.setLister.StatefulSets(toUpdate.Namespace).Get(toUpdate.Name); getErr == nil {
			toUpdate = cached.DeepCopy()
		}
		return err
	})
}

// completeRollingUpdate makes the update revision current once every
// pod runs it and is ready, which `kubectl rollout status` waits for.
func completeRollingUpdate(set *appsv1.StatefulSet, status *appsv1.StatefulSetStatus) {
	if set.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType &&
		status.UpdatedReplicas == status.Replicas &&
		status.ReadyReplicas == status.Replicas {
		status.CurrentReplicas = status.UpdatedReplicas
		status.CurrentRevision = status.UpdateRevision
	}
}

func inconsistentStatus(set *appsv1.StatefulSet, status *appsv1.StatefulSetStatus) bool {
	cur := set.Status
	return status.ObservedGeneration > cur.ObservedGeneration ||
		status.Replicas != cur.Replicas ||
		status.CurrentReplicas != cur.CurrentReplicas ||
		status.ReadyReplicas != cur.ReadyReplicas ||
		status.UpdatedReplicas != cur.UpdatedReplicas ||
		status.CurrentRevision != cur.CurrentRevision ||
		status.AvailableReplicas != cur.AvailableReplicas ||
		status.UpdateRevision != cur.UpdateRevision ||
		!equalCollisionCount(status.CollisionCount, cur.CollisionCount)
}

func equalCollisionCount(a, b *int32) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
