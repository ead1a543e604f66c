package kuberuntime

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Why a running container is killed, as upstream's containerKillReason.
const (
	killReasonLivenessProbe       = "LivenessProbe"
	killReasonFailedPostStartHook = "FailedPostStartHook"
	killReasonUnknown             = "Unknown"
)

// containerToKill is a running container the pod no longer wants.
type containerToKill struct {
	container *corev1.Container
	name      string
	// message is the Killing event's text.
	message string
	reason  string
}

// podActions is what a pod needs next, as upstream's podActions (without
// ephemeral containers, sidecars and resizes).
type podActions struct {
	// KillPod stops every container and the sandbox.
	KillPod bool
	// CreateSandbox makes a new sandbox; with an existing one (SandboxID
	// set) the pod is killed first and its init containers purged.
	CreateSandbox bool
	SandboxID     string
	Attempt       uint32
	// NextInitContainer is the init container to start, one at a time.
	NextInitContainer *corev1.Container
	// ContainersToStart are indexes in pod.Spec.Containers.
	ContainersToStart []int
	// ContainersToKill are running containers by runtime ID.
	ContainersToKill map[string]containerToKill
}

// networkNamespaceFor is the network namespace mode a pod's sandbox needs.
func networkNamespaceFor(pod *corev1.Pod) runtimeapi.NamespaceMode {
	if IsHostNetwork(pod) {
		return runtimeapi.NamespaceMode_NODE
	}
	return runtimeapi.NamespaceMode_POD
}

// SandboxChanged reports whether the pod needs a new sandbox: it has none,
// its newest is not ready, more than one is ready, the network namespace
// mode changed, or a pod-network sandbox lost its address. It also returns
// the attempt number for the new sandbox and the ID of the one to replace
// (or to keep, when nothing changed).
func SandboxChanged(pod *corev1.Pod, ps *PodStatus) (changed bool, attempt uint32, sandboxID string) {
	if ps == nil || len(ps.Sandboxes) == 0 {
		return true, 0, ""
	}
	ready := 0
	for _, s := range ps.Sandboxes {
		if s.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
			ready++
		}
	}
	newest := ps.Sandboxes[0]
	next := newest.GetMetadata().GetAttempt() + 1
	switch {
	case ready > 1:
		return true, next, newest.GetId()
	case newest.GetState() != runtimeapi.PodSandboxState_SANDBOX_READY:
		return true, next, newest.GetId()
	case newest.GetLinux().GetNamespaces().GetOptions().GetNetwork() != networkNamespaceFor(pod):
		return true, next, ""
	case !IsHostNetwork(pod) && newest.GetNetwork() != nil && newest.GetNetwork().GetIp() == "":
		return true, next, newest.GetId()
	}
	return false, newest.GetMetadata().GetAttempt(), newest.GetId()
}

func shouldRestartOnFailure(pod *corev1.Pod) bool {
	return pod.Spec.RestartPolicy != corev1.RestartPolicyNever
}

func containerSucceeded(c *corev1.Container, ps *PodStatus) bool {
	cs := ps.FindContainer(c.Name)
	return cs != nil && cs.State == ContainerStateExited && cs.ExitCode == 0
}

// ShouldContainerBeRestarted reports whether a container that is not
// running should be (re)started: never once the pod is being deleted;
// always when it never ran or is stuck created or unknown; otherwise as
// the restart policy says about its last exit.
func ShouldContainerBeRestarted(c *corev1.Container, pod *corev1.Pod, ps *PodStatus) bool {
	if pod.DeletionTimestamp != nil {
		return false
	}
	cs := ps.FindContainer(c.Name)
	if cs == nil {
		return true
	}
	switch cs.State {
	case ContainerStateRunning:
		return false
	case ContainerStateUnknown, ContainerStateCreated:
		return true
	}
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return cs.ExitCode != 0
	}
	return true
}

func isInitContainerFailed(cs *ContainerStatus) bool {
	switch {
	case cs.Reason == "OOMKilled":
		return true
	case cs.State == ContainerStateExited && cs.ExitCode != 0:
		return true
	case cs.State == ContainerStateUnknown:
		return true
	}
	return false
}

// nextInitContainer finds where initialization stands: the last failed
// init container's status (with next pointing at it), the next init
// container to run, or done.
func nextInitContainer(pod *corev1.Pod, ps *PodStatus) (failed *ContainerStatus, next *corev1.Container, done bool) {
	inits := pod.Spec.InitContainers
	if len(inits) == 0 {
		return nil, nil, true
	}
	// A running app container means initialization completed once, even
	// if the init containers have since been removed.
	for i := range pod.Spec.Containers {
		if cs := ps.FindContainer(pod.Spec.Containers[i].Name); cs != nil && cs.State == ContainerStateRunning {
			return nil, nil, true
		}
	}
	for i := len(inits) - 1; i >= 0; i-- {
		if cs := ps.FindContainer(inits[i].Name); cs != nil && isInitContainerFailed(cs) {
			return cs, &inits[i], false
		}
	}
	for i := len(inits) - 1; i >= 0; i-- {
		cs := ps.FindContainer(inits[i].Name)
		if cs == nil {
			continue
		}
		if cs.State == ContainerStateRunning {
			return nil, nil, false
		}
		if cs.State == ContainerStateExited {
			if i == len(inits)-1 {
				return nil, nil, true
			}
			return nil, &inits[i+1], false
		}
	}
	return nil, &inits[0], false
}

// computePodActions decides what the pod needs next from its spec and its
// state in the runtime, as upstream's computePodActions.
func (m *Manager) computePodActions(pod *corev1.Pod, ps *PodStatus) podActions {
	createSandbox, attempt, sandboxID := SandboxChanged(pod, ps)
	changes := podActions{
		KillPod:          createSandbox,
		CreateSandbox:    createSandbox,
		SandboxID:        sandboxID,
		Attempt:          attempt,
		ContainersToKill: map[string]containerToKill{},
	}

	if createSandbox {
		// A pod that must not restart and already ran its containers is
		// done: kill what remains rather than start over in a new sandbox.
		// Without any container yet, the sandbox never worked: retry it.
		if !shouldRestartOnFailure(pod) && attempt != 0 && len(ps.Containers) != 0 {
			changes.CreateSandbox = false
			return changes
		}
		var toStart []int
		for i := range pod.Spec.Containers {
			c := &pod.Spec.Containers[i]
			if pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure && containerSucceeded(c, ps) {
				continue
			}
			toStart = append(toStart, i)
		}
		if len(toStart) == 0 {
			if _, _, initialized := nextInitContainer(pod, ps); initialized {
				changes.CreateSandbox = false
				return changes
			}
		}
		if len(pod.Spec.InitContainers) != 0 {
			changes.NextInitContainer = &pod.Spec.InitContainers[0]
			return changes
		}
		changes.ContainersToStart = toStart
		return changes
	}

	failedInit, next, initDone := nextInitContainer(pod, ps)
	if !initDone {
		if next != nil {
			if failedInit != nil && !shouldRestartOnFailure(pod) {
				changes.KillPod = true
			} else {
				// A container in an unknown state may still run: stop it
				// before starting another instance.
				if failedInit != nil && failedInit.State == ContainerStateUnknown {
					changes.ContainersToKill[failedInit.ID] = containerToKill{
						container: next,
						name:      next.Name,
						message:   fmt.Sprintf("Init container is in %q state, try killing it before restart", failedInit.State),
						reason:    killReasonUnknown,
					}
				}
				changes.NextInitContainer = next
			}
		}
		return changes
	}

	keep := 0
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := ps.FindContainer(c.Name)
		if cs == nil || cs.State != ContainerStateRunning {
			if ShouldContainerBeRestarted(c, pod, ps) {
				changes.ContainersToStart = append(changes.ContainersToStart, i)
				if cs != nil && cs.State == ContainerStateUnknown {
					changes.ContainersToKill[cs.ID] = containerToKill{
						container: c,
						name:      cs.Name,
						message:   fmt.Sprintf("Container is in %q state, try killing it before restart", cs.State),
						reason:    killReasonUnknown,
					}
				}
			}
			continue
		}

		var message, reason string
		restart := shouldRestartOnFailure(pod)
		switch {
		case cs.Hash != HashContainer(c):
			message = fmt.Sprintf("Container %s definition changed", c.Name)
			// A changed spec restarts whatever the restart policy.
			restart = true
		case m.liveness != nil && m.liveness.LivenessFailed(m.ContainerID(cs.ID)):
			message = fmt.Sprintf("Container %s failed liveness probe", c.Name)
			reason = killReasonLivenessProbe
		default:
			keep++
			continue
		}
		if restart {
			message += ", will be restarted"
			changes.ContainersToStart = append(changes.ContainersToStart, i)
		}
		changes.ContainersToKill[cs.ID] = containerToKill{container: c, name: cs.Name, message: message, reason: reason}
	}

	if keep == 0 && len(changes.ContainersToStart) == 0 {
		changes.KillPod = true
	}
	return changes
}
