package podworkers

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/kindish/kindish/nodeagent/kubelet/kuberuntime"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Waiting reasons the kubelet sets itself, upstream's.
const (
	reasonContainerCreating      = "ContainerCreating"
	reasonPodInitializing        = "PodInitializing"
	reasonContainerStatusUnknown = "ContainerStatusUnknown"
)

// Condition reasons, upstream's (pkg/kubelet/status/generate.go).
const (
	reasonUnknownContainerStatuses = "UnknownContainerStatuses"
	reasonPodCompleted             = "PodCompleted"
	reasonPodFailed                = "PodFailed"
	reasonContainersNotReady       = "ContainersNotReady"
	reasonContainersNotInitialized = "ContainersNotInitialized"
	reasonReadinessGatesNotReady   = "ReadinessGatesNotReady"
)

// kubeletConditions are the condition types the kubelet owns; the others
// (set by controllers) are carried over from the API untouched.
var kubeletConditions = map[corev1.PodConditionType]bool{
	corev1.PodScheduled:              true,
	corev1.PodReady:                  true,
	corev1.PodInitialized:            true,
	corev1.ContainersReady:           true,
	corev1.PodReadyToStartContainers: true,
}

// generateAPIPodStatus computes the pod's API status from its runtime
// state, as upstream's generateAPIPodStatus. old is the status the kubelet
// last computed (or the API's); podIsTerminal is set once the pod was
// killed for good, which makes its phase Succeeded or Failed.
func (w *Workers) generateAPIPodStatus(pod *corev1.Pod, ps *kuberuntime.PodStatus, old corev1.PodStatus, podIsTerminal bool) corev1.PodStatus {
	old = *old.DeepCopy()
	s := corev1.PodStatus{QOSClass: kuberuntime.PodQOS(pod)}
	for _, ip := range w.sortPodIPs(ps.IPs) {
		s.PodIPs = append(s.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(s.PodIPs) > 0 {
		s.PodIP = s.PodIPs[0].IP
	}
	hasInit := len(pod.Spec.InitContainers) > 0
	s.ContainerStatuses = w.convertContainerStatuses(pod, ps, old.ContainerStatuses, pod.Spec.Containers, hasInit, false)
	s.InitContainerStatuses = w.convertContainerStatuses(pod, ps, old.InitContainerStatuses, pod.Spec.InitContainers, hasInit, true)

	all := append(append([]corev1.ContainerStatus(nil), s.ContainerStatuses...), s.InitContainerStatuses...)
	s.Phase = getPhase(pod, all, podIsTerminal)
	// A terminal phase, once reported, stays.
	if !isTerminalPhase(s.Phase) {
		switch {
		case isTerminalPhase(old.Phase):
			s.Phase = old.Phase
		case isTerminalPhase(pod.Status.Phase):
			s.Phase = pod.Status.Phase
		}
	}
	if s.Phase == old.Phase {
		s.Reason, s.Message = old.Reason, old.Message
		if s.Reason == "" {
			s.Reason = pod.Status.Reason
		}
		if s.Message == "" {
			s.Message = pod.Status.Message
		}
	}
	if isTerminalPhase(pod.Status.Phase) && s.Phase != pod.Status.Phase {
		s.Phase = pod.Status.Phase
	}

	w.setStartedAndReady(pod, &s)

	for _, c := range pod.Status.Conditions {
		if !kubeletConditions[c.Type] {
			s.Conditions = append(s.Conditions, c)
		}
	}
	all = append(append([]corev1.ContainerStatus(nil), s.InitContainerStatuses...), s.ContainerStatuses...)
	s.Conditions = append(s.Conditions,
		readyToStartContainersCondition(pod, ps),
		initializedCondition(pod, all, s.Phase),
		podReadyCondition(pod, s.Conditions, all, s.Phase),
		containersReadyCondition(pod, all, s.Phase),
		scheduledCondition(pod),
	)

	if w.nodeIP != "" {
		s.HostIP = w.nodeIP
		s.HostIPs = []corev1.HostIP{{IP: w.nodeIP}}
		if kuberuntime.IsHostNetwork(pod) && s.PodIP == "" {
			s.PodIP = w.nodeIP
			s.PodIPs = []corev1.PodIP{{IP: w.nodeIP}}
		}
	}
	return s
}

// sortPodIPs keeps the first address of the node's family, then the first
// of the other family, as upstream's sortPodIPs.
func (w *Workers) sortPodIPs(ips []string) []string {
	primaryV4 := true
	if node, err := netip.ParseAddr(w.nodeIP); err == nil && node.Is6() && !node.Is4In6() {
		primaryV4 = false
	}
	var primary, secondary string
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		is4 := ip.Unmap().Is4()
		switch {
		case is4 == primaryV4 && primary == "":
			primary = ip.Unmap().String()
		case is4 != primaryV4 && secondary == "":
			secondary = ip.Unmap().String()
		}
	}
	var out []string
	for _, ip := range []string{primary, secondary} {
		if ip != "" {
			out = append(out, ip)
		}
	}
	return out
}

// convertContainerStatuses builds the API statuses of containers (or init
// containers) from their newest two runtime instances, the previous API
// statuses and the reasons of failed starts, as upstream's
// convertToAPIContainerStatuses.
func (w *Workers) convertContainerStatuses(pod *corev1.Pod, ps *kuberuntime.PodStatus, previous []corev1.ContainerStatus, containers []corev1.Container, hasInitContainers, isInit bool) []corev1.ContainerStatus {
	oldStatuses := make(map[string]corev1.ContainerStatus, len(previous))
	for _, s := range previous {
		oldStatuses[s.Name] = *s.DeepCopy()
	}

	defaultReason := reasonContainerCreating
	if hasInitContainers {
		defaultReason = reasonPodInitializing
	}
	statuses := make(map[string]*corev1.ContainerStatus, len(containers))
	for _, c := range containers {
		st := &corev1.ContainerStatus{
			Name:  c.Name,
			Image: c.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: defaultReason}},
		}
		if old, ok := oldStatuses[c.Name]; ok {
			if old.State.Terminated != nil {
				st = old.DeepCopy()
			} else {
				st.RestartCount = old.RestartCount
				st.LastTerminationState = old.LastTerminationState
			}
		}
		statuses[c.Name] = st
	}

	// A container that ran before and has vanished from the runtime
	// terminated, even if nobody saw how: say so rather than let it look
	// as if it never started.
	for _, c := range containers {
		if ps.FindContainer(c.Name) != nil {
			continue
		}
		old, ok := oldStatuses[c.Name]
		if !ok || old.State.Terminated != nil || old.State.Running == nil {
			continue
		}
		st := statuses[c.Name]
		if st.State.Waiting == nil || st.State.Waiting.Reason != defaultReason || st.LastTerminationState.Terminated != nil {
			continue
		}
		st.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{
			Reason:   reasonContainerStatusUnknown,
			Message:  "The container could not be located when the pod was deleted.  The container used to be Running",
			ExitCode: 137,
		}
		if pod.DeletionTimestamp == nil {
			st.RestartCount++
		}
	}

	seen := map[string]int{}
	for _, cs := range ps.Containers {
		if _, ok := statuses[cs.Name]; !ok || seen[cs.Name] >= 2 {
			continue
		}
		var oldPtr *corev1.ContainerStatus
		if old, ok := oldStatuses[cs.Name]; ok {
			oldPtr = &old
		}
		st := w.convertContainerStatus(cs, oldPtr)
		if seen[cs.Name] == 0 {
			statuses[cs.Name] = st
		} else {
			statuses[cs.Name].LastTerminationState = st.State
		}
		seen[cs.Name]++
	}

	for i := range containers {
		c := &containers[i]
		if isInit {
			cs := ps.FindContainer(c.Name)
			if cs != nil && cs.State == kuberuntime.ContainerStateExited && cs.ExitCode == 0 {
				continue
			}
			// The runtime lost a completed init container's record (static
			// pods have no API status to remember it): app containers exist,
			// so it did complete.
			if cs == nil && anyRegularContainerCreated(pod, ps) && statuses[c.Name].State.Waiting != nil {
				statuses[c.Name].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					Reason:  "Completed",
					Message: "Unable to get init container status from container runtime and pod has been initialized, treat it as exited normally",
				}}
				continue
			}
		}
		if !kuberuntime.ShouldContainerBeRestarted(c, pod, ps) {
			continue
		}
		r, ok := w.reasons.get(pod.UID, c.Name)
		if !ok {
			continue
		}
		st := statuses[c.Name]
		if st.State.Terminated != nil {
			st.LastTerminationState = st.State
		}
		st.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: r.reason, Message: r.message}}
	}

	out := make([]corev1.ContainerStatus, 0, len(containers))
	if isInit {
		for _, c := range containers {
			out = append(out, *statuses[c.Name])
		}
		return out
	}
	for _, st := range statuses {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (w *Workers) convertContainerStatus(cs *kuberuntime.ContainerStatus, old *corev1.ContainerStatus) *corev1.ContainerStatus {
	cid := w.runtime.ContainerID(cs.ID)
	st := &corev1.ContainerStatus{
		Name:         cs.Name,
		RestartCount: int32(cs.RestartCount),
		Image:        cs.Image,
		ImageID:      cs.ImageRef,
		ContainerID:  cid,
	}
	switch {
	case cs.State == kuberuntime.ContainerStateRunning:
		st.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(cs.StartedAt)}
	case cs.State == kuberuntime.ContainerStateCreated:
		st.State.Waiting = &corev1.ContainerStateWaiting{}
	case cs.State == kuberuntime.ContainerStateExited:
		st.State.Terminated = &corev1.ContainerStateTerminated{
			ExitCode:    int32(cs.ExitCode),
			Reason:      cs.Reason,
			Message:     cs.Message,
			StartedAt:   metav1.NewTime(cs.StartedAt),
			FinishedAt:  metav1.NewTime(cs.FinishedAt),
			ContainerID: cid,
		}
	case cs.State == kuberuntime.ContainerStateUnknown && old != nil && old.State.Running != nil:
		// It ran and the runtime lost it: it terminated, not "never ran",
		// so that a run-once pod does not run it twice.
		st.State.Terminated = &corev1.ContainerStateTerminated{
			Reason:   reasonContainerStatusUnknown,
			Message:  "The container could not be located when the pod was terminated",
			ExitCode: 137,
		}
		st.RestartCount = old.RestartCount + 1
	default:
		st.State.Waiting = &corev1.ContainerStateWaiting{}
	}
	return st
}

func anyRegularContainerCreated(pod *corev1.Pod, ps *kuberuntime.PodStatus) bool {
	for _, c := range pod.Spec.Containers {
		cs := ps.FindContainer(c.Name)
		if cs == nil {
			continue
		}
		switch cs.State {
		case kuberuntime.ContainerStateCreated, kuberuntime.ContainerStateRunning, kuberuntime.ContainerStateExited:
			return true
		}
	}
	return false
}

// setStartedAndReady fills Started and Ready from the probes: a running
// container is started once its startup probe succeeded (at once without
// one) and ready once started and its readiness probe succeeded (at once
// without one); an init container is ready once it exited 0.
func (w *Workers) setStartedAndReady(pod *corev1.Pod, s *corev1.PodStatus) {
	for i := range s.ContainerStatuses {
		cs := &s.ContainerStatuses[i]
		c := findContainer(pod.Spec.Containers, cs.Name)
		running := cs.State.Running != nil
		started := running
		if running && c != nil && c.StartupProbe != nil {
			started = false
			if w.probes != nil {
				if ok, known := w.probes.Startup(cs.ContainerID); known {
					started = ok
				}
			}
		}
		cs.Started = &started
		ready := started
		if started && c != nil && c.ReadinessProbe != nil {
			ready = false
			if w.probes != nil {
				if ok, known := w.probes.Readiness(cs.ContainerID); known {
					ready = ok
				}
			}
		}
		cs.Ready = ready
	}
	for i := range s.InitContainerStatuses {
		cs := &s.InitContainerStatuses[i]
		started := cs.State.Running != nil
		cs.Started = &started
		cs.Ready = cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0
	}
}

func findContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

func findStatus(statuses []corev1.ContainerStatus, name string) (corev1.ContainerStatus, bool) {
	for _, s := range statuses {
		if s.Name == name {
			return s, true
		}
	}
	return corev1.ContainerStatus{}, false
}

// getPhase computes the pod's phase from its container statuses, as
// upstream's getPhase (without sidecar containers).
func getPhase(pod *corev1.Pod, info []corev1.ContainerStatus, podIsTerminal bool) corev1.PodPhase {
	spec := pod.Spec
	pendingInit, failedInit := 0, 0
	for _, c := range spec.InitContainers {
		cs, ok := findStatus(info, c.Name)
		if !ok {
			pendingInit++
			continue
		}
		switch {
		case cs.State.Running != nil:
			pendingInit++
		case cs.State.Terminated != nil:
			if cs.State.Terminated.ExitCode != 0 {
				failedInit++
			}
		case cs.State.Waiting != nil:
			if last := cs.LastTerminationState.Terminated; last != nil {
				if last.ExitCode != 0 {
					failedInit++
				}
			} else {
				pendingInit++
			}
		default:
			pendingInit++
		}
	}

	unknown, running, waiting, stopped, succeeded := 0, 0, 0, 0, 0
	for _, c := range spec.Containers {
		cs, ok := findStatus(info, c.Name)
		if !ok {
			unknown++
			continue
		}
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.State.Waiting != nil:
			if cs.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		default:
			unknown++
		}
	}

	if failedInit > 0 && spec.RestartPolicy == corev1.RestartPolicyNever {
		return corev1.PodFailed
	}
	switch {
	case pendingInit > 0, waiting > 0:
		return corev1.PodPending
	case running > 0 && unknown == 0:
		return corev1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		// A pod killed for good does not restart whatever its policy; static
		// pods keep upstream's exception.
		if podIsTerminal && !isStatic(pod) {
			if stopped == succeeded {
				return corev1.PodSucceeded
			}
			return corev1.PodFailed
		}
		if spec.RestartPolicy == corev1.RestartPolicyAlways {
			return corev1.PodRunning
		}
		if stopped == succeeded {
			return corev1.PodSucceeded
		}
		if spec.RestartPolicy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}

func readyToStartContainersCondition(pod *corev1.Pod, ps *kuberuntime.PodStatus) corev1.PodCondition {
	status := corev1.ConditionFalse
	if changed, _, _ := kuberuntime.SandboxChanged(pod, ps); !changed {
		status = corev1.ConditionTrue
	}
	return corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: status}
}

func containersReadyCondition(pod *corev1.Pod, statuses []corev1.ContainerStatus, phase corev1.PodPhase) corev1.PodCondition {
	if statuses == nil {
		return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: reasonUnknownContainerStatuses}
	}
	var unknown, unready []string
	for _, c := range pod.Spec.Containers {
		if cs, ok := findStatus(statuses, c.Name); ok {
			if !cs.Ready {
				unready = append(unready, c.Name)
			}
		} else {
			unknown = append(unknown, c.Name)
		}
	}
	if phase == corev1.PodSucceeded && len(unknown) == 0 || phase == corev1.PodFailed {
		return terminalCondition(corev1.ContainersReady, phase)
	}
	if msg := unreadyMessage(unknown, "unknown", unready, "unready"); msg != "" {
		return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: reasonContainersNotReady, Message: msg}
	}
	return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}
}

func podReadyCondition(pod *corev1.Pod, conditions []corev1.PodCondition, statuses []corev1.ContainerStatus, phase corev1.PodPhase) corev1.PodCondition {
	cr := containersReadyCondition(pod, statuses, phase)
	if cr.Status != corev1.ConditionTrue {
		return corev1.PodCondition{Type: corev1.PodReady, Status: cr.Status, Reason: cr.Reason, Message: cr.Message}
	}
	var msgs []string
	for _, gate := range pod.Spec.ReadinessGates {
		c := findCondition(conditions, gate.ConditionType)
		switch {
		case c == nil:
			msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", string(gate.ConditionType)))
		case c.Status != corev1.ConditionTrue:
			msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", string(gate.ConditionType), c.Status))
		}
	}
	if len(msgs) > 0 {
		return corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: reasonReadinessGatesNotReady, Message: strings.Join(msgs, ", ")}
	}
	return corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}
}

func initializedCondition(pod *corev1.Pod, statuses []corev1.ContainerStatus, phase corev1.PodPhase) corev1.PodCondition {
	if statuses == nil && len(pod.Spec.InitContainers) > 0 {
		return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionFalse, Reason: reasonUnknownContainerStatuses}
	}
	var unknown, incomplete []string
	for _, c := range pod.Spec.InitContainers {
		cs, ok := findStatus(statuses, c.Name)
		if !ok {
			unknown = append(unknown, c.Name)
			continue
		}
		if !cs.Ready {
			incomplete = append(incomplete, c.Name)
		}
	}
	if phase == corev1.PodSucceeded && len(unknown) == 0 {
		return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, Reason: reasonPodCompleted}
	}
	if anyRegularContainerStarted(pod, statuses) {
		return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
	}
	if msg := unreadyMessage(unknown, "unknown", incomplete, "incomplete"); msg != "" {
		return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionFalse, Reason: reasonContainersNotInitialized, Message: msg}
	}
	return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
}

// anyRegularContainerStarted reports whether an app container ever ran,
// which means initialization completed once.
func anyRegularContainerStarted(pod *corev1.Pod, statuses []corev1.ContainerStatus) bool {
	for _, c := range pod.Spec.Containers {
		cs, ok := findStatus(statuses, c.Name)
		if !ok {
			continue
		}
		if cs.State.Running != nil || cs.State.Terminated != nil {
			return true
		}
	}
	return false
}

func unreadyMessage(unknown []string, unknownWord string, bad []string, badWord string) string {
	var msgs []string
	if len(unknown) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with %s status: %s", unknownWord, unknown))
	}
	if len(bad) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with %s status: %s", badWord, bad))
	}
	return strings.Join(msgs, ", ")
}

func terminalCondition(t corev1.PodConditionType, phase corev1.PodPhase) corev1.PodCondition {
	c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse}
	switch phase {
	case corev1.PodFailed:
		c.Reason = reasonPodFailed
	case corev1.PodSucceeded:
		c.Reason = reasonPodCompleted
	}
	return c
}

// scheduledCondition is the API's PodScheduled as the scheduler set it;
// a pod that never went through the scheduler (a static pod) is scheduled
// by being here.
func scheduledCondition(pod *corev1.Pod) corev1.PodCondition {
	if c := findCondition(pod.Status.Conditions, corev1.PodScheduled); c != nil {
		return *c
	}
	return corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}
}

func findCondition(conditions []corev1.PodCondition, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range conditions {
		if conditions[i].Type == t {
			return &conditions[i]
		}
	}
	return nil
}
