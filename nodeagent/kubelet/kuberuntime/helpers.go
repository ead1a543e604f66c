package kuberuntime

import (
	"fmt"
	"path"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// FormatPod names a pod in messages as upstream's kubelet does:
// "<name>_<namespace>(<uid>)".
func FormatPod(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}

// IsHostNetwork reports whether the pod uses the node's network namespace.
func IsHostNetwork(pod *corev1.Pod) bool {
	return pod.Spec.HostNetwork
}

// PodRef is the reference events about a pod are recorded against.
func PodRef(pod *corev1.Pod) *corev1.ObjectReference {
	return &corev1.ObjectReference{
		Kind:            "Pod",
		APIVersion:      "v1",
		Namespace:       pod.Namespace,
		Name:            pod.Name,
		UID:             pod.UID,
		ResourceVersion: pod.ResourceVersion,
	}
}

// containerRef is the reference events about one of a pod's containers are
// recorded against: the pod, with the container's field path, so that
// kubectl describe shows "spec.containers{app}".
func containerRef(pod *corev1.Pod, c *corev1.Container) *corev1.ObjectReference {
	ref := PodRef(pod)
	ref.FieldPath = fmt.Sprintf("spec.containers{%s}", c.Name)
	if findContainer(pod.Spec.InitContainers, c.Name) != nil {
		ref.FieldPath = fmt.Sprintf("spec.initContainers{%s}", c.Name)
	}
	return ref
}

// PodQOS returns the pod's QoS class: the one in its status, else the one
// computed from its containers' CPU and memory requests and limits, as
// upstream's qos.GetPodQOS.
func PodQOS(pod *corev1.Pod) corev1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	return ComputePodQOS(pod)
}

// ComputePodQOS computes the QoS class from the pod's containers: no
// requests or limits is BestEffort; CPU and memory limits on every
// container, equal to the requests, is Guaranteed; anything else is
// Burstable.
func ComputePodQOS(pod *corev1.Pod) corev1.PodQOSClass {
	requests := corev1.ResourceList{}
	limits := corev1.ResourceList{}
	guaranteed := true
	all := append(append([]corev1.Container(nil), pod.Spec.Containers...), pod.Spec.InitContainers...)
	for _, c := range all {
		for name, q := range c.Resources.Requests {
			if isQoSResource(name) && q.Sign() > 0 {
				addQuantity(requests, name, q)
			}
		}
		found := map[corev1.ResourceName]bool{}
		for name, q := range c.Resources.Limits {
			if isQoSResource(name) && q.Sign() > 0 {
				found[name] = true
				addQuantity(limits, name, q)
			}
		}
		if !found[corev1.ResourceCPU] || !found[corev1.ResourceMemory] {
			guaranteed = false
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func isQoSResource(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceMemory
}

func addQuantity(list corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
	sum := q.DeepCopy()
	if prev, ok := list[name]; ok {
		sum.Add(prev)
	}
	list[name] = sum
}

// CgroupParent is the pod's cgroup under the cgroupfs driver, as upstream's
// pod container manager names it: guaranteed pods directly under
// /kubepods, the others under /kubepods/burstable or /kubepods/besteffort.
func CgroupParent(pod *corev1.Pod) string {
	leaf := "pod" + string(pod.UID)
	switch PodQOS(pod) {
	case corev1.PodQOSGuaranteed:
		return path.Join("/kubepods", leaf)
	case corev1.PodQOSBurstable:
		return path.Join("/kubepods", "burstable", leaf)
	default:
		return path.Join("/kubepods", "besteffort", leaf)
	}
}

// CPU arithmetic, with upstream's constants (pkg/kubelet/cm).
const (
	minShares     = 2
	maxShares     = 262144
	sharesPerCPU  = 1024
	milliCPUToCPU = 1000
	// quotaPeriod is the CFS period in microseconds: 100ms.
	quotaPeriod    = 100000
	minQuotaPeriod = 1000
)

// milliCPUToShares converts a CPU request to cpu.shares; no request gets the
// minimum, 2.
func milliCPUToShares(milliCPU int64) int64 {
	if milliCPU == 0 {
		return minShares
	}
	shares := milliCPU * sharesPerCPU / milliCPUToCPU
	switch {
	case shares < minShares:
		return minShares
	case shares > maxShares:
		return maxShares
	}
	return shares
}

// milliCPUToQuota converts a CPU limit to a CFS quota over period; no limit
// is no quota (0).
func milliCPUToQuota(milliCPU, period int64) int64 {
	if milliCPU == 0 {
		return 0
	}
	quota := milliCPU * period / milliCPUToCPU
	if quota < minQuotaPeriod {
		quota = minQuotaPeriod
	}
	return quota
}

// stableKey identifies a container across restarts for its crash-loop
// back-off; a changed spec starts a fresh back-off.
func stableKey(pod *corev1.Pod, c *corev1.Container) string {
	return fmt.Sprintf("%s_%s_%s_%s_%x", pod.Name, pod.Namespace, pod.UID, c.Name, HashContainer(c))
}
