// Package podresources is arithmetic over a pod's resource requests and
// limits, as upstream's resource helpers do it: the pod's effective total
// (sidecars included) and its quality of service class. Defaulting,
// admission and the pod strategy all need the same answers.
package podresources

import corev1 "k8s.io/api/core/v1"

// Total is what a pod needs of the resources that of picks (requests or
// limits): the regular containers and the sidecars together, or the
// largest need while an init container runs beside the sidecars started
// before it, whichever is larger.
func Total(spec *corev1.PodSpec, of func(*corev1.ResourceRequirements) corev1.ResourceList) corev1.ResourceList {
	total := corev1.ResourceList{}
	for i := range spec.Containers {
		Add(total, of(&spec.Containers[i].Resources))
	}
	sidecars, initPeak := corev1.ResourceList{}, corev1.ResourceList{}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		need := of(&c.Resources)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			// A sidecar runs alongside everything after it.
			Add(total, need)
			Add(sidecars, need)
			Max(initPeak, sidecars)
			continue
		}
		running := corev1.ResourceList{}
		Add(running, need)
		Add(running, sidecars)
		Max(initPeak, running)
	}
	Max(total, initPeak)
	return total
}

// Add adds src to dst, resource by resource.
func Add(dst, src corev1.ResourceList) {
	for name, q := range src {
		sum, ok := dst[name]
		if !ok {
			dst[name] = q.DeepCopy()
			continue
		}
		sum.Add(q)
		dst[name] = sum
	}
}

// Max raises each resource of dst to src's where src's is larger.
func Max(dst, src corev1.ResourceList) {
	for name, q := range src {
		if cur, ok := dst[name]; !ok || q.Cmp(cur) > 0 {
			dst[name] = q.DeepCopy()
		}
	}
}

// QOSClass is upstream's: Guaranteed when every container has equal, set
// cpu and memory requests and limits, BestEffort when none has any, else
// Burstable.
func QOSClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	requested, limited := false, false
	guaranteed := true
	for _, containers := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range containers {
			complete := 0
			for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, hasReq := c.Resources.Requests[name]
				lim, hasLim := c.Resources.Limits[name]
				requested = requested || (hasReq && !req.IsZero())
				if hasLim && !lim.IsZero() {
					limited = true
					complete++
				}
				if hasReq && hasLim && req.Cmp(lim) != 0 {
					guaranteed = false
				}
			}
			if complete < 2 {
				guaranteed = false
			}
		}
	}
	switch {
	case !requested && !limited:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
