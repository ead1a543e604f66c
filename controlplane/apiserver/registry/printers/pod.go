package printers

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

// nodeLostReason is the pod status reason the node lifecycle controller
// sets when a pod's node stops answering.
const nodeLostReason = "NodeLost"

func (c Convertors) pods() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Ready", typeString, "The aggregate readiness state of this pod for accepting traffic."),
		column("Status", typeString, "The aggregate status of the containers in this pod."),
		column("Restarts", typeString, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
		ageColumn,
		wideColumn("IP", typeString, corev1.PodStatus{}.SwaggerDoc()["podIP"]),
		wideColumn("Node", typeString, corev1.PodSpec{}.SwaggerDoc()["nodeName"]),
		wideColumn("Nominated Node", typeString, corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]),
		wideColumn("Readiness Gates", typeString, corev1.PodSpec{}.SwaggerDoc()["readinessGates"]),
	}, infallible(c.podCells))
}

func (c Convertors) podCells(pod *corev1.Pod) []any {
	s := summarizePod(pod)
	restarts := strconv.Itoa(s.restarts)
	if s.restarts != 0 && !s.lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", s.restarts, c.age(metav1.NewTime(s.lastRestart)))
	}
	return []any{
		fmt.Sprintf("%d/%d", s.ready, s.total),
		s.status,
		restarts,
		c.age(pod.CreationTimestamp),
		orNone(podIP(pod)),
		orNone(pod.Spec.NodeName),
		orNone(pod.Status.NominatedNodeName),
		readinessGates(pod),
	}
}

// podSummary is what `kubectl get pods` says of a pod.
type podSummary struct {
	ready, total int
	// status is the STATUS cell: the phase, or the most telling reason
	// of a container or init container.
	status      string
	restarts    int
	lastRestart time.Time
}

// summarizePod reads a pod's status the way upstream's printPod does: init
// containers first (the first one not done names the status), then, once
// initialized, the app containers from last to first, so the first
// container's state has the last word.
func summarizePod(pod *corev1.Pod) podSummary {
	s := podSummary{total: len(pod.Spec.Containers), status: string(pod.Status.Phase)}
	if pod.Status.Reason != "" {
		s.status = pod.Status.Reason
	}
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Reason == corev1.PodReasonSchedulingGated {
			s.status = corev1.PodReasonSchedulingGated
		}
	}

	// Sidecars (init containers that restart always) count as containers
	// and keep their restarts once the pod is initialized.
	sidecars := map[string]bool{}
	for _, ic := range pod.Spec.InitContainers {
		if ic.RestartPolicy != nil && *ic.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[ic.Name] = true
			s.total++
		}
	}

	var sidecarRestarts int
	var lastSidecarRestart time.Time
	initializing := false
	for i, cs := range pod.Status.InitContainerStatuses {
		s.restarts += int(cs.RestartCount)
		s.lastRestart = later(s.lastRestart, lastTermination(cs))
		if sidecars[cs.Name] {
			sidecarRestarts += int(cs.RestartCount)
			lastSidecarRestart = later(lastSidecarRestart, lastTermination(cs))
		}
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case sidecars[cs.Name] && cs.Started != nil && *cs.Started:
			if cs.Ready {
				s.ready++
			}
			continue
		}
		s.status = initBlockedStatus(i, cs, len(pod.Spec.InitContainers))
		initializing = true
		break
	}

	if !initializing || podConditionTrue(pod, corev1.PodInitialized) {
		s.restarts, s.lastRestart = sidecarRestarts, lastSidecarRestart
		hasRunning := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := pod.Status.ContainerStatuses[i]
			s.restarts += int(cs.RestartCount)
			s.lastRestart = later(s.lastRestart, lastTermination(cs))
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				s.status = cs.State.Waiting.Reason
			case cs.State.Terminated != nil:
				s.status = terminatedReason("", cs.State.Terminated)
			case cs.Ready && cs.State.Running != nil:
				hasRunning = true
				s.ready++
			}
		}
		// A pod whose completed container sits next to a running one is
		// still running.
		if s.status == "Completed" && hasRunning {
			if podConditionTrue(pod, corev1.PodReady) {
				s.status = "Running"
			} else {
				s.status = "NotReady"
			}
		}
	}

	switch {
	case pod.DeletionTimestamp != nil && pod.Status.Reason == nodeLostReason:
		s.status = "Unknown"
	case pod.DeletionTimestamp != nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed:
		s.status = "Terminating"
	}
	return s
}

// initBlockedStatus is the status of a pod held back by init container i
// of total: "Init:1/3", "Init:CrashLoopBackOff", "Init:Error".
func initBlockedStatus(i int, cs corev1.ContainerStatus, total int) string {
	switch {
	case cs.State.Terminated != nil:
		return terminatedReason("Init:", cs.State.Terminated)
	case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
		return "Init:" + cs.State.Waiting.Reason
	default:
		return fmt.Sprintf("Init:%d/%d", i, total)
	}
}

// terminatedReason names a terminated container's end: its reason, else
// the signal, else the exit code.
func terminatedReason(prefix string, t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return prefix + t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("%sSignal:%d", prefix, t.Signal)
	default:
		return fmt.Sprintf("%sExitCode:%d", prefix, t.ExitCode)
	}
}

// lastTermination is when a container last stopped before its current
// run, or zero.
func lastTermination(cs corev1.ContainerStatus) time.Time {
	if t := cs.LastTerminationState.Terminated; t != nil {
		return t.FinishedAt.Time
	}
	return time.Time{}
}

func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

func podConditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == t {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podIP is the pod's primary IP. When podIP and podIPs disagree, podIP wins,
// as in upstream's conversion from v1.
func podIP(pod *corev1.Pod) string {
	if pod.Status.PodIP != "" {
		return pod.Status.PodIP
	}
	if len(pod.Status.PodIPs) > 0 {
		return pod.Status.PodIPs[0].IP
	}
	return ""
}

// readinessGates counts the pod's readiness gates whose condition is true
// ("1/2"), or "<none>".
func readinessGates(pod *corev1.Pod) string {
	if len(pod.Spec.ReadinessGates) == 0 {
		return "<none>"
	}
	met := 0
	for _, gate := range pod.Spec.ReadinessGates {
		for _, cond := range pod.Status.Conditions {
			if cond.Type == gate.ConditionType {
				if cond.Status == corev1.ConditionTrue {
					met++
				}
				break
			}
		}
	}
	return fmt.Sprintf("%d/%d", met, len(pod.Spec.ReadinessGates))
}
