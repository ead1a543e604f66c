package daemonset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// slowStartInitialBatchSize is the first batch of pod creations; each
// batch that succeeds doubles the next, so that creations failing for
// one reason (a quota, an admission rule) fail once, not hundreds of
// times.
const slowStartInitialBatchSize = 1

// daemonPods returns the pods ds controls, adopting and releasing as its
// selector says. They are the cache's: not to be changed.
func (c *Controller) daemonPods(ctx context.Context, ds *appsv1.DaemonSet) ([]*corev1.Pod, error) {
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("daemonset %s/%s selector: %w", ds.Namespace, ds.Name, err)
	}
	// Every pod of the namespace: owned pods the selector no longer
	// matches must be seen to be released.
	pods, err := c.podLister.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list pods of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return c.podOwnership(ds, selector).claim(ctx, pods)
}

// nodesToDaemonPods groups ds's pods by the node they are for. Pods that
// were deleted after finishing are left out unless includeDeletedTerminal:
// only a finalizer or the kubelet keeps them, and nothing remains to do
// with them but to remember which revisions they ran.
func (c *Controller) nodesToDaemonPods(ctx context.Context, ds *appsv1.DaemonSet, includeDeletedTerminal bool) (map[string][]*corev1.Pod, error) {
	pods, err := c.daemonPods(ctx, ds)
	if err != nil {
		return nil, err
	}
	byNode := map[string][]*corev1.Pod{}
	for _, pod := range pods {
		if !includeDeletedTerminal && isPodTerminal(pod) && pod.DeletionTimestamp != nil {
			continue
		}
		node, err := targetNodeName(pod)
		if err != nil {
			c.log.Debug("Pod of daemonset has no target node", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			continue
		}
		byNode[node] = append(byNode[node], pod)
	}
	return byNode, nil
}

// manage creates the pods of nodes that should run one and have none,
// and deletes those of nodes that should not, failed ones, and extras.
func (c *Controller) manage(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string) error {
	byNode, err := c.nodesToDaemonPods(ctx, ds, false)
	if err != nil {
		return fmt.Errorf("map nodes to pods of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	var create, del []string
	for _, node := range nodes {
		nodeCreate, nodeDelete := c.podsShouldBeOnNode(node, byNode, ds, hash)
		create = append(create, nodeCreate...)
		del = append(del, nodeDelete...)
	}
	// Pods for nodes that are gone are never bound, so the pod garbage
	// collector, which removes pods of deleted nodes, never sees them.
	del = append(del, unscheduledPodsWithoutNode(nodes, byNode)...)
	return c.syncNodes(ctx, ds, del, create, hash)
}

// podsShouldBeOnNode decides one node: whether it needs a pod, and which
// of its pods go.
func (c *Controller) podsShouldBeOnNode(node *corev1.Node, byNode map[string][]*corev1.Pod, ds *appsv1.DaemonSet, hash string) (create, del []string) {
	shouldRun, shouldContinueRunning := NodeShouldRunDaemonPod(node, ds)
	pods, exists := byNode[node.Name]
	switch {
	case shouldRun && !exists:
		return []string{node.Name}, nil
	case shouldContinueRunning:
		var running []*corev1.Pod
		for _, pod := range pods {
			if pod.DeletionTimestamp != nil {
				continue
			}
			switch pod.Status.Phase {
			case corev1.PodFailed:
				// Deleting as fast as a rejecting kubelet fails them
				// would be a hot loop: back off per node.
				key := failedPodsBackoffKey(ds, node.Name)
				now := c.clock.Now()
				if c.failedPodsBackoff.IsInBackOffSinceUpdate(key, now) {
					c.enqueueAfter(ds, c.failedPodsBackoff.Get(key))
					continue
				}
				c.failedPodsBackoff.Next(key, now)
				c.recorder.Eventf(ds, corev1.EventTypeWarning, ReasonFailedDaemonPod,
					"Found failed daemon pod %s/%s on node %s, will try to kill it", pod.Namespace, pod.Name, node.Name)
				del = append(del, pod.Name)
			case corev1.PodSucceeded:
				c.recorder.Eventf(ds, corev1.EventTypeNormal, ReasonSucceededDaemonPod,
					"Found succeeded daemon pod %s/%s on node %s, will try to delete it", pod.Namespace, pod.Name, node.Name)
				del = append(del, pod.Name)
			default:
				running = append(running, pod)
			}
		}
		if !allowsSurge(ds) {
			// One pod per node: the oldest stays.
			if len(running) > 1 {
				slices.SortFunc(running, lessByScheduledThenAge)
				for _, pod := range running[1:] {
					del = append(del, pod.Name)
				}
			}
			return create, del
		}
		if len(running) <= 1 {
			// Surging keeps at least one pod, deleted ones aside.
			if len(running) == 0 && shouldRun {
				create = append(create, node.Name)
			}
			return create, del
		}
		// With surge, an old and a new pod may share the node while the
		// new one becomes available; the oldest of each is kept, the
		// old one only until the new one is available (or at once if it
		// is not ready itself).
		var oldestNew, oldestOld *corev1.Pod
		slices.SortFunc(running, lessByScheduledThenAge)
		for _, pod := range running {
			if pod.Labels[appsv1.ControllerRevisionHashLabelKey] == hash {
				if oldestNew == nil {
					oldestNew = pod
					continue
				}
			} else if oldestOld == nil {
				oldestOld = pod
				continue
			}
			del = append(del, pod.Name)
		}
		if oldestNew != nil && oldestOld != nil {
			if !isPodReady(oldestOld) || isPodAvailable(oldestNew, ds.Spec.MinReadySeconds, c.clock.Now()) {
				del = append(del, oldestOld.Name)
			}
		}
		return create, del
	case exists:
		// The node no longer suits the daemon at all.
		for _, pod := range pods {
			if pod.DeletionTimestamp == nil {
				del = append(del, pod.Name)
			}
		}
	}
	return create, del
}

func failedPodsBackoffKey(ds *appsv1.DaemonSet, node string) string {
	return fmt.Sprintf("%s/%d/%s", ds.UID, ds.Status.ObservedGeneration, node)
}

func unscheduledPodsWithoutNode(nodes []*corev1.Node, byNode map[string][]*corev1.Pod) []string {
	known := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		known[n.Name] = true
	}
	var out []string
	for node, pods := range byNode {
		if known[node] {
			continue
		}
		for _, pod := range pods {
			if pod.Spec.NodeName == "" {
				out = append(out, pod.Name)
			}
		}
	}
	return out
}

// syncNodes deletes the named pods and creates a pod on each named
// node, expecting to see all of it in the cache before the next step.
func (c *Controller) syncNodes(ctx context.Context, ds *appsv1.DaemonSet, podsToDelete, nodesNeedingPods []string, hash string) error {
	key, err := cache.MetaNamespaceKeyFunc(ds)
	if err != nil {
		return err
	}
	createDiff := min(len(nodesNeedingPods), burstReplicas)
	deleteDiff := min(len(podsToDelete), burstReplicas)
	c.expectations.expect(key, createDiff, deleteDiff)

	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	template := newPodTemplate(ds, hash)
	for pos, batch := 0, min(createDiff, slowStartInitialBatchSize); pos < createDiff; pos, batch = pos+batch, min(2*batch, createDiff-(pos+batch)) {
		mu.Lock()
		failedBefore := len(errs)
		mu.Unlock()
		var wg sync.WaitGroup
		for _, node := range nodesNeedingPods[pos : pos+batch] {
			wg.Go(func() {
				if err := c.createPod(ctx, ds, newPodForNode(ds, &template, node)); err != nil {
					// A terminating namespace refuses every pod; that
					// is the namespace controller's business.
					if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
						return
					}
					c.expectations.creationObserved(key)
					fail(err)
				}
			})
		}
		wg.Wait()
		mu.Lock()
		failed := len(errs) > failedBefore
		mu.Unlock()
		if skipped := createDiff - (pos + batch); failed && skipped > 0 {
			// The rest are left for the next sync, and not expected.
			c.expectations.lower(key, skipped, 0)
			break
		}
	}

	var wg sync.WaitGroup
	for _, name := range podsToDelete[:deleteDiff] {
		wg.Go(func() {
			if err := c.deletePod(ctx, ds, name); err != nil {
				c.expectations.deletionObserved(key)
				if !apierrors.IsNotFound(err) {
					fail(err)
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// createPod is upstream's RealPodControl.CreatePods, with its events.
func (c *Controller) createPod(ctx context.Context, ds *appsv1.DaemonSet, pod *corev1.Pod) error {
	if len(pod.Labels) == 0 {
		return errors.New("unable to create pods, no labels")
	}
	created, err := c.client.CoreV1().Pods(ds.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			c.recorder.Eventf(ds, corev1.EventTypeWarning, ReasonFailedCreate, "Error creating: %v", err)
		}
		return fmt.Errorf("create pod of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	c.log.Debug("Created pod", "daemonset", ds.Namespace+"/"+ds.Name, "pod", created.Name)
	c.recorder.Eventf(ds, corev1.EventTypeNormal, ReasonSuccessfulCreate, "Created pod: %v", created.Name)
	return nil
}

// deletePod is upstream's RealPodControl.DeletePod, with its events; a
// pod already gone is returned as NotFound and recorded as nothing.
func (c *Controller) deletePod(ctx context.Context, ds *appsv1.DaemonSet, name string) error {
	err := c.client.CoreV1().Pods(ds.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		c.recorder.Eventf(ds, corev1.EventTypeWarning, ReasonFailedDelete, "Error deleting: %v", err)
		return fmt.Errorf("delete pod %s/%s: %w", ds.Namespace, name, err)
	}
	c.recorder.Eventf(ds, corev1.EventTypeNormal, ReasonSuccessfulDelete, "Deleted pod: %v", name)
	return nil
}
