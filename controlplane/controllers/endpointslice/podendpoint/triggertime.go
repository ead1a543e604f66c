package podendpoint

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TriggerTimeTracker computes the endpoints.kubernetes.io/last-change-trigger-time
// annotation: the time of the earliest change, among those not yet
// published, that the endpoints now reflect. Latency measurements (and
// upstream's e2e tests) read it. Like upstream's, it remembers per Service
// the trigger times seen at its last sync, and is wrong only when one
// object changes twice between two syncs.
type TriggerTimeTracker struct {
	mu     sync.Mutex
	states map[types.NamespacedName]triggerState
}

type triggerState struct {
	service time.Time
	pods    map[string]time.Time
}

// NewTriggerTimeTracker returns a tracker that knows no Service.
func NewTriggerTimeTracker() *TriggerTimeTracker {
	return &TriggerTimeTracker{states: map[types.NamespacedName]triggerState{}}
}

// Compute records the trigger times of svc and its pods and returns the
// annotation's time: the Service's creation for a Service not seen
// before, else the earliest trigger time that moved since the last call,
// or zero when none did (the annotation is then removed). It must not be
// called for the same Service concurrently; a work queue guarantees that.
func (t *TriggerTimeTracker) Compute(svc *corev1.Service, pods []*corev1.Pod) time.Time {
	key := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	t.mu.Lock()
	last, known := t.states[key]
	t.mu.Unlock()

	var earliest time.Time
	moved := func(at time.Time) {
		if earliest.IsZero() || at.Before(earliest) {
			earliest = at
		}
	}
	next := triggerState{service: svc.CreationTimestamp.Time, pods: map[string]time.Time{}}
	for _, pod := range pods {
		// A pod's endpoint changes when its readiness does.
		c := readyCondition(pod)
		if c == nil || c.LastTransitionTime.IsZero() {
			continue
		}
		at := c.LastTransitionTime.Time
		next.pods[pod.Name] = at
		if at.After(last.pods[pod.Name]) {
			moved(at)
		}
	}
	if next.service.After(last.service) {
		moved(next.service)
	}

	t.mu.Lock()
	t.states[key] = next
	t.mu.Unlock()
	if !known {
		return svc.CreationTimestamp.Time
	}
	return earliest
}

// Forget drops what the tracker knows of a deleted Service.
func (t *TriggerTimeTracker) Forget(namespace, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.states, types.NamespacedName{Namespace: namespace, Name: name})
}
