package envvars

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// podFieldValue resolves a downward API fieldRef. The messages are
// upstream's (pkg/apis/core/pods and pkg/fieldpath).
func podFieldValue(fs *corev1.ObjectFieldSelector, pod *corev1.Pod, podIPs []string, hostIP string) (string, error) {
	// The API server defaults apiVersion to v1; an undefaulted static pod
	// manifest means the same.
	if fs.APIVersion != "" && fs.APIVersion != "v1" {
		return "", fmt.Errorf("unsupported pod version: %s", fs.APIVersion)
	}
	path := fs.FieldPath
	if base, subscript, ok := splitSubscript(path); ok {
		switch base {
		case "metadata.annotations":
			if errs := validation.IsQualifiedName(strings.ToLower(subscript)); len(errs) != 0 {
				return "", fmt.Errorf("invalid key subscript in %s: %s", path, strings.Join(errs, ";"))
			}
			return pod.Annotations[subscript], nil
		case "metadata.labels":
			if errs := validation.IsQualifiedName(subscript); len(errs) != 0 {
				return "", fmt.Errorf("invalid key subscript in %s: %s", path, strings.Join(errs, ";"))
			}
			return pod.Labels[subscript], nil
		default:
			return "", fmt.Errorf("field label does not support subscript: %s", path)
		}
	}

	podIPs = sortPodIPs(podIPs, hostIP)
	switch path {
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	// spec.host is what old v1 clients send for spec.nodeName.
	case "spec.nodeName", "spec.host":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		if hostIP == "" {
			return "", errors.New("host IP unknown")
		}
		return hostIP, nil
	case "status.podIP":
		if len(podIPs) == 0 {
			return "", nil
		}
		return podIPs[0], nil
	case "status.podIPs":
		return strings.Join(podIPs, ","), nil
	// Upstream accepts these labels but has no value to give for them.
	case "spec.restartPolicy", "spec.schedulerName", "status.phase":
		return "", fmt.Errorf("unsupported fieldPath: %v", path)
	}
	return "", fmt.Errorf("field label not supported: %s", path)
}

// splitSubscript splits "metadata.labels['key']" into its path and key.
func splitSubscript(fieldPath string) (path, subscript string, ok bool) {
	if !strings.HasSuffix(fieldPath, "']") {
		return fieldPath, "", false
	}
	parts := strings.SplitN(strings.TrimSuffix(fieldPath, "']"), "['", 2)
	if len(parts) < 2 || parts[0] == "" {
		return fieldPath, "", false
	}
	return parts[0], parts[1], true
}

// formatMap renders labels or annotations as the downward API does: one
// key="quoted value" per line, sorted by key.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []byte
	for _, k := range keys {
		if len(b) > 0 {
			b = append(b, '\n')
		}
		b = append(b, k...)
		b = append(b, '=')
		b = strconv.AppendQuote(b, m[k])
	}
	return string(b)
}

// sortPodIPs keeps the first pod IP of each family, the node's family
// first, so that status.podIP is of the family the node prefers.
func sortPodIPs(podIPs []string, hostIP string) []string {
	preferV6 := false
	if a, err := netip.ParseAddr(hostIP); err == nil {
		preferV6 = a.Is6() && !a.Is4In6()
	}
	var first, second string
	for _, s := range podIPs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		isV6 := a.Is6() && !a.Is4In6()
		if isV6 == preferV6 {
			if first == "" {
				first = s
			}
		} else if second == "" {
			second = s
		}
	}
	var out []string
	for _, s := range []string{first, second} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// defaultedLimits returns copies of the pod and the container in which
// unset or zero cpu, memory and ephemeral-storage limits are the pod-level
// limit when there is one and otherwise the node's allocatable: a container
// without a limit may use that much.
func defaultedLimits(pod *corev1.Pod, c *corev1.Container, allocatable corev1.ResourceList) (*corev1.Pod, *corev1.Container) {
	ceiling := allocatable
	if pod.Spec.Resources != nil && len(pod.Spec.Resources.Limits) > 0 {
		ceiling = allocatable.DeepCopy()
		// Pod-level resources cover cpu and memory only.
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if v, ok := pod.Spec.Resources.Limits[name]; ok && !v.IsZero() {
				if _, ok := ceiling[name]; ok {
					ceiling[name] = v.DeepCopy()
				}
			}
		}
	}
	outPod := pod.DeepCopy()
	for i := range outPod.Spec.Containers {
		mergeLimits(&outPod.Spec.Containers[i], ceiling)
	}
	outContainer := c.DeepCopy()
	mergeLimits(outContainer, ceiling)
	return outPod, outContainer
}

func mergeLimits(c *corev1.Container, ceiling corev1.ResourceList) {
	if c.Resources.Limits == nil {
		c.Resources.Limits = make(corev1.ResourceList)
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q, ok := c.Resources.Limits[name]; ok && !q.IsZero() {
			continue
		}
		if v, ok := ceiling[name]; ok {
			c.Resources.Limits[name] = v.DeepCopy()
		}
	}
}

// resourceFieldValue resolves a resourceFieldRef against a pod and
// container whose limits are already defaulted.
func resourceFieldValue(fs *corev1.ResourceFieldSelector, pod *corev1.Pod, c *corev1.Container) (string, error) {
	if fs.ContainerName != "" {
		found := findContainer(pod, fs.ContainerName)
		if found == nil {
			return "", fmt.Errorf("container %s not found", fs.ContainerName)
		}
		c = found
	}
	divisor := fs.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	limits, requests := c.Resources.Limits, c.Resources.Requests
	switch fs.Resource {
	case "limits.cpu":
		return cpuValue(limits.Cpu(), divisor), nil
	case "limits.memory":
		return bytesValue(limits.Memory(), divisor), nil
	case "limits.ephemeral-storage":
		return bytesValue(limits.StorageEphemeral(), divisor), nil
	case "requests.cpu":
		return cpuValue(requests.Cpu(), divisor), nil
	case "requests.memory":
		return bytesValue(requests.Memory(), divisor), nil
	case "requests.ephemeral-storage":
		return bytesValue(requests.StorageEphemeral(), divisor), nil
	}
	if name, ok := strings.CutPrefix(fs.Resource, "requests."); ok && strings.HasPrefix(name, corev1.ResourceHugePagesPrefix) {
		return bytesValue(requests.Name(corev1.ResourceName(name), resource.BinarySI), divisor), nil
	}
	if name, ok := strings.CutPrefix(fs.Resource, "limits."); ok && strings.HasPrefix(name, corev1.ResourceHugePagesPrefix) {
		return bytesValue(limits.Name(corev1.ResourceName(name), resource.BinarySI), divisor), nil
	}
	return "", fmt.Errorf("unsupported container resource : %v", fs.Resource)
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	return nil
}

// cpuValue and bytesValue round up, so that a container is never told it
// has less than it has (250m with divisor 1 is "1").
func cpuValue(q *resource.Quantity, divisor resource.Quantity) string {
	return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10)
}

func bytesValue(q *resource.Quantity, divisor resource.Quantity) string {
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10)
}
