package kuberuntime

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/dump"
)

// The labels the kubelet puts on sandboxes and containers, with upstream's
// keys, so that it finds its own objects again after a restart.
const (
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelContainerName = "io.kubernetes.container.name"
)

// The annotations on containers, with upstream's keys: what killing a
// container needs when its pod is no longer known.
const (
	annotationPodDeletionGracePeriod    = "io.kubernetes.pod.deletionGracePeriod"
	annotationPodTerminationGracePeriod = "io.kubernetes.pod.terminationGracePeriod"
	annotationContainerHash             = "io.kubernetes.container.hash"
	annotationRestartCount              = "io.kubernetes.container.restartCount"
	annotationTerminationMessagePath    = "io.kubernetes.container.terminationMessagePath"
	annotationTerminationMessagePolicy  = "io.kubernetes.container.terminationMessagePolicy"
	annotationPreStopHandler            = "io.kubernetes.container.preStopHandler"
	annotationContainerPorts            = "io.kubernetes.container.ports"
	annotationContainerType             = "io.kubernetes.container.type"
)

// The values of the container type annotation.
const (
	containerTypeInit    = "init"
	containerTypeRegular = "container"
)

// HashContainer returns the hash recorded on a container when it is
// created: a running container whose hash differs from its spec's is
// restarted. It covers the name and image only, and is computed as
// upstream's kubelet computes it, so containers keep their hash across
// kubelets.
func HashContainer(c *corev1.Container) uint64 {
	fields, _ := json.Marshal(map[string]string{"name": c.Name, "image": c.Image})
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(fields))
	return uint64(h.Sum32())
}

func podLabels(pod *corev1.Pod) map[string]string {
	labels := make(map[string]string, len(pod.Labels)+3)
	for k, v := range pod.Labels {
		labels[k] = v
	}
	labels[LabelPodName] = pod.Name
	labels[LabelPodNamespace] = pod.Namespace
	labels[LabelPodUID] = string(pod.UID)
	return labels
}

func containerLabels(pod *corev1.Pod, c *corev1.Container) map[string]string {
	return map[string]string{
		LabelPodName:       pod.Name,
		LabelPodNamespace:  pod.Namespace,
		LabelPodUID:        string(pod.UID),
		LabelContainerName: c.Name,
	}
}

func containerAnnotations(pod *corev1.Pod, c *corev1.Container, restartCount int) map[string]string {
	a := map[string]string{
		annotationContainerHash:            strconv.FormatUint(HashContainer(c), 16),
		annotationRestartCount:             strconv.Itoa(restartCount),
		annotationTerminationMessagePath:   c.TerminationMessagePath,
		annotationTerminationMessagePolicy: string(c.TerminationMessagePolicy),
	}
	if pod.DeletionGracePeriodSeconds != nil {
		a[annotationPodDeletionGracePeriod] = strconv.FormatInt(*pod.DeletionGracePeriodSeconds, 10)
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		a[annotationPodTerminationGracePeriod] = strconv.FormatInt(*pod.Spec.TerminationGracePeriodSeconds, 10)
	}
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if raw, err := json.Marshal(c.Lifecycle.PreStop); err == nil {
			a[annotationPreStopHandler] = string(raw)
		}
	}
	if len(c.Ports) > 0 {
		if raw, err := json.Marshal(c.Ports); err == nil {
			a[annotationContainerPorts] = string(raw)
		}
	}
	switch {
	case findContainer(pod.Spec.InitContainers, c.Name) != nil:
		a[annotationContainerType] = containerTypeInit
	case findContainer(pod.Spec.Containers, c.Name) != nil:
		a[annotationContainerType] = containerTypeRegular
	}
	return a
}

// labeledContainer is what a container's labels say about it.
type labeledContainer struct {
	PodName, PodNamespace string
	PodUID                types.UID
	ContainerName         string
}

func containerInfoFromLabels(labels map[string]string) labeledContainer {
	return labeledContainer{
		PodName:       labels[LabelPodName],
		PodNamespace:  labels[LabelPodNamespace],
		PodUID:        types.UID(labels[LabelPodUID]),
		ContainerName: labels[LabelContainerName],
	}
}

// annotatedContainer is what a container's annotations say about it.
// Values that do not parse are left zero: a container of another kubelet
// version then counts as changed, and is restarted rather than trusted.
type annotatedContainer struct {
	Hash                      uint64
	RestartCount              int
	PodDeletionGracePeriod    *int64
	PodTerminationGracePeriod *int64
	TerminationMessagePath    string
	TerminationMessagePolicy  corev1.TerminationMessagePolicy
	PreStop                   *corev1.LifecycleHandler
	Ports                     []corev1.ContainerPort
	Type                      string
}

func containerInfoFromAnnotations(a map[string]string) annotatedContainer {
	info := annotatedContainer{
		TerminationMessagePath:   a[annotationTerminationMessagePath],
		TerminationMessagePolicy: corev1.TerminationMessagePolicy(a[annotationTerminationMessagePolicy]),
		Type:                     a[annotationContainerType],
	}
	if v, ok := a[annotationContainerHash]; ok {
		info.Hash, _ = strconv.ParseUint(v, 16, 64)
	}
	if v, ok := a[annotationRestartCount]; ok {
		info.RestartCount, _ = strconv.Atoi(v)
	}
	info.PodDeletionGracePeriod = int64Annotation(a, annotationPodDeletionGracePeriod)
	info.PodTerminationGracePeriod = int64Annotation(a, annotationPodTerminationGracePeriod)
	if v, ok := a[annotationPreStopHandler]; ok {
		h := &corev1.LifecycleHandler{}
		if json.Unmarshal([]byte(v), h) == nil {
			info.PreStop = h
		}
	}
	if v, ok := a[annotationContainerPorts]; ok {
		_ = json.Unmarshal([]byte(v), &info.Ports)
	}
	return info
}

func int64Annotation(a map[string]string, key string) *int64 {
	v, ok := a[key]
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil
	}
	return &n
}

func findContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}
