package podworkers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// errPodGone is returned when the API no longer has the pod (or has
// another pod by its name): the worker then terminates it as removed.
var errPodGone = errors.New("pod is gone from the API")

// maxTerminationMessagesLength bounds the termination messages of all of a
// pod's containers together, upstream's MaxPodTerminationMessageLogLength.
const maxTerminationMessagesLength = 1024 * 12

// statusManager keeps each pod's latest status and writes it to the API, as
// upstream's status manager: a strategic merge patch of pods/status against
// what was last written, skipped when nothing changed. A static pod's
// status goes to its mirror pod, once there is one.
type statusManager struct {
	client    kubernetes.Interface
	mirrorFor func(*corev1.Pod) (*corev1.Pod, bool)
	clock     clock.PassiveClock

	mu      sync.Mutex
	entries map[types.UID]*statusEntry
}

type statusEntry struct {
	status corev1.PodStatus
	// written is what the API holds as far as the kubelet knows, the base
	// of the next patch; writtenUID is the object it was written to (the
	// mirror pod's UID for a static pod), writtenRV the resourceVersion
	// that write gave it.
	written    *corev1.PodStatus
	writtenUID types.UID
	writtenRV  string
}

func newStatusManager(client kubernetes.Interface, mirrorFor func(*corev1.Pod) (*corev1.Pod, bool), clk clock.PassiveClock) *statusManager {
	return &statusManager{client: client, mirrorFor: mirrorFor, clock: clk, entries: map[types.UID]*statusEntry{}}
}

// get returns a copy of the pod's latest status.
func (m *statusManager) get(uid types.UID) (*corev1.PodStatus, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[uid]
	if !ok {
		return nil, false
	}
	return e.status.DeepCopy(), true
}

// base is the status a new one is computed against: the latest, else the
// API's.
func (m *statusManager) base(pod *corev1.Pod) corev1.PodStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[pod.UID]; ok {
		return *e.status.DeepCopy()
	}
	return *pod.Status.DeepCopy()
}

// set records the pod's new status. Conditions keep their transition time
// unless their status changed; the start time is set once; times are cut
// to the API's precision so that an unchanged status compares equal.
func (m *statusManager) set(pod *corev1.Pod, s corev1.PodStatus) *corev1.PodStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := pod.Status
	e, ok := m.entries[pod.UID]
	if ok {
		old = e.status
	} else {
		e = &statusEntry{}
		m.entries[pod.UID] = e
	}
	now := metav1.NewTime(m.clock.Now())
	for i := range s.Conditions {
		c := &s.Conditions[i]
		if !kubeletConditions[c.Type] || c.Type == corev1.PodScheduled && !c.LastTransitionTime.IsZero() {
			continue
		}
		c.LastTransitionTime = now
		if prev := findCondition(old.Conditions, c.Type); prev != nil && prev.Status == c.Status {
			c.LastTransitionTime = prev.LastTransitionTime
		}
	}
	switch {
	case old.StartTime != nil && !old.StartTime.IsZero():
		s.StartTime = old.StartTime.DeepCopy()
	case s.StartTime == nil || s.StartTime.IsZero():
		s.StartTime = &now
	}
	normalizeStatus(pod, &s)
	e.status = s
	return s.DeepCopy()
}

func normalizeStatus(pod *corev1.Pod, s *corev1.PodStatus) {
	ts := func(t *metav1.Time) { *t = t.Rfc3339Copy() }
	maxMessage := maxTerminationMessagesLength
	if n := len(s.ContainerStatuses) + len(s.InitContainerStatuses); n > 0 {
		maxMessage /= n
	}
	state := func(c *corev1.ContainerState) {
		if c.Running != nil {
			ts(&c.Running.StartedAt)
		}
		if c.Terminated != nil {
			ts(&c.Terminated.StartedAt)
			ts(&c.Terminated.FinishedAt)
			if len(c.Terminated.Message) > maxMessage {
				c.Terminated.Message = c.Terminated.Message[:maxMessage]
			}
		}
	}
	if s.StartTime != nil {
		ts(s.StartTime)
	}
	for i := range s.Conditions {
		ts(&s.Conditions[i].LastProbeTime)
		ts(&s.Conditions[i].LastTransitionTime)
	}
	for _, list := range [][]corev1.ContainerStatus{s.ContainerStatuses, s.InitContainerStatuses} {
		for i := range list {
			state(&list[i].State)
			state(&list[i].LastTerminationState)
		}
	}
	sort.SliceStable(s.ContainerStatuses, func(i, j int) bool { return s.ContainerStatuses[i].Name < s.ContainerStatuses[j].Name })
	order := map[string]int{}
	for i, c := range pod.Spec.InitContainers {
		order[c.Name] = i
	}
	sort.SliceStable(s.InitContainerStatuses, func(i, j int) bool {
		return order[s.InitContainerStatuses[i].Name] < order[s.InitContainerStatuses[j].Name]
	})
}

// write sends the pod's latest status to the API. It returns errPodGone
// when the API has no such pod.
func (m *statusManager) write(ctx context.Context, pod *corev1.Pod) error {
	target := pod
	if isStatic(pod) {
		if m.mirrorFor == nil {
			return nil
		}
		mirror, ok := m.mirrorFor(pod)
		if !ok {
			// Kept until the mirror pod exists: the next sync writes it.
			return nil
		}
		target = mirror
	}

	m.mu.Lock()
	e, ok := m.entries[pod.UID]
	if !ok {
		m.mu.Unlock()
		return nil
	}
	base := *target.Status.DeepCopy()
	fresh := false
	if e.written != nil && e.writtenUID == target.UID {
		base = *e.written.DeepCopy()
		fresh = changedByOthers(target, e)
	}
	status := *e.status.DeepCopy()
	writtenRV := e.writtenRV
	m.mu.Unlock()
	if fresh {
		// The informer's copy may also just lag behind the kubelet's last
		// write, and a patch against a stale status would leave out what
		// the stale copy happens to share with the new one: ask the API.
		current, err := m.client.CoreV1().Pods(target.Namespace).Get(ctx, target.Name, metav1.GetOptions{})
		switch {
		case (apierrors.IsNotFound(err) || err == nil && current.UID != target.UID) && !isStatic(pod):
			return fmt.Errorf("read status of pod %s/%s: %w", target.Namespace, target.Name, errPodGone)
		case apierrors.IsNotFound(err) || err == nil && current.UID != target.UID:
			return nil // the mirror pod is being replaced, as below
		case err != nil:
			return fmt.Errorf("read status of pod %s/%s: %w", target.Namespace, target.Name, err)
		}
		base = current.Status
	}
	keepForeignConditions(&status, base)

	patch, unchanged, err := statusPatch(target.UID, base, status)
	if err != nil {
		return fmt.Errorf("status patch of pod %s/%s: %w", target.Namespace, target.Name, err)
	}
	if !unchanged {
		var patched *corev1.Pod
		patched, err = m.client.CoreV1().Pods(target.Namespace).Patch(ctx, target.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
		if err == nil {
			writtenRV = patched.ResourceVersion
		}
		switch {
		case (apierrors.IsNotFound(err) || apierrors.IsConflict(err)) && !isStatic(pod):
			return fmt.Errorf("patch status of pod %s/%s: %w: %v", target.Namespace, target.Name, errPodGone, err)
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
			// The mirror pod is being replaced; write the whole status to
			// the next one.
			return nil
		case err != nil:
			return fmt.Errorf("patch status of pod %s/%s: %w", target.Namespace, target.Name, err)
		}
	}
	m.mu.Lock()
	if e, ok := m.entries[pod.UID]; ok {
		e.written = &status
		e.writtenUID = target.UID
		e.writtenRV = writtenRV
	}
	m.mu.Unlock()
	return nil
}

// changedByOthers reports whether the API's copy of the pod (as the
// kubelet's informer last saw it) may hold a status another client wrote
// since the kubelet's last write: the node lifecycle controller marks the
// pods of a node it found not Ready as not Ready themselves, and the
// kubelet must put its own view back, as upstream's status manager does
// when it reconciles. The next patch is then made against the API's
// current status; a copy that merely lags behind costs one GET.
func changedByOthers(api *corev1.Pod, e *statusEntry) bool {
	return api.ResourceVersion != "" && api.ResourceVersion != e.writtenRV &&
		!apiequality.Semantic.DeepEqual(api.Status, *e.written)
}

// keepForeignConditions carries the conditions that others own (a
// DisruptionTarget, a readiness gate's condition) from the status a patch
// is made against into the kubelet's, as upstream's mergePodStatus: the
// patch must not delete them. A static pod's status has none of its
// mirror pod's.
func keepForeignConditions(s *corev1.PodStatus, api corev1.PodStatus) {
	for _, c := range api.Conditions {
		if !kubeletConditions[c.Type] && findCondition(s.Conditions, c.Type) == nil {
			s.Conditions = append(s.Conditions, c)
		}
	}
}

// statusPatch is upstream's pod status patch: a two-way strategic merge
// patch from old to new, carrying the pod's UID so that the API server
// refuses it for another pod of the same name. unchanged is true when the
// UID is all it would carry.
func statusPatch(uid types.UID, old, new corev1.PodStatus) ([]byte, bool, error) {
	oldData, err := json.Marshal(corev1.Pod{Status: old})
	if err != nil {
		return nil, false, err
	}
	newData, err := json.Marshal(corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: uid}, Status: new})
	if err != nil {
		return nil, false, err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, corev1.Pod{})
	if err != nil {
		return nil, false, err
	}
	return patch, bytes.Equal(patch, []byte(fmt.Sprintf(`{"metadata":{"uid":%q}}`, uid))), nil
}

// deletePod finishes a deletion in the API once the pod is terminated:
// grace period 0, on the pod's UID so that a new pod by the same name is
// left alone.
func (m *statusManager) deletePod(ctx context.Context, pod *corev1.Pod) error {
	zero := int64(0)
	err := m.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      metav1.NewUIDPreconditions(string(pod.UID)),
	})
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
}

func (m *statusManager) forget(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, uid)
}
