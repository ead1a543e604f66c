package daemonset

import (
	"context"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// computeStatus counts ds's pods over the nodes, as upstream: each node
// that should run the daemon counts once, by its oldest pod.
func (c *Controller) computeStatus(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) appsv1.DaemonSetStatus {
	var s appsv1.DaemonSetStatus
	now := c.clock.Now()
	generation := templateGeneration(ds)
	for _, node := range nodes {
		shouldRun, _ := NodeShouldRunDaemonPod(node, ds)
		pods := byNode[node.Name]
		scheduled := len(pods) > 0
		if !shouldRun {
			if scheduled {
				s.NumberMisscheduled++
			}
			continue
		}
		s.DesiredNumberScheduled++
		if !scheduled {
			continue
		}
		s.CurrentNumberScheduled++
		pods = slices.Clone(pods)
		slices.SortFunc(pods, lessByScheduledThenAge)
		pod := pods[0]
		if isPodReady(pod) {
			s.NumberReady++
			if isPodAvailable(pod, ds.Spec.MinReadySeconds, now) {
				s.NumberAvailable++
			}
		}
		if isPodUpdated(pod, hash, generation) {
			s.UpdatedNumberScheduled++
		}
	}
	s.NumberUnavailable = s.DesiredNumberScheduled - s.NumberAvailable
	return s
}

// updateStatus writes ds's status; observedGeneration only when this
// sync acted on the generation it read.
func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string, updateObservedGeneration bool) error {
	byNode, err := c.nodesToDaemonPods(ctx, ds, false)
	if err != nil {
		return fmt.Errorf("map nodes to pods of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	s := c.computeStatus(ds, nodes, byNode, hash)
	if err := c.storeStatus(ctx, ds, s, updateObservedGeneration); err != nil {
		return fmt.Errorf("update status of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	// Availability arrives minReadySeconds after readiness without an
	// event; look again then.
	if ds.Spec.MinReadySeconds > 0 && s.NumberReady != s.NumberAvailable {
		c.enqueueAfter(ds, time.Duration(ds.Spec.MinReadySeconds)*time.Second)
	}
	return nil
}

func (c *Controller) storeStatus(ctx context.Context, ds *appsv1.DaemonSet, s appsv1.DaemonSetStatus, updateObservedGeneration bool) error {
	cur := ds.Status
	if cur.DesiredNumberScheduled == s.DesiredNumberScheduled &&
		cur.CurrentNumberScheduled == s.CurrentNumberScheduled &&
		cur.NumberMisscheduled == s.NumberMisscheduled &&
		cur.NumberReady == s.NumberReady &&
		cur.UpdatedNumberScheduled == s.UpdatedNumberScheduled &&
		cur.NumberAvailable == s.NumberAvailable &&
		cur.NumberUnavailable == s.NumberUnavailable &&
		cur.ObservedGeneration >= ds.Generation {
		return nil
	}
	client := c.client.AppsV1().DaemonSets(ds.Namespace)
	toUpdate := ds.DeepCopy()
	var updateErr error
	for i := 0; ; i++ {
		if updateObservedGeneration {
			toUpdate.Status.ObservedGeneration = ds.Generation
		}
		toUpdate.Status.DesiredNumberScheduled = s.DesiredNumberScheduled
		toUpdate.Status.CurrentNumberScheduled = s.CurrentNumberScheduled
		toUpdate.Status.NumberMisscheduled = s.NumberMisscheduled
		toUpdate.Status.NumberReady = s.NumberReady
		toUpdate.Status.UpdatedNumberScheduled = s.UpdatedNumberScheduled
		toUpdate.Status.NumberAvailable = s.NumberAvailable
		toUpdate.Status.NumberUnavailable = s.NumberUnavailable
		if _, updateErr = client.UpdateStatus(ctx, toUpdate, metav1.UpdateOptions{}); updateErr == nil {
			return nil
		}
		if i >= statusUpdateRetries {
			return updateErr
		}
		// A conflict most likely: retry on the newest copy; the counts
		// stand, the key is requeued if this fails too.
		fresh, err := client.Get(ctx, ds.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		toUpdate = fresh
	}
}
