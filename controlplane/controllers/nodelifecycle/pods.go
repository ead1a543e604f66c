package nodelifecycle

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// podsOnNode are the cached pods bound to the node.
func (c *Controller) podsOnNode(name string) ([]*corev1.Pod, error) {
	objs, err := c.podIndexer.ByIndex(PodNodeNameIndex, name)
	if err != nil {
		return nil, fmt.Errorf("pods of node %q: %w", name, err)
	}
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, obj := range objs {
		if pod, ok := obj.(*corev1.Pod); ok {
			pods = append(pods, pod)
		}
	}
	return pods, nil
}

// markPodsNotReady sets the Ready condition of the node's pods to False,
// upstream's MarkPodsNotReady: endpoints then stop sending traffic to
// pods on a node that may no longer run them.
func (c *Controller) markPodsNotReady(ctx context.Context, pods []*corev1.Pod, nodeName string) error {
	var errs []error
	for _, cached := range pods {
		if cached.Spec.NodeName != nodeName {
			continue
		}
		pod := cached.DeepCopy()
		i := podReadyIndex(pod)
		if i < 0 || pod.Status.Conditions[i].Status == corev1.ConditionFalse {
			continue
		}
		pod.Status.Conditions[i].Status = corev1.ConditionFalse
		pod.Status.Conditions[i].LastTransitionTime = c.now()
		if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			errs = append(errs, fmt.Errorf("mark pod %s/%s not ready: %w", pod.Namespace, pod.Name, err))
			continue
		}
		// After the update, so that the event is about a pod that exists.
		c.recorder.Event(pod, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
	}
	return errors.Join(errs...)
}

func podReadyIndex(pod *corev1.Pod) int {
	for i, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return i
		}
	}
	return -1
}

// syncPod marks a newly bound pod not ready when its node is not.
func (c *Controller) syncPod(ctx context.Context, key types.NamespacedName) error {
	pod, err := c.podLister.Pods(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get pod %s: %w", key, err)
	}
	nodeName := pod.Spec.NodeName
	health := c.health.get(nodeName)
	if health == nil {
		// The monitor has not seen the node yet; its pass handles the pod.
		return nil
	}
	if _, err := c.nodeLister.Get(nodeName); err != nil {
		return fmt.Errorf("get node %q: %w", nodeName, err)
	}
	ready := nodeCondition(health.status, corev1.NodeReady)
	if ready == nil || ready.Status == corev1.ConditionTrue {
		return nil
	}
	return c.markPodsNotReady(ctx, []*corev1.Pod{pod}, nodeName)
}
