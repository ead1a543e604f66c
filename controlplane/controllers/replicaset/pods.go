package replicaset

import (
	"math"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// PodDeletionCostAnnotation lets users rank a controller's pods for
// deletion: lower costs go first, as upstream's.
const PodDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// podFromTemplate is the pod a controller creates from its template, as
// upstream's GetPodFromTemplate: the template's labels, annotations and
// finalizers, the name generated from the controller's, and the
// controller's reference.
func podFromTemplate(template *corev1.PodTemplateSpec, controllerName string, ref *metav1.OwnerReference) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Labels:       copyMap(template.Labels),
			Annotations:  copyMap(template.Annotations),
			GenerateName: generateNamePrefix(controllerName),
			Finalizers:   append([]string(nil), template.Finalizers...),
		},
		Spec: *template.Spec.DeepCopy(),
	}
	if ref != nil {
		pod.OwnerReferences = append(pod.OwnerReferences, *ref)
	}
	return pod
}

// generateNamePrefix is upstream's getPodsPrefix: "<name>-", or the bare
// name when the dash would make an invalid pod name prefix.
func generateNamePrefix(controllerName string) string {
	prefix := controllerName + "-"
	if len(apivalidation.NameIsDNSSubdomain(prefix, true)) != 0 {
		return controllerName
	}
	return prefix
}

func copyMap(in map[string]string) map[string]string {
	if in == nil {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// podKey is how expectations name a pod.
func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// isPodActive is upstream's IsPodActive: neither finished nor being
// deleted.
func isPodActive(pod *corev1.Pod) bool {
	return pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed && pod.DeletionTimestamp == nil
}

// isPodTerminating is a pod being deleted that has not finished yet.
func isPodTerminating(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp != nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

func filterPods(pods []*corev1.Pod, keep func(*corev1.Pod) bool) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// readyCondition is the pod's Ready condition, or nil.
func readyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

func isPodReady(pod *corev1.Pod) bool {
	c := readyCondition(pod)
	return c != nil && c.Status == corev1.ConditionTrue
}

// isPodAvailable is upstream's IsPodAvailable: ready for at least
// minReadySeconds.
func isPodAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if !isPodReady(pod) {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	c := readyCondition(pod)
	minReady := time.Duration(minReadySeconds) * time.Second
	return !c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(minReady).Before(now)
}

// nextAvailabilityCheck is upstream's FindMinNextPodAvailabilityCheck:
// how long until the first ready pod that is not yet available becomes
// so, or nil when no pod is known to be waiting for that.
func nextAvailabilityCheck(pods []*corev1.Pod, minReadySeconds int32, now time.Time) *time.Duration {
	if minReadySeconds == 0 {
		return nil
	}
	var next *time.Duration
	minReady := time.Duration(minReadySeconds) * time.Second
	for _, pod := range pods {
		c := readyCondition(pod)
		if c == nil || c.Status != corev1.ConditionTrue || c.LastTransitionTime.IsZero() {
			continue
		}
		wait := c.LastTransitionTime.Add(minReady).Sub(now)
		if wait <= 0 {
			continue
		}
		if next == nil || wait < *next {
			next = &wait
		}
	}
	return next
}

// deletionCost is the pod's PodDeletionCostAnnotation; 0 when absent or
// not an int32, as upstream.
func deletionCost(pod *corev1.Pod) int32 {
	v, ok := pod.Annotations[PodDeletionCostAnnotation]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}

// podPhaseOrder ranks phases for deletion: pending pods go first.
var podPhaseOrder = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// rankedPods is upstream's ActivePodsWithRanks: sorted, it lists first
// the pods a controller should delete first. rank is how many of the
// controller's family's active pods share the pod's node.
type rankedPods struct {
	pods []*corev1.Pod
	rank []int
	now  time.Time
}

func (s rankedPods) Len() int { return len(s.pods) }

func (s rankedPods) Swap(i, j int) {
	s.pods[i], s.pods[j] = s.pods[j], s.pods[i]
	s.rank[i], s.rank[j] = s.rank[j], s.rank[i]
}

// Less orders, rule after rule until one decides: unscheduled before
// scheduled; pending before unknown before running; not ready before
// ready; lower deletion cost first; more pods on the same node first;
// ready for less time first; more container restarts first; newer
// first. Times compare on a logarithmic scale, with the UID breaking
// ties, so that pods of about the same age go in random order
// (upstream's LogarithmicScaleDown, on by default).
func (s rankedPods) Less(i, j int) bool {
	a, b := s.pods[i], s.pods[j]
	if a.Spec.NodeName != b.Spec.NodeName && (a.Spec.NodeName == "" || b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if podPhaseOrder[a.Status.Phase] != podPhaseOrder[b.Status.Phase] {
		return podPhaseOrder[a.Status.Phase] < podPhaseOrder[b.Status.Phase]
	}
	if isPodReady(a) != isPodReady(b) {
		return !isPodReady(a)
	}
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		return ca < cb
	}
	if s.rank[i] != s.rank[j] {
		return s.rank[i] > s.rank[j]
	}
	if isPodReady(a) && isPodReady(b) {
		ta, tb := readyTime(a), readyTime(b)
		if !ta.Equal(tb) {
			return s.newerFirst(ta, tb, a, b)
		}
	}
	if ra, rb := maxRestarts(a), maxRestarts(b); ra != rb {
		return ra > rb
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return s.newerFirst(a.CreationTimestamp.Time, b.CreationTimestamp.Time, a, b)
	}
	return false
}

// newerFirst says whether a, at ta, goes before b, at tb: a zero time
// first, then the more recent, on a log scale when now is known.
func (s rankedPods) newerFirst(ta, tb time.Time, a, b *corev1.Pod) bool {
	if s.now.IsZero() || ta.IsZero() || tb.IsZero() {
		if ta.IsZero() || tb.IsZero() {
			return ta.IsZero()
		}
		return ta.After(tb)
	}
	if d := logRank(s.now.Sub(ta)) - logRank(s.now.Sub(tb)); d != 0 {
		return d < 0
	}
	return a.UID < b.UID
}

func logRank(d time.Duration) int64 {
	if d <= 0 {
		return -1
	}
	return int64(math.Log2(float64(d)))
}

func readyTime(pod *corev1.Pod) time.Time {
	if c := readyCondition(pod); c != nil && c.Status == corev1.ConditionTrue {
		return c.LastTransitionTime.Time
	}
	return time.Time{}
}

func maxRestarts(pod *corev1.Pod) int32 {
	var most int32
	for _, c := range pod.Status.ContainerStatuses {
		most = max(most, c.RestartCount)
	}
	return most
}

// podsToDelete picks the diff pods of pods to delete, upstream's
// getPodsToDelete: ranked by rankedPods, with related (the pods of the
// controller's siblings under the same owner, itself included) counting
// how crowded each node is.
func podsToDelete(pods, related []*corev1.Pod, diff int, now time.Time) []*corev1.Pod {
	if diff >= len(pods) {
		return pods
	}
	onNode := map[string]int{}
	for _, p := range related {
		if isPodActive(p) {
			onNode[p.Spec.NodeName]++
		}
	}
	ranked := rankedPods{pods: append([]*corev1.Pod(nil), pods...), rank: make([]int, len(pods)), now: now}
	for i, p := range ranked.pods {
		ranked.rank[i] = onNode[p.Spec.NodeName]
	}
	sort.Sort(ranked)
	return ranked.pods[:diff]
}

func labelsOf(pod *corev1.Pod) labels.Set { return labels.Set(pod.Labels) }
