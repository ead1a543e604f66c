package kuberuntime

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Event reasons about sandboxes, upstream's.
const (
	EventSandboxChanged         = "SandboxChanged"
	EventFailedCreatePodSandBox = "FailedCreatePodSandBox"
)

// StartResult is what became of an attempt to start a container.
type StartResult struct {
	Container string
	// Err is nil when the container started; otherwise one of the Err*
	// reasons of this package, which is the container's waiting reason.
	Err error
	// Message is the waiting message that goes with Err.
	Message string
}

// SyncResult is what one SyncPod did.
type SyncResult struct {
	// Starts holds one entry per container SyncPod tried to start.
	Starts []StartResult
	// Err is the first failure, nil when every step succeeded. The caller
	// retries a failed sync sooner than its periodic resync.
	Err error
}

func (r *SyncResult) fail(err error) {
	if r.Err == nil {
		r.Err = err
	}
}

// SyncPod moves the pod one step toward its spec, as upstream's SyncPod:
// kill what must go (the whole pod when its sandbox changed), create the
// sandbox when needed, then start the next init container or the app
// containers that should run. ps is the pod's state as PodStatus read it.
func (m *Manager) SyncPod(ctx context.Context, pod *corev1.Pod, ps *PodStatus) SyncResult {
	var result SyncResult
	actions := m.computePodActions(pod, ps)
	m.log.Debug("Computed pod actions", "pod", FormatPod(pod), "killPod", actions.KillPod,
		"createSandbox", actions.CreateSandbox, "start", actions.ContainersToStart, "kill", len(actions.ContainersToKill))
	if actions.CreateSandbox && actions.SandboxID != "" {
		m.event(PodRef(pod), corev1.EventTypeNormal, EventSandboxChanged, "Pod sandbox changed, it will be killed and re-created.")
	}

	if actions.KillPod {
		if err := m.KillPod(ctx, pod, ps, nil); err != nil {
			result.fail(fmt.Errorf("kill pod %q: %w", FormatPod(pod), err))
			return result
		}
		if actions.CreateSandbox {
			m.purgeInitContainers(ctx, pod, ps)
		}
	} else {
		podIP := firstIP(ps.IPs)
		for id, k := range actions.ContainersToKill {
			if err := m.killContainer(ctx, pod, id, k.name, k.message, k.reason, nil, podIP); err != nil {
				result.fail(fmt.Errorf("kill container %q of pod %q: %w", k.name, FormatPod(pod), err))
				return result
			}
		}
	}
	m.pruneInitContainers(ctx, pod, ps)

	podIPs := ps.IPs
	sandboxID := actions.SandboxID
	if actions.CreateSandbox {
		id, err := m.createSandbox(ctx, pod, actions.Attempt)
		if err != nil {
			m.event(PodRef(pod), corev1.EventTypeWarning, EventFailedCreatePodSandBox, fmt.Sprintf("Failed to create pod sandbox: %v", err))
			result.fail(fmt.Errorf("create sandbox of pod %q: %w", FormatPod(pod), err))
			return result
		}
		sandboxID = id
		fresh, err := m.PodStatus(ctx, pod.UID, pod.Name, pod.Namespace)
		if err != nil {
			result.fail(err)
			return result
		}
		podIPs = fresh.IPs
	}
	if IsHostNetwork(pod) && m.nodeIP != "" {
		podIPs = []string{m.nodeIP}
	}
	if actions.NextInitContainer == nil && len(actions.ContainersToStart) == 0 {
		return result
	}

	sandboxConfig, err := m.SandboxConfig(pod, actions.Attempt)
	if err != nil {
		result.fail(fmt.Errorf("generate sandbox config of pod %q: %w", FormatPod(pod), err))
		return result
	}
	start := func(c *corev1.Container) error {
		if inBackOff, msg := m.doBackOff(pod, c, ps); inBackOff {
			result.Starts = append(result.Starts, StartResult{Container: c.Name, Err: ErrCrashLoopBackOff, Message: msg})
			return fmt.Errorf("failed to %q for %q with %w: %q", "StartContainer", c.Name, ErrCrashLoopBackOff, msg)
		}
		msg, err := m.startContainer(ctx, sandboxID, sandboxConfig, c, pod, ps, podIPs)
		result.Starts = append(result.Starts, StartResult{Container: c.Name, Err: err, Message: msg})
		if err != nil {
			return fmt.Errorf("failed to %q for %q with %w: %q", "StartContainer", c.Name, err, msg)
		}
		return nil
	}
	if c := actions.NextInitContainer; c != nil {
		if err := start(c); err != nil {
			result.fail(err)
		}
		// App containers wait for the init container to complete.
		return result
	}
	for _, i := range actions.ContainersToStart {
		if err := start(&pod.Spec.Containers[i]); err != nil {
			result.fail(err)
		}
	}
	return result
}

// doBackOff reports whether the container, which exited, must wait before
// it restarts, and the waiting message. The back-off is measured from the
// last exit; each restart doubles it, from 10s up to 5 minutes.
func (m *Manager) doBackOff(pod *corev1.Pod, c *corev1.Container, ps *PodStatus) (bool, string) {
	var exited *ContainerStatus
	for _, cs := range ps.Containers {
		if cs.Name == c.Name && cs.State == ContainerStateExited {
			exited = cs
			break
		}
	}
	if exited == nil {
		return false, ""
	}
	key := stableKey(pod, c)
	if m.crashBackOff.IsInBackOffSince(key, exited.FinishedAt) {
		m.event(containerRef(pod, c), corev1.EventTypeWarning, EventBackOff,
			fmt.Sprintf("Back-off restarting failed container %s in pod %s", c.Name, FormatPod(pod)))
		return true, fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", m.crashBackOff.Get(key), c.Name, FormatPod(pod))
	}
	m.crashBackOff.Next(key, exited.FinishedAt)
	return false, ""
}

// pruneInitContainers keeps only the newest exited instance of each init
// container: the older ones are history nobody reads.
func (m *Manager) pruneInitContainers(ctx context.Context, pod *corev1.Pod, ps *PodStatus) {
	for _, c := range pod.Spec.InitContainers {
		seen := 0
		for _, cs := range ps.Containers {
			if cs.Name != c.Name || (cs.State != ContainerStateExited && cs.State != ContainerStateUnknown) {
				continue
			}
			seen++
			if seen == 1 {
				continue
			}
			if err := m.removeContainer(ctx, cs.ID); err != nil {
				m.log.Warn("Remove old init container", "pod", FormatPod(pod), "container", c.Name, "err", err)
			}
		}
	}
}

// purgeInitContainers removes every init container instance, before a new
// sandbox starts initialization over.
func (m *Manager) purgeInitContainers(ctx context.Context, pod *corev1.Pod, ps *PodStatus) {
	for _, c := range pod.Spec.InitContainers {
		for _, cs := range ps.Containers {
			if cs.Name != c.Name {
				continue
			}
			if err := m.removeContainer(ctx, cs.ID); err != nil {
				m.log.Warn("Remove init container", "pod", FormatPod(pod), "container", c.Name, "err", err)
			}
		}
	}
}

func secondsDuration(s int64) time.Duration { return time.Duration(s) * time.Second }
