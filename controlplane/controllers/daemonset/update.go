package daemonset

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/json"
)

// surgeCount is how many nodes may run an extra new pod during a rolling
// update, of numberToSchedule.
func surgeCount(ds *appsv1.DaemonSet, numberToSchedule int) (int, error) {
	r := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || r == nil || r.MaxSurge == nil {
		return 0, nil
	}
	return intstr.GetScaledValueFromIntOrPercent(r.MaxSurge, numberToSchedule, true)
}

// unavailableCount is how many nodes may lack an available pod during a
// rolling update, of numberToSchedule.
func unavailableCount(ds *appsv1.DaemonSet, numberToSchedule int) (int, error) {
	r := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || r == nil {
		return 0, nil
	}
	return intstr.GetScaledValueFromIntOrPercent(r.MaxUnavailable, numberToSchedule, true)
}

func allowsSurge(ds *appsv1.DaemonSet) bool {
	n, err := surgeCount(ds, 1)
	return err == nil && n > 0
}

// rollingUpdate is upstream's: without surge, it deletes old pods (the
// unavailable ones first) while fewer than maxUnavailable nodes lack an
// available pod, and manage creates their replacements; with surge, it
// creates new pods beside old ones, up to maxSurge at a time, and
// deletes each old pod once its replacement is available.
func (c *Controller) rollingUpdate(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string) error {
	byNode, err := c.nodesToDaemonPods(ctx, ds, false)
	if err != nil {
		return fmt.Errorf("map nodes to pods of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	maxSurge, maxUnavailable, desired, err := c.updatedDesiredNodeCounts(ds, nodes, byNode)
	if err != nil {
		return err
	}
	now := c.clock.Now()
	available := func(pod *corev1.Pod) bool { return isPodAvailable(pod, ds.Spec.MinReadySeconds, now) }
	// Map order would pick different candidates on each sync; node
	// order keeps a rollout's order stable.
	nodeNames := make([]string, 0, len(byNode))
	for name := range byNode {
		nodeNames = append(nodeNames, name)
	}
	slices.Sort(nodeNames)

	if maxSurge == 0 {
		var numUnavailable int
		var replacements, candidates []string
		for _, nodeName := range nodeNames {
			newPod, oldPod, ok := findUpdatedPodsOnNode(ds, byNode[nodeName], hash)
			if !ok {
				// Extra pods: manage prunes them; count the node as
				// unavailable meanwhile.
				numUnavailable++
				continue
			}
			switch {
			case oldPod == nil && newPod == nil, oldPod != nil && newPod != nil:
				// manage creates or deletes here.
				numUnavailable++
			case newPod != nil:
				if !available(newPod) {
					numUnavailable++
				}
			default:
				switch {
				case !available(oldPod):
					// Replacing an unavailable pod costs nothing.
					replacements = append(replacements, oldPod.Name)
					numUnavailable++
				case numUnavailable >= maxUnavailable:
				default:
					candidates = append(candidates, oldPod.Name)
				}
			}
		}
		remaining := min(max(maxUnavailable-numUnavailable, 0), len(candidates))
		return c.syncNodes(ctx, ds, append(replacements, candidates[:remaining]...), nil, hash)
	}

	var oldPodsToDelete, shouldNotRunPodsToDelete, candidateNewNodes, allowedNewNodes []string
	var numSurge, numAvailable int
	for _, nodeName := range nodeNames {
		newPod, oldPod, ok := findUpdatedPodsOnNode(ds, byNode[nodeName], hash)
		if !ok {
			numSurge++
			continue
		}
		switch {
		case oldPod != nil:
			if available(oldPod) {
				numAvailable++
			}
		case newPod != nil:
			if available(newPod) {
				numAvailable++
			}
		}
		switch {
		case oldPod == nil:
			// manage handles the node.
		case newPod == nil:
			shouldRun, err := c.nodeShouldRun(nodeName, ds)
			if err != nil {
				return err
			}
			switch {
			case !available(oldPod) && !shouldRun:
				oldPodsToDelete = append(oldPodsToDelete, oldPod.Name)
			case !available(oldPod):
				allowedNewNodes = append(allowedNewNodes, nodeName)
			case !shouldRun:
				shouldNotRunPodsToDelete = append(shouldNotRunPodsToDelete, oldPod.Name)
			case numSurge < maxSurge:
				candidateNewNodes = append(candidateNewNodes, nodeName)
			}
		default:
			if !available(newPod) {
				numSurge++
				continue
			}
			oldPodsToDelete = append(oldPodsToDelete, oldPod.Name)
		}
	}
	// With surge the owner expects full availability: a pod on a node
	// the daemon left goes only once another node's pod is available.
	if deletable := min(numAvailable-desired, len(shouldNotRunPodsToDelete)); deletable > 0 {
		oldPodsToDelete = append(oldPodsToDelete, shouldNotRunPodsToDelete[:deletable]...)
	}
	remaining := min(max(maxSurge-numSurge, 0), len(candidateNewNodes))
	return c.syncNodes(ctx, ds, oldPodsToDelete, append(allowedNewNodes, candidateNewNodes[:remaining]...), hash)
}

func (c *Controller) nodeShouldRun(nodeName string, ds *appsv1.DaemonSet) (bool, error) {
	node, err := c.nodeLister.Get(nodeName)
	if err != nil {
		return false, fmt.Errorf("get node %s: %w", nodeName, err)
	}
	shouldRun, _ := NodeShouldRunDaemonPod(node, ds)
	return shouldRun, nil
}

// updatedDesiredNodeCounts returns maxSurge, maxUnavailable and the
// nodes that should run the daemon, and gives each of those nodes an
// entry in byNode, empty if it has no pod.
func (c *Controller) updatedDesiredNodeCounts(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod) (maxSurge, maxUnavailable, desired int, err error) {
	for _, node := range nodes {
		if shouldRun, _ := NodeShouldRunDaemonPod(node, ds); !shouldRun {
			continue
		}
		desired++
		if _, ok := byNode[node.Name]; !ok {
			byNode[node.Name] = nil
		}
	}
	if maxUnavailable, err = unavailableCount(ds, desired); err != nil {
		return 0, 0, 0, fmt.Errorf("invalid value for MaxUnavailable: %w", err)
	}
	if maxSurge, err = surgeCount(ds, desired); err != nil {
		return 0, 0, 0, fmt.Errorf("invalid value for MaxSurge: %w", err)
	}
	// Neither surge nor unavailability allowed could never progress;
	// upstream then accepts one unavailable node.
	if desired > 0 && maxUnavailable == 0 && maxSurge == 0 {
		maxUnavailable = 1
	}
	return maxSurge, maxUnavailable, desired, nil
}

// findUpdatedPodsOnNode returns the node's live new and old pods, or
// false when it has more than one of either.
func findUpdatedPodsOnNode(ds *appsv1.DaemonSet, pods []*corev1.Pod, hash string) (newPod, oldPod *corev1.Pod, ok bool) {
	generation := templateGeneration(ds)
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		if isPodUpdated(pod, hash, generation) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = pod
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = pod
		}
	}
	return newPod, oldPod, true
}

// constructHistory returns ds's revision for its current template,
// created or renumbered as the newest if need be, and its other
// revisions.
func (c *Controller) constructHistory(ctx context.Context, ds *appsv1.DaemonSet) (cur *appsv1.ControllerRevision, old []*appsv1.ControllerRevision, err error) {
	revisions, err := c.controlledHistories(ctx, ds)
	if err != nil {
		return nil, nil, err
	}
	patch, err := getPatch(ds)
	if err != nil {
		return nil, nil, err
	}
	var current []*appsv1.ControllerRevision
	for _, r := range revisions {
		// Revisions of old controllers lack the hash label; their name
		// stands in for it.
		if _, ok := r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; !ok {
			toUpdate := r.DeepCopy()
			if toUpdate.Labels == nil {
				toUpdate.Labels = map[string]string{}
			}
			toUpdate.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = toUpdate.Name
			if r, err = c.client.AppsV1().ControllerRevisions(ds.Namespace).Update(ctx, toUpdate, metav1.UpdateOptions{}); err != nil {
				return nil, nil, fmt.Errorf("label controllerrevision %s/%s: %w", toUpdate.Namespace, toUpdate.Name, err)
			}
		}
		if bytes.Equal(patch, r.Data.Raw) {
			current = append(current, r)
		} else {
			old = append(old, r)
		}
	}
	next := maxRevision(old) + 1
	if len(current) == 0 {
		cur, err = c.snapshot(ctx, ds, patch, next)
		return cur, old, err
	}
	cur, err = c.dedupCurrentHistories(ctx, ds, current)
	if err != nil {
		return nil, nil, err
	}
	// The template went back to an older revision's: that revision
	// becomes the newest, as `kubectl rollout undo` expects.
	if cur.Revision < next {
		toUpdate := cur.DeepCopy()
		toUpdate.Revision = next
		if _, err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Update(ctx, toUpdate, metav1.UpdateOptions{}); err != nil {
			return nil, nil, fmt.Errorf("renumber controllerrevision %s/%s: %w", cur.Namespace, cur.Name, err)
		}
	}
	return cur, old, nil
}

// controlledHistories returns the revisions ds controls, adopting and
// releasing as its selector says.
func (c *Controller) controlledHistories(ctx context.Context, ds *appsv1.DaemonSet) ([]*appsv1.ControllerRevision, error) {
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("daemonset %s/%s selector: %w", ds.Namespace, ds.Name, err)
	}
	// All of them: owned revisions the selector no longer matches must
	// be seen to be released.
	all, err := c.revLister.ControllerRevisions(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list controllerrevisions of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return c.revisionOwnership(ds, selector).claim(ctx, all)
}

// snapshot creates the revision of ds's current template. A revision of
// another template under the same name is a hash collision: the
// collision count in ds's status grows, which changes the name the
// next sync tries.
func (c *Controller) snapshot(ctx context.Context, ds *appsv1.DaemonSet, patch []byte, revision int64) (*appsv1.ControllerRevision, error) {
	hash := ComputeHash(&ds.Spec.Template, ds.Status.CollisionCount)
	name := ds.Name + "-" + hash
	revisionLabels := cloneMap(ds.Spec.Template.Labels)
	if revisionLabels == nil {
		revisionLabels = map[string]string{}
	}
	revisionLabels[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: ds.Namespace,
			Labels:    revisionLabels,
			// kubectl rollout history shows each revision's
			// kubernetes.io/change-cause from here.
			Annotations:     cloneMap(ds.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, controllerKind())},
		},
		Data:     runtime.RawExtension{Raw: patch},
		Revision: revision,
	}
	revisions := c.client.AppsV1().ControllerRevisions(ds.Namespace)
	created, err := revisions.Create(ctx, cr, metav1.CreateOptions{})
	if err == nil {
		return created, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create controllerrevision %s/%s: %w", ds.Namespace, name, err)
	}
	existing, getErr := revisions.Get(ctx, name, metav1.GetOptions{})
	if getErr != nil {
		return nil, fmt.Errorf("get controllerrevision %s/%s: %w", ds.Namespace, name, getErr)
	}
	if bytes.Equal(existing.Data.Raw, patch) {
		// Created by an earlier sync the cache has not shown yet.
		return existing, nil
	}
	fresh, getErr := c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	if getErr != nil {
		return nil, fmt.Errorf("get daemonset %s/%s: %w", ds.Namespace, ds.Name, getErr)
	}
	// A stale count in the cache collides again by itself; only the
	// stored count is bumped.
	if !reflect.DeepEqual(fresh.Status.CollisionCount, ds.Status.CollisionCount) {
		return nil, fmt.Errorf("found a stale collision count of DaemonSet %s/%s while processing; will retry until it is updated", ds.Namespace, ds.Name)
	}
	if fresh.Status.CollisionCount == nil {
		fresh.Status.CollisionCount = new(int32)
	}
	*fresh.Status.CollisionCount++
	if _, err := c.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, fresh, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("bump collision count of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	c.log.Info("Hash collision for daemonset, bumped collision count", "daemonset", ds.Namespace+"/"+ds.Name, "collisionCount", *fresh.Status.CollisionCount)
	return nil, fmt.Errorf("create controllerrevision %s/%s: %w", ds.Namespace, name, err)
}

// dedupCurrentHistories keeps the newest of several revisions of the
// current template, relabelling pods of the others to it.
func (c *Controller) dedupCurrentHistories(ctx context.Context, ds *appsv1.DaemonSet, current []*appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
	if len(current) == 1 {
		return current[0], nil
	}
	keep := current[0]
	for _, r := range current {
		if r.Revision >= keep.Revision {
			keep = r
		}
	}
	keepHash := keep.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	pods, err := c.daemonPods(ctx, ds)
	if err != nil {
		return nil, err
	}
	for _, pod := range pods {
		if pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == keepHash {
			continue
		}
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{appsv1.DefaultDaemonSetUniqueLabelKey: keepHash}}})
		if err != nil {
			return nil, err
		}
		if _, err := c.client.CoreV1().Pods(ds.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return nil, fmt.Errorf("relabel pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	for _, r := range current {
		if r.Name == keep.Name {
			continue
		}
		if err := c.history.Delete(ctx, r); err != nil {
			return nil, err
		}
	}
	return keep, nil
}

// cleanupHistory deletes the oldest revisions beyond
// revisionHistoryLimit that no pod still runs.
func (c *Controller) cleanupHistory(ctx context.Context, ds *appsv1.DaemonSet, old []*appsv1.ControllerRevision) error {
	if ds.Spec.RevisionHistoryLimit == nil {
		return nil
	}
	byNode, err := c.nodesToDaemonPods(ctx, ds, true)
	if err != nil {
		return err
	}
	toKill := len(old) - int(*ds.Spec.RevisionHistoryLimit)
	if toKill <= 0 {
		return nil
	}
	live := map[string]bool{}
	for _, pods := range byNode {
		for _, pod := range pods {
			if h := pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; h != "" {
				live[h] = true
			}
		}
	}
	old = slices.Clone(old)
	slices.SortFunc(old, func(a, b *appsv1.ControllerRevision) int { return cmp.Compare(a.Revision, b.Revision) })
	for _, r := range old {
		if toKill <= 0 {
			break
		}
		if live[r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]] {
			continue
		}
		if err := c.history.Delete(ctx, r); err != nil {
			return err
		}
		toKill--
	}
	return nil
}

func maxRevision(revisions []*appsv1.ControllerRevision) int64 {
	var m int64
	for _, r := range revisions {
		m = max(m, r.Revision)
	}
	return m
}

// getPatch is the data of ds's revisions, upstream's: a strategic merge
// patch that puts the template back, {"spec":{"template":{...,
// "$patch":"replace"}}}, its keys sorted. kubectl applies it for
// `rollout history --revision` and `rollout undo`, and compares it
// byte for byte to find a DaemonSet's current revision.
func getPatch(ds *appsv1.DaemonSet) ([]byte, error) {
	dsBytes, err := json.Marshal(ds)
	if err != nil {
		return nil, fmt.Errorf("encode daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(dsBytes, &raw); err != nil {
		return nil, fmt.Errorf("decode daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	spec, _ := raw["spec"].(map[string]any)
	template, _ := spec["template"].(map[string]any)
	if template == nil {
		template = map[string]any{}
	}
	template["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": template}})
}
