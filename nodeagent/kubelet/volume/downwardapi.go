package volume

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation"
)

// downwardAPIPayload is upstream's downwardapi.CollectData: one file per
// item, the errors of all items together.
func (m *Manager) downwardAPIPayload(ctx context.Context, pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defaultMode int32) (map[string]fileProjection, error) {
	payload := make(map[string]fileProjection, len(items))
	var errs []error
	for _, item := range items {
		fp := fileProjection{mode: modeOr(item.Mode, defaultMode)}
		switch {
		case item.FieldRef != nil:
			v, err := podFieldValue(pod, item.FieldRef.FieldPath)
			if err != nil {
				errs = append(errs, err)
			}
			fp.data = []byte(v)
		case item.ResourceFieldRef != nil:
			v, err := m.containerResourceValue(ctx, pod, item.ResourceFieldRef)
			if err != nil {
				errs = append(errs, err)
			}
			fp.data = []byte(v)
		}
		payload[filepath.Clean(item.Path)] = fp
	}
	return payload, utilerrors.NewAggregate(errs)
}

// podFieldValue is upstream's fieldpath.ExtractFieldPathAsString, limited as
// it is to the pod's metadata.
func podFieldValue(pod *corev1.Pod, fieldPath string) (string, error) {
	if path, key, ok := splitSubscript(fieldPath); ok {
		switch path {
		case "metadata.annotations":
			if errs := validation.IsQualifiedName(strings.ToLower(key)); len(errs) != 0 {
				return "", fmt.Errorf("invalid key subscript in %s: %s", fieldPath, strings.Join(errs, ";"))
			}
			return pod.Annotations[key], nil
		case "metadata.labels":
			if errs := validation.IsQualifiedName(key); len(errs) != 0 {
				return "", fmt.Errorf("invalid key subscript in %s: %s", fieldPath, strings.Join(errs, ";"))
			}
			return pod.Labels[key], nil
		default:
			return "", fmt.Errorf("fieldPath %q does not support subscript", fieldPath)
		}
	}
	switch fieldPath {
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
	}
	return "", fmt.Errorf("unsupported fieldPath: %v", fieldPath)
}

// splitSubscript splits "metadata.labels['app']" into its path and key.
func splitSubscript(fieldPath string) (string, string, bool) {
	s, ok := strings.CutSuffix(fieldPath, "']")
	if !ok {
		return fieldPath, "", false
	}
	path, key, ok := strings.Cut(s, "['")
	if !ok || path == "" {
		return fieldPath, "", false
	}
	return path, key, true
}

// formatMap is the labels/annotations file format: key="value" lines,
// sorted, without a final newline.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%v=%q", k, m[k])
	}
	return b.String()
}

// containerResourceValue is upstream's
// ExtractResourceValueByContainerNameAndNodeAllocatable: a container's
// request or limit in units of the divisor, rounded up, where a limit the
// container does not set is the node's allocatable amount.
func (m *Manager) containerResourceValue(ctx context.Context, pod *corev1.Pod, ref *corev1.ResourceFieldSelector) (string, error) {
	c := findContainer(pod, ref.ContainerName)
	if c == nil {
		return "", fmt.Errorf("container %s not found", ref.ContainerName)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	kind, name, _ := strings.Cut(ref.Resource, ".")
	var list corev1.ResourceList
	switch kind {
	case "limits":
		list = c.Resources.Limits
	case "requests":
		list = c.Resources.Requests
	default:
		return "", fmt.Errorf("unsupported container resource : %v", ref.Resource)
	}
	res := corev1.ResourceName(name)
	switch res {
	case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
	default:
		if !strings.HasPrefix(name, corev1.ResourceHugePagesPrefix) {
			return "", fmt.Errorf("unsupported container resource : %v", ref.Resource)
		}
	}

	q, set := list[res]
	if !set && kind == "limits" && !strings.HasPrefix(name, corev1.ResourceHugePagesPrefix) {
		alloc, err := m.nodeAllocatable(ctx)
		if err != nil {
			return "", err
		}
		q = alloc[res]
	}
	if res == corev1.ResourceCPU {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// nodeAllocatable reads this node's allocatable resources from its Node
// object, which the kubelet itself publishes.
func (m *Manager) nodeAllocatable(ctx context.Context) (corev1.ResourceList, error) {
	if m.client == nil {
		return nil, fmt.Errorf("read node allocatable: %w", errNoClient)
	}
	node, err := m.client.CoreV1().Nodes().Get(ctx, m.nodeName, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read allocatable of node %q: %w", m.nodeName, err)
	}
	return node.Status.Allocatable, nil
}
