package nodelifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The eviction taints, upstream's UnreachableTaintTemplate and
// NotReadyTaintTemplate.
var (
	unreachableNoExecute = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
	notReadyNoExecute    = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
)

// conditionTaintKey is the NoSchedule taint a condition's status calls
// for, upstream's nodeConditionToTaintKeyStatusMap.
func conditionTaintKey(cond corev1.NodeCondition) (string, bool) {
	switch {
	case cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionFalse:
		return corev1.TaintNodeNotReady, true
	case cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionUnknown:
		return corev1.TaintNodeUnreachable, true
	case cond.Type == corev1.NodeMemoryPressure && cond.Status == corev1.ConditionTrue:
		return corev1.TaintNodeMemoryPressure, true
	case cond.Type == corev1.NodeDiskPressure && cond.Status == corev1.ConditionTrue:
		return corev1.TaintNodeDiskPressure, true
	case cond.Type == corev1.NodeNetworkUnavailable && cond.Status == corev1.ConditionTrue:
		return corev1.TaintNodeNetworkUnavailable, true
	case cond.Type == corev1.NodePIDPressure && cond.Status == corev1.ConditionTrue:
		return corev1.TaintNodePIDPressure, true
	}
	return "", false
}

// controllerNoScheduleKeys are the NoSchedule taints this controller
// owns; any other taint on a node is left as it is.
var controllerNoScheduleKeys = []string{
	corev1.TaintNodeNotReady,
	corev1.TaintNodeUnreachable,
	corev1.TaintNodeMemoryPressure,
	corev1.TaintNodeDiskPressure,
	corev1.TaintNodeNetworkUnavailable,
	corev1.TaintNodePIDPressure,
	corev1.TaintNodeUnschedulable,
}

// matchTaint compares the identity of taints: key and effect.
func matchTaint(a, b corev1.Taint) bool { return a.Key == b.Key && a.Effect == b.Effect }

func hasTaint(taints []corev1.Taint, t corev1.Taint) bool {
	return slices.ContainsFunc(taints, func(x corev1.Taint) bool { return matchTaint(x, t) })
}

// syncNoScheduleTaints makes the node's NoSchedule taints follow its
// conditions and spec.unschedulable, upstream's doNoScheduleTaintingPass.
func (c *Controller) syncNoScheduleTaints(ctx context.Context, name string) error {
	node, err := c.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get node %q: %w", name, err)
	}
	var want []corev1.Taint
	for _, cond := range node.Status.Conditions {
		if key, ok := conditionTaintKey(cond); ok {
			want = append(want, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	if node.Spec.Unschedulable {
		want = append(want, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	var add, remove []corev1.Taint
	for _, t := range want {
		if !hasTaint(node.Spec.Taints, t) {
			add = append(add, t)
		}
	}
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule && slices.Contains(controllerNoScheduleKeys, t.Key) && !hasTaint(want, t) {
			remove = append(remove, t)
		}
	}
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	return c.swapTaints(ctx, node, add, remove)
}

// swapTaints adds the taints the node lacks, stamped with the time, and
// removes the others, in one patch conditioned on the node's
// resourceVersion. On a conflict it reads the node again and retries.
func (c *Controller) swapTaints(ctx context.Context, node *corev1.Node, add, remove []corev1.Taint) error {
	const attempts = 5
	name := node.Name
	for attempt := 1; ; attempt++ {
		taints, changed := changeTaints(node.Spec.Taints, add, remove, c.now())
		if !changed {
			return nil
		}
		err := c.patchTaints(ctx, node, taints)
		if err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) || attempt == attempts {
			return fmt.Errorf("update taints of node %q: %w", name, err)
		}
		if node, err = c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err != nil {
			return fmt.Errorf("get node %q: %w", name, err)
		}
	}
}

// changeTaints is taints without remove and with the missing ones of
// add; taints already present keep their timeAdded.
func changeTaints(taints, add, remove []corev1.Taint, now metav1.Time) ([]corev1.Taint, bool) {
	out := slices.DeleteFunc(slices.Clone(taints), func(t corev1.Taint) bool { return hasTaint(remove, t) })
	changed := len(out) != len(taints)
	for _, t := range add {
		if hasTaint(out, t) {
			continue
		}
		t.TimeAdded = &now
		out = append(out, t)
		changed = true
	}
	return out, changed
}

func (c *Controller) patchTaints(ctx context.Context, node *corev1.Node, taints []corev1.Taint) error {
	spec := map[string]any{"taints": nil}
	if len(taints) > 0 {
		spec["taints"] = taints
	}
	body, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": node.ResourceVersion},
		"spec":     spec,
	})
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, body, metav1.PatchOptions{})
	return err
}

// betaLabels are the deprecated node labels kept equal to their stable
// ones, upstream's labelReconcileInfo.
var betaLabels = []struct{ stable, beta string }{
	{corev1.LabelOSStable, "beta.kubernetes.io/os"},
	{corev1.LabelArchStable, "beta.kubernetes.io/arch"},
}

// reconcileNodeLabels sets the beta OS and architecture labels from the
// stable ones, for clients that still select on them.
func (c *Controller) reconcileNodeLabels(ctx context.Context, name string) error {
	node, err := c.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get node %q: %w", name, err)
	}
	update := map[string]string{}
	for _, l := range betaLabels {
		value, ok := node.Labels[l.stable]
		if ok && node.Labels[l.beta] != value {
			update[l.beta] = value
		}
	}
	if len(update) == 0 {
		return nil
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": update}})
	if err != nil {
		return err
	}
	if _, err := c.client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("update labels of node %q: %w", name, err)
	}
	return nil
}
