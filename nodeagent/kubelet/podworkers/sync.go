package podworkers

import (
	"context"
	"errors"
	"fmt"

	"github.com/kindish/kindish/nodeagent/kubelet/kuberuntime"
	corev1 "k8s.io/api/core/v1"
)

// Event reasons about pods, upstream's.
const (
	eventNetworkNotReady = "NetworkNotReady"
	eventFailedMount     = "FailedMount"
)

// networkNotReadyMessage is upstream's NetworkNotReadyErrorMsg.
const networkNotReadyMessage = "network is not ready"

// The annotation that says where the kubelet got a pod from; static pods
// have one other than "api".
const configSourceAnnotation = "kubernetes.io/config.source"

func isStatic(pod *corev1.Pod) bool {
	source, ok := pod.Annotations[configSourceAnnotation]
	return ok && source != "api"
}

func isTerminalPhase(p corev1.PodPhase) bool {
	return p == corev1.PodSucceeded || p == corev1.PodFailed
}

// isTerminal reports whether the pod reached Succeeded or Failed, as the
// API or the kubelet's last status says: such a pod never runs again.
func (w *Workers) isTerminal(pod *corev1.Pod) bool {
	if s, ok := w.status.get(pod.UID); ok && isTerminalPhase(s.Phase) {
		return true
	}
	return isTerminalPhase(pod.Status.Phase)
}

// gracePeriod is how long the pod's containers get to stop: the deletion's
// grace period, else the pod's, else 30s; at least 1s.
func gracePeriod(pod *corev1.Pod) int64 {
	g := int64(kuberuntime.DefaultTerminationGracePeriod)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		g = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil && *pod.DeletionGracePeriodSeconds > 0 {
		g = *pod.DeletionGracePeriodSeconds
	}
	return max(g, 1)
}

// syncPod moves a running pod one step toward its spec and reports its
// status. It reports terminal once the pod reached Succeeded or Failed.
func (w *Workers) syncPod(ctx context.Context, pod *corev1.Pod) (terminal bool, err error) {
	ps, err := w.runtime.PodStatus(ctx, pod.UID, pod.Name, pod.Namespace)
	if err != nil {
		return false, err
	}
	if !kuberuntime.IsHostNetwork(pod) && w.networkReady != nil {
		if nerr := w.networkReady(); nerr != nil {
			w.recorder.Eventf(kuberuntime.PodRef(pod), corev1.EventTypeWarning, eventNetworkNotReady, "%s: %v", networkNotReadyMessage, nerr)
			if _, err := w.updateStatus(ctx, pod, ps, false); err != nil {
				return false, err
			}
			return false, fmt.Errorf("%s: %w", networkNotReadyMessage, nerr)
		}
	}
	if w.volumes != nil {
		if verr := w.volumes.SetUp(ctx, pod); verr != nil {
			w.recorder.Event(kuberuntime.PodRef(pod), corev1.EventTypeWarning, eventFailedMount, verr.Error())
			if _, err := w.updateStatus(ctx, pod, ps, false); err != nil {
				return false, err
			}
			return false, fmt.Errorf("set up volumes of pod %q: %w: %w", kuberuntime.FormatPod(pod), errVolumesNotReady, verr)
		}
	}

	result := w.runtime.SyncPod(ctx, pod, ps)
	w.reasons.update(pod.UID, result)
	if ctx.Err() != nil {
		// A termination cut the sync short; it reports the status itself.
		return false, ctx.Err()
	}
	if ps, err = w.runtime.PodStatus(ctx, pod.UID, pod.Name, pod.Namespace); err != nil {
		return false, err
	}
	status, err := w.updateStatus(ctx, pod, ps, false)
	if err != nil {
		return false, err
	}
	if isTerminalPhase(status.Phase) {
		return true, nil
	}
	return false, result.Err
}

// updateStatus computes the pod's API status from its runtime state, hands
// it to the prober and writes it.
func (w *Workers) updateStatus(ctx context.Context, pod *corev1.Pod, ps *kuberuntime.PodStatus, podIsTerminal bool) (*corev1.PodStatus, error) {
	old := w.status.base(pod)
	s := w.generateAPIPodStatus(pod, ps, old, podIsTerminal)
	stored := w.status.set(pod, s)
	if w.probes != nil {
		w.probes.UpdatePod(pod, stored.DeepCopy())
	}
	return stored, w.status.write(ctx, pod)
}

// terminatePod kills the pod with its grace period, reports its final
// status and tears down its volumes.
func (w *Workers) terminatePod(ctx context.Context, pod *corev1.Pod, removed bool) error {
	ps, err := w.runtime.PodStatus(ctx, pod.UID, pod.Name, pod.Namespace)
	if err != nil {
		return err
	}
	grace := gracePeriod(pod)
	if err := w.runtime.KillPod(ctx, pod, ps, &grace); err != nil {
		return err
	}
	if ps, err = w.runtime.PodStatus(ctx, pod.UID, pod.Name, pod.Namespace); err != nil {
		return err
	}
	if !removed {
		_, err := w.updateStatus(ctx, pod, ps, true)
		switch {
		case errors.Is(err, errPodGone):
			w.markRemoved(pod.UID)
		case err != nil:
			return err
		}
	}
	if w.volumes != nil {
		if err := w.volumes.TearDown(ctx, pod.UID); err != nil {
			return fmt.Errorf("tear down volumes of pod %q: %w", kuberuntime.FormatPod(pod), err)
		}
	}
	if w.probes != nil {
		w.probes.RemovePod(pod.UID)
	}
	return nil
}

// finishPod ends a terminated pod's life: a pod gone from its source is
// removed from the runtime; a deleted pod is deleted from the API (grace
// 0, on its UID, as upstream's status manager does) and then removed. A
// pod that merely completed stays, its containers kept for their logs,
// until it is deleted.
func (w *Workers) finishPod(ctx context.Context, pod *corev1.Pod, removed bool) (bool, error) {
	switch {
	case removed:
	case pod.DeletionTimestamp != nil && !isStatic(pod):
		if err := w.status.deletePod(ctx, pod); err != nil {
			return false, err
		}
	default:
		return false, nil
	}
	ps, err := w.runtime.PodStatus(ctx, pod.UID, pod.Name, pod.Namespace)
	if err != nil {
		return false, err
	}
	if err := w.runtime.RemovePod(ctx, ps); err != nil {
		return false, err
	}
	w.runtime.ForgetPod(pod)
	w.reasons.forget(pod.UID)
	w.status.forget(pod.UID)
	return true, nil
}
