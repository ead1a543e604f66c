package daemonset

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/dump"
	"k8s.io/apimachinery/pkg/util/rand"
)

// TemplateGenerationLabel is the pre-revision way of telling a pod's
// template apart, upstream's; pods carry it when their DaemonSet has the
// deprecated template generation annotation.
const TemplateGenerationLabel = "pod-template-generation"

// ComputeHash is upstream's hash of a pod template, the value of the
// controller-revision-hash label of daemon pods and the suffix of their
// ControllerRevision's name: FNV-32a of the template's printed form and
// the collision count, encoded without vowels.
func ComputeHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	hasher := fnv.New32a()
	fmt.Fprintf(hasher, "%v", dump.ForHash(*template))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		_, _ = hasher.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(hasher.Sum32()))
}

// templateGeneration reads the deprecated template generation
// annotation; absent or unparsable means none.
func templateGeneration(ds *appsv1.DaemonSet) *int64 {
	s, ok := ds.Annotations[appsv1.DeprecatedTemplateGeneration]
	if !ok {
		return nil
	}
	g, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil
	}
	return &g
}

// isPodUpdated reports whether pod runs the current template: its hash
// label, or its generation label for pods older than revisions.
func isPodUpdated(pod *corev1.Pod, hash string, generation *int64) bool {
	templateMatches := generation != nil && pod.Labels[TemplateGenerationLabel] == strconv.FormatInt(*generation, 10)
	hashMatches := hash != "" && pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash
	return hashMatches || templateMatches
}

// newPodTemplate is the template daemon pods are made from: ds's, with
// the daemon tolerations and the labels naming its revision.
func newPodTemplate(ds *appsv1.DaemonSet, hash string) corev1.PodTemplateSpec {
	t := *ds.Spec.Template.DeepCopy()
	addDaemonPodTolerations(&t.Spec)
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	if g := templateGeneration(ds); g != nil {
		t.Labels[TemplateGenerationLabel] = strconv.FormatInt(*g, 10)
	}
	if hash != "" {
		t.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	}
	return t
}

// newPodForNode is a daemon pod for one node, upstream's
// GetPodFromTemplate: a generated name after ds, the template's labels,
// annotations and finalizers, a controller reference to ds, and the
// node pinned by required node affinity on metadata.name, which the
// scheduler honours, rather than by spec.nodeName, which would skip it.
func newPodForNode(ds *appsv1.DaemonSet, template *corev1.PodTemplateSpec, nodeName string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    podNamePrefix(ds.Name),
			Namespace:       ds.Namespace,
			Labels:          cloneMap(template.Labels),
			Annotations:     cloneMap(template.Annotations),
			Finalizers:      append([]string(nil), template.Finalizers...),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, controllerKind())},
		},
		Spec: *template.Spec.DeepCopy(),
	}
	pod.Spec.Affinity = pinToNode(pod.Spec.Affinity, nodeName)
	return pod
}

func podNamePrefix(owner string) string {
	prefix := owner + "-"
	if len(apivalidation.NameIsDNSSubdomain(prefix, true)) != 0 {
		return owner
	}
	return prefix
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// pinToNode replaces the required node affinity's terms with one that
// selects nodeName alone. The node was chosen because it satisfies the
// template's terms, so nothing is lost.
func pinToNode(affinity *corev1.Affinity, nodeName string) *corev1.Affinity {
	terms := []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
		Key:      metav1.ObjectNameField,
		Operator: corev1.NodeSelectorOpIn,
		Values:   []string{nodeName},
	}}}}
	if affinity == nil {
		affinity = &corev1.Affinity{}
	}
	if affinity.NodeAffinity == nil {
		affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	if affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
	}
	affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms = terms
	return affinity
}

// targetNodeName is the node a daemon pod is for: its spec.nodeName once
// bound, before that the node its affinity pins.
func targetNodeName(pod *corev1.Pod) (string, error) {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName, nil
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return "", fmt.Errorf("no spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution for pod %s/%s", pod.Namespace, pod.Name)
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, r := range term.MatchFields {
			if r.Key == metav1.ObjectNameField && r.Operator == corev1.NodeSelectorOpIn {
				if len(r.Values) != 1 {
					return "", fmt.Errorf("the matchFields value of '%s' is not unique for pod %s/%s", metav1.ObjectNameField, pod.Namespace, pod.Name)
				}
				return r.Values[0], nil
			}
		}
	}
	return "", fmt.Errorf("no node name found for pod %s/%s", pod.Namespace, pod.Name)
}

// lessByScheduledThenAge orders a node's daemon pods as upstream keeps
// them: bound before unbound, then oldest first, then by name.
func lessByScheduledThenAge(a, b *corev1.Pod) int {
	aBound, bBound := a.Spec.NodeName != "", b.Spec.NodeName != ""
	switch {
	case aBound && !bBound:
		return -1
	case !aBound && bBound:
		return 1
	}
	if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	}
	if a.CreationTimestamp.Before(&b.CreationTimestamp) {
		return -1
	}
	return 1
}

func readyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// isPodReady is the pod's Ready condition.
func isPodReady(pod *corev1.Pod) bool {
	c := readyCondition(pod)
	return c != nil && c.Status == corev1.ConditionTrue
}

// isPodAvailable is upstream's: Ready for at least minReadySeconds.
func isPodAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	c := readyCondition(pod)
	if c == nil || c.Status != corev1.ConditionTrue {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	minReady := time.Duration(minReadySeconds) * time.Second
	return !c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(minReady).Before(now)
}

// isPodTerminal is a pod that will run no more.
func isPodTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded
}
