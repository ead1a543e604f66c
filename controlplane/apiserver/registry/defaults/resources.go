package defaults

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kindish/kindish/controlplane/apiserver/registry/podresources"
)

// milliScale is the finest resource quantity the API keeps: finer values
// are rounded up to it, as upstream does for compatibility.
const milliScale = -3

// roundResourceList rounds every quantity of a resource list up to a
// thousandth.
func roundResourceList(rl corev1.ResourceList) {
	for name, q := range rl {
		q.RoundUp(milliScale)
		rl[name] = q
	}
}

func roundRequirements(r *corev1.ResourceRequirements) {
	roundResourceList(r.Limits)
	roundResourceList(r.Requests)
}

// requestsFromLimits makes a container that gives a limit but no request
// for a resource request its limit. Only pods get this; upstream leaves
// templates alone.
func requestsFromLimits(r *corev1.ResourceRequirements) {
	if r.Limits == nil {
		return
	}
	if r.Requests == nil {
		r.Requests = make(corev1.ResourceList, len(r.Limits))
	}
	for name, limit := range r.Limits {
		if _, ok := r.Requests[name]; !ok {
			r.Requests[name] = limit.DeepCopy()
		}
	}
}

// podLevelResources fills the pod-level requests and limits of a pod that
// sets some of them (the PodLevelResources feature, beta and on in v1.36).
// Pod-level limits are filled only for hugepages; upstream does not fill
// pod-level CPU or memory limits from the containers' in v1.36.
func podLevelResources(pod *corev1.Pod) {
	res := pod.Spec.Resources
	if res == nil {
		return
	}
	hugePagePodLimits(&pod.Spec, res)
	podRequests(&pod.Spec, res)
}

// hugePagePodLimits sets the pod's limit for each hugepage size that its
// containers limit, when the pod gives neither limit nor request for that
// size: hugepages cannot be overcommitted, so the pod needs what its
// containers together need.
func hugePagePodLimits(spec *corev1.PodSpec, res *corev1.ResourceRequirements) {
	if len(res.Limits) == 0 && len(res.Requests) == 0 {
		return
	}
	limits := res.Limits
	if limits == nil {
		limits = corev1.ResourceList{}
	}
	for name, q := range podresources.Total(spec, func(r *corev1.ResourceRequirements) corev1.ResourceList { return r.Limits }) {
		if !isHugePages(name) {
			continue
		}
		if _, ok := res.Requests[name]; ok {
			continue
		}
		if _, ok := limits[name]; !ok {
			limits[name] = q
		}
	}
	if len(limits) > 0 {
		res.Limits = limits
	}
}

// podRequests sets, for a pod that gives pod-level limits, the pod-level
// requests it leaves out: CPU and memory from what its containers request
// together, and then any limited resource from its limit.
func podRequests(spec *corev1.PodSpec, res *corev1.ResourceRequirements) {
	if len(res.Limits) == 0 {
		return
	}
	requests := res.Requests
	if requests == nil {
		requests = corev1.ResourceList{}
	}
	for name, q := range podresources.Total(spec, func(r *corev1.ResourceRequirements) corev1.ResourceList { return r.Requests }) {
		if _, ok := requests[name]; !ok && podLevelResource(name) && !isHugePages(name) {
			requests[name] = q
		}
	}
	for name, q := range res.Limits {
		if _, ok := requests[name]; !ok && podLevelResource(name) {
			requests[name] = q.DeepCopy()
		}
	}
	if len(requests) > 0 {
		res.Requests = requests
	}
}

// podLevelResource reports the resources a pod may set at pod level.
func podLevelResource(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceMemory || isHugePages(name)
}

func isHugePages(name corev1.ResourceName) bool {
	return strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}
