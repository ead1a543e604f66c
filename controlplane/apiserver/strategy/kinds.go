package strategy

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// hooks are a resource's lifecycle rules beyond the generic ones.
type hooks struct {
	prepareForCreate func(obj runtime.Object)
	prepareForUpdate func(obj, old runtime.Object)
	gracePeriod      func(obj runtime.Object, requested *int64) (int64, bool)
}

var kindHooks = map[schema.GroupVersionResource]hooks{
	corev1.SchemeGroupVersion.WithResource("pods"): {
		prepareForCreate: func(obj runtime.Object) {
			pod := obj.(*corev1.Pod)
			pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: qosClass(&pod.Spec)}
		},
		gracePeriod: podGracePeriod,
	},
	corev1.SchemeGroupVersion.WithResource("namespaces"): {
		prepareForCreate: func(obj runtime.Object) {
			ns := obj.(*corev1.Namespace)
			ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
			// The namespace controller removes this once the namespace
			// is empty; only then does the namespace go.
			ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
		},
	},
}

// podGracePeriod is upstream's: a pod never scheduled, or a deletion asking
// for 0 seconds, goes at once; otherwise the kubelet gets the requested
// period, else the pod's own (30 s by default), to stop the containers.
func podGracePeriod(obj runtime.Object, requested *int64) (int64, bool) {
	pod := obj.(*corev1.Pod)
	if pod.Spec.NodeName == "" {
		return 0, false
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, false
	}
	seconds := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		seconds = *pod.Spec.TerminationGracePeriodSeconds
	}
	if requested != nil {
		seconds = *requested
	}
	if seconds <= 0 {
		return 0, false
	}
	return seconds, true
}

// qosClass is upstream's: Guaranteed when every container has equal cpu
// and memory requests and limits, BestEffort when none has any, else
// Burstable.
func qosClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed := true
	containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, c := range containers {
		for name, q := range c.Resources.Requests {
			if name == corev1.ResourceCPU || name == corev1.ResourceMemory {
				if !q.IsZero() {
					requests[name] = q
				}
			}
		}
		complete := 0
		for name, q := range c.Resources.Limits {
			if name == corev1.ResourceCPU || name == corev1.ResourceMemory {
				if !q.IsZero() {
					limits[name] = q
					complete++
				}
			}
		}
		if complete < 2 {
			guaranteed = false
		}
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[name]
			lim, hasLim := c.Resources.Limits[name]
			if hasReq && hasLim && req.Cmp(lim) != 0 {
				guaranteed = false
			}
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
