package statefulset

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/kindish/kindish/controlplane/controllers/history"
)

// parentNameAndOrdinal splits a member's name into its StatefulSet's
// name and its ordinal, as upstream's (.*)-([0-9]+)$ does: "web-12" is
// web's pod 12. A name that is no member's gives "" and -1.
func parentNameAndOrdinal(pod *corev1.Pod) (string, int) {
	i := strings.LastIndexByte(pod.Name, '-')
	if i < 0 {
		return "", -1
	}
	parent, digits := pod.Name[:i], pod.Name[i+1:]
	if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return "", -1
	}
	ordinal, err := strconv.ParseInt(digits, 10, 32)
	if err != nil {
		return parent, -1
	}
	return parent, int(ordinal)
}

func getOrdinal(pod *corev1.Pod) int {
	_, ordinal := parentNameAndOrdinal(pod)
	return ordinal
}

// isMemberOf is true for a pod named after set.
func isMemberOf(set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	parent, _ := parentNameAndOrdinal(pod)
	return parent == set.Name
}

// PodName is the name of set's pod with ordinal: <set>-<ordinal>.
func PodName(set *appsv1.StatefulSet, ordinal int) string {
	return fmt.Sprintf("%s-%d", set.Name, ordinal)
}

// ClaimName is the name of the claim from template for set's pod with
// ordinal: <template>-<set>-<ordinal>.
func ClaimName(set *appsv1.StatefulSet, template *corev1.PersistentVolumeClaim, ordinal int) string {
	return fmt.Sprintf("%s-%s-%d", template.Name, set.Name, ordinal)
}

// startOrdinal is the first ordinal: spec.ordinals.start, or 0.
func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

// endOrdinal is the last ordinal the set wants, inclusive.
func endOrdinal(set *appsv1.StatefulSet) int {
	return startOrdinal(set) + int(replicas(set)) - 1
}

func replicas(set *appsv1.StatefulSet) int32 {
	if set.Spec.Replicas == nil {
		return 1
	}
	return *set.Spec.Replicas
}

func podInOrdinalRange(pod *corev1.Pod, set *appsv1.StatefulSet) bool {
	ordinal := getOrdinal(pod)
	return ordinal >= startOrdinal(set) && ordinal <= endOrdinal(set)
}

// identityMatches is true when pod's name, namespace and identity labels
// are its ordinal's in set. Hostname and subdomain are set once at
// creation (the API server forbids changing them), so they are not
// checked.
func identityMatches(set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	parent, ordinal := parentNameAndOrdinal(pod)
	return ordinal >= 0 &&
		set.Name == parent &&
		pod.Name == PodName(set, ordinal) &&
		pod.Namespace == set.Namespace &&
		pod.Labels[appsv1.StatefulSetPodNameLabel] == pod.Name &&
		pod.Labels[appsv1.PodIndexLabel] == strconv.Itoa(ordinal)
}

// updateIdentity gives pod its ordinal's name, namespace and identity
// labels: statefulset.kubernetes.io/pod-name, which a Service can select
// to reach one member, and apps.kubernetes.io/pod-index.
func updateIdentity(set *appsv1.StatefulSet, pod *corev1.Pod) {
	ordinal := getOrdinal(pod)
	pod.Name = PodName(set, ordinal)
	pod.Namespace = set.Namespace
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[appsv1.StatefulSetPodNameLabel] = pod.Name
	pod.Labels[appsv1.PodIndexLabel] = strconv.Itoa(ordinal)
}

// initIdentity also sets hostname and subdomain: with the headless
// Service named serviceName, the pod resolves as
// <pod>.<service>.<namespace>.svc.cluster.local.
func initIdentity(set *appsv1.StatefulSet, pod *corev1.Pod) {
	updateIdentity(set, pod)
	pod.Spec.Hostname = pod.Name
	pod.Spec.Subdomain = set.Spec.ServiceName
}

// storageMatches is true when pod mounts each of set's claim templates
// from its own claim.
func storageMatches(set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	ordinal := getOrdinal(pod)
	if ordinal < 0 {
		return false
	}
	volumes := make(map[string]corev1.Volume, len(pod.Spec.Volumes))
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	for i := range set.Spec.VolumeClaimTemplates {
		claim := &set.Spec.VolumeClaimTemplates[i]
		v, ok := volumes[claim.Name]
		if !ok || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != ClaimName(set, claim, ordinal) {
			return false
		}
	}
	return true
}

// persistentVolumeClaims are pod's claims, by template name: each
// template renamed for the pod, labelled with the set's selector.
func persistentVolumeClaims(set *appsv1.StatefulSet, pod *corev1.Pod) map[string]corev1.PersistentVolumeClaim {
	ordinal := getOrdinal(pod)
	claims := make(map[string]corev1.PersistentVolumeClaim, len(set.Spec.VolumeClaimTemplates))
	for i := range set.Spec.VolumeClaimTemplates {
		template := &set.Spec.VolumeClaimTemplates[i]
		claim := template.DeepCopy()
		claim.Name = ClaimName(set, template, ordinal)
		claim.Namespace = set.Namespace
		if claim.Labels == nil {
			claim.Labels = map[string]string{}
		}
		if set.Spec.Selector != nil {
			for k, v := range set.Spec.Selector.MatchLabels {
				claim.Labels[k] = v
			}
		}
		claims[template.Name] = *claim
	}
	return claims
}

// updateStorage mounts pod's claims in place of any volume of the same
// name, keeping its other volumes.
func updateStorage(set *appsv1.StatefulSet, pod *corev1.Pod) {
	claims := persistentVolumeClaims(set, pod)
	volumes := make([]corev1.Volume, 0, len(claims)+len(pod.Spec.Volumes))
	// Templates in their order, so that the pod spec is the same on
	// every sync.
	for i := range set.Spec.VolumeClaimTemplates {
		name := set.Spec.VolumeClaimTemplates[i].Name
		volumes = append(volumes, corev1.Volume{
			Name: name,
			VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
				ClaimName: claims[name].Name,
			}},
		})
	}
	for _, v := range pod.Spec.Volumes {
		if _, ok := claims[v.Name]; !ok {
			volumes = append(volumes, v)
		}
	}
	pod.Spec.Volumes = volumes
}

func getPodRevision(pod *corev1.Pod) string {
	return pod.Labels[appsv1.StatefulSetRevisionLabel]
}

func setPodRevision(pod *corev1.Pod, revision string) {
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[appsv1.StatefulSetRevisionLabel] = revision
}

// newStatefulSetPod is set's pod with ordinal, from its template, as
// upstream's GetPodFromTemplate makes it, with the pod's identity and
// claims.
func newStatefulSetPod(set *appsv1.StatefulSet, ordinal int) *corev1.Pod {
	t := &set.Spec.Template
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    podNamePrefix(set.Name),
			Labels:          cloneMap(t.Labels),
			Annotations:     cloneMap(t.Annotations),
			Finalizers:      append([]string(nil), t.Finalizers...),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, controllerKind())},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	pod.Name = PodName(set, ordinal)
	initIdentity(set, pod)
	updateStorage(set, pod)
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

// newVersionedStatefulSetPod makes the pod with ordinal at the revision
// it should have: the current revision below the partition of a rolling
// update, the update revision otherwise.
func newVersionedStatefulSetPod(currentSet, updateSet *appsv1.StatefulSet, currentRevision, updateRevision string, ordinal int) *corev1.Pod {
	if belowPartition(currentSet, ordinal) {
		pod := newStatefulSetPod(currentSet, ordinal)
		setPodRevision(pod, currentRevision)
		return pod
	}
	pod := newStatefulSetPod(updateSet, ordinal)
	setPodRevision(pod, updateRevision)
	return pod
}

// belowPartition is upstream's condition, operator precedence included:
// with a rolling update, ordinals below the partition (or, without
// rollingUpdate, below the current replicas) stay at the current
// revision.
func belowPartition(set *appsv1.StatefulSet, ordinal int) bool {
	s := set.Spec.UpdateStrategy
	start := startOrdinal(set)
	if s.RollingUpdate != nil {
		return s.RollingUpdate.Partition != nil && ordinal < start+int(*s.RollingUpdate.Partition)
	}
	return s.Type == appsv1.RollingUpdateStatefulSetStrategyType && ordinal < start+int(set.Status.CurrentReplicas)
}

// getPatch is the data of set's revisions, upstream's: a strategic merge
// patch that puts the template back, {"spec":{"template":{...,
// "$patch":"replace"}}}, its keys sorted. kubectl applies it for
// `rollout history --revision` and `rollout undo`.
func getPatch(set *appsv1.StatefulSet) ([]byte, error) {
	data, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode statefulset %s/%s: %w", set.Namespace, set.Name, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("decode statefulset %s/%s: %w", set.Namespace, set.Name, err)
	}
	spec, _ := raw["spec"].(map[string]any)
	template, _ := spec["template"].(map[string]any)
	if template == nil {
		template = map[string]any{}
	}
	template["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": template}})
}

// newRevision is the revision of set's template, numbered revision, its
// name hashed with collisionCount, carrying set's annotations (for
// kubectl's CHANGE-CAUSE column).
func newRevision(set *appsv1.StatefulSet, revision int64, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	patch, err := getPatch(set)
	if err != nil {
		return nil, err
	}
	cr := history.NewControllerRevision(set, controllerKind(), set.Spec.Template.Labels, runtime.RawExtension{Raw: patch}, revision, collisionCount)
	if cr.Annotations == nil {
		cr.Annotations = map[string]string{}
	}
	for k, v := range set.Annotations {
		cr.Annotations[k] = v
	}
	return cr, nil
}

// ApplyRevision returns set with its template put back to revision's.
func ApplyRevision(set *appsv1.StatefulSet, revision *appsv1.ControllerRevision) (*appsv1.StatefulSet, error) {
	original, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode statefulset %s/%s: %w", set.Namespace, set.Name, err)
	}
	patched, err := strategicpatch.StrategicMergePatch(original, revision.Data.Raw, &appsv1.StatefulSet{})
	if err != nil {
		return nil, fmt.Errorf("apply controllerrevision %s to statefulset %s/%s: %w", revision.Name, set.Namespace, set.Name, err)
	}
	restored := &appsv1.StatefulSet{}
	if err := json.Unmarshal(patched, restored); err != nil {
		return nil, fmt.Errorf("decode statefulset %s/%s at revision %s: %w", set.Namespace, set.Name, revision.Name, err)
	}
	return restored, nil
}

// nextRevision is one past the newest of sorted revisions, or 1.
func nextRevision(revisions []*appsv1.ControllerRevision) int64 {
	if len(revisions) == 0 {
		return 1
	}
	return revisions[len(revisions)-1].Revision + 1
}

func isCreated(pod *corev1.Pod) bool     { return pod.Status.Phase != "" }
func isPending(pod *corev1.Pod) bool     { return pod.Status.Phase == corev1.PodPending }
func isFailed(pod *corev1.Pod) bool      { return pod.Status.Phase == corev1.PodFailed }
func isSucceeded(pod *corev1.Pod) bool   { return pod.Status.Phase == corev1.PodSucceeded }
func isTerminating(pod *corev1.Pod) bool { return pod.DeletionTimestamp != nil }

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

// isRunningAndReady is phase Running with the Ready condition.
func isRunningAndReady(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodRunning && isPodReady(pod)
}

// isRunningAndAvailable is Ready for at least minReadySeconds.
func isRunningAndAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	c := readyCondition(pod)
	if c == nil || c.Status != corev1.ConditionTrue {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	return !c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).Before(now)
}

// isUnavailable is a pod not available or going away.
func isUnavailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	return !isRunningAndAvailable(pod, minReadySeconds, now) || isTerminating(pod)
}

func allowsBurst(set *appsv1.StatefulSet) bool {
	return set.Spec.PodManagementPolicy == appsv1.ParallelPodManagement
}
