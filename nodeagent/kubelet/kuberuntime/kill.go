package kuberuntime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// minimumGracePeriod is the least a stopped container gets, so that even a
// forced kill lets it see SIGTERM before SIGKILL.
const minimumGracePeriod = 2

// DefaultTerminationGracePeriod is what a pod without one gets, the API
// server's default.
const DefaultTerminationGracePeriod = 30

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }

// containerSpec finds a container of the pod by name, init containers
// included.
func containerSpec(pod *corev1.Pod, name string) *corev1.Container {
	if c := findContainer(pod.Spec.Containers, name); c != nil {
		return c
	}
	return findContainer(pod.Spec.InitContainers, name)
}

// restoreSpecs rebuilds, from a container's labels and annotations, the
// part of its pod and spec that killing it needs: a kubelet that restarted
// may have to kill containers of pods it no longer knows.
func (m *Manager) restoreSpecs(ctx context.Context, containerID string) (*corev1.Pod, *corev1.Container, error) {
	resp, err := m.runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: containerID})
	if err != nil {
		return nil, nil, fmt.Errorf("status of container %s: %w", containerID, err)
	}
	s := resp.GetStatus()
	if s == nil {
		return nil, nil, fmt.Errorf("status of container %s: runtime returned none", containerID)
	}
	l := containerInfoFromLabels(s.GetLabels())
	a := containerInfoFromAnnotations(s.GetAnnotations())
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			UID:                        l.PodUID,
			Name:                       l.PodName,
			Namespace:                  l.PodNamespace,
			DeletionGracePeriodSeconds: a.PodDeletionGracePeriod,
		},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: a.PodTerminationGracePeriod},
	}
	c := &corev1.Container{
		Name:                   l.ContainerName,
		Ports:                  a.Ports,
		TerminationMessagePath: a.TerminationMessagePath,
	}
	if a.PreStop != nil {
		c.Lifecycle = &corev1.Lifecycle{PreStop: a.PreStop}
	}
	pod.Spec.Containers = []corev1.Container{*c}
	return pod, &pod.Spec.Containers[0], nil
}

// terminationGracePeriod is how long a container gets to stop: the pod's
// deletion grace period, else the liveness probe's own grace period when
// the probe killed it, else the pod's; 2 seconds without any.
func terminationGracePeriod(pod *corev1.Pod, c *corev1.Container, reason string) int64 {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return *pod.DeletionGracePeriodSeconds
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		if reason == killReasonLivenessProbe && c.LivenessProbe != nil && c.LivenessProbe.TerminationGracePeriodSeconds != nil {
			return *c.LivenessProbe.TerminationGracePeriodSeconds
		}
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return minimumGracePeriod
}

// killContainer runs the container's preStop hook and stops it with what
// remains of its grace period. pod may be nil: the specs are then restored
// from the container's annotations.
func (m *Manager) killContainer(ctx context.Context, pod *corev1.Pod, containerID, name, message, reason string, gracePeriodOverride *int64, podIP string) error {
	var spec *corev1.Container
	if pod != nil {
		if spec = containerSpec(pod, name); spec == nil {
			return fmt.Errorf("failed to get containerSpec %q (id=%q) in pod %q when killing container for reason %q",
				name, containerID, FormatPod(pod), message)
		}
	} else {
		var err error
		if pod, spec, err = m.restoreSpecs(ctx, containerID); err != nil {
			return err
		}
	}
	grace := terminationGracePeriod(pod, spec, reason)
	if message == "" {
		message = "Stopping container " + spec.Name
	}
	m.event(containerRef(pod, spec), corev1.EventTypeNormal, EventKilling, message)
	if gracePeriodOverride != nil {
		grace = *gracePeriodOverride
	}
	if spec.Lifecycle != nil && spec.Lifecycle.PreStop != nil && grace > 0 {
		grace -= m.runPreStop(ctx, pod, spec, containerID, grace, podIP)
	}
	if grace < minimumGracePeriod {
		grace = minimumGracePeriod
	}
	m.log.Debug("Killing container", "pod", FormatPod(pod), "container", name, "id", containerID, "gracePeriod", grace)
	_, err := m.runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: containerID, Timeout: grace})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("stop container %q of pod %q: %w", name, FormatPod(pod), err)
	}
	return nil
}

// runPreStop runs the preStop hook for at most the grace period and returns
// the whole seconds it took.
func (m *Manager) runPreStop(ctx context.Context, pod *corev1.Pod, c *corev1.Container, containerID string, grace int64, podIP string) int64 {
	start := m.clock.Now()
	done := make(chan struct{})
	hookCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(done)
		if _, err := m.runHook(hookCtx, pod, c, containerID, c.Lifecycle.PreStop, podIP); err != nil {
			m.log.Warn("PreStop hook failed", "pod", FormatPod(pod), "container", c.Name, "err", err)
			// The hook's output stays out of the event: it may hold secrets.
			m.event(containerRef(pod, c), corev1.EventTypeWarning, EventFailedPreStopHook, "PreStopHook failed")
		}
	}()
	timer := m.clock.NewTimer(secondsDuration(grace))
	defer timer.Stop()
	select {
	case <-timer.C():
		m.log.Info("PreStop hook not completed in grace period", "pod", FormatPod(pod), "container", c.Name, "gracePeriod", grace)
	case <-done:
	}
	return int64(m.clock.Since(start).Seconds())
}

// KillPod stops the pod's running containers, in parallel, each with its
// preStop hook and grace period (gracePeriodOverride, when set, replaces
// the pod's), then stops its sandboxes. pod may be nil for a pod the
// kubelet no longer knows.
func (m *Manager) KillPod(ctx context.Context, pod *corev1.Pod, ps *PodStatus, gracePeriodOverride *int64) error {
	podIP := firstIP(ps.IPs)
	if pod != nil && IsHostNetwork(pod) {
		podIP = m.nodeIP
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, cs := range ps.Containers {
		if cs.State != ContainerStateRunning {
			continue
		}
		wg.Add(1)
		go func(cs *ContainerStatus) {
			defer wg.Done()
			if err := m.killContainer(ctx, pod, cs.ID, cs.Name, "", killReasonUnknown, gracePeriodOverride, podIP); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(cs)
	}
	wg.Wait()
	for _, s := range ps.Sandboxes {
		if _, err := m.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.GetId()}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("stop sandbox %s of pod %s_%s: %w", s.GetId(), ps.Name, ps.Namespace, err))
		}
	}
	return errors.Join(errs...)
}

// RemovePod removes the pod's containers and sandboxes from the runtime,
// and its log directory: what is left of a pod that is gone for good. A
// sandbox still ready is stopped first, since some runtimes refuse to
// remove one; a stopped one is not stopped again, because containerd tears
// the pod's network down on every StopPodSandbox, running each CNI plugin
// once more, and that is most of what deleting a pod costs a node.
func (m *Manager) RemovePod(ctx context.Context, ps *PodStatus) error {
	var errs []error
	for _, cs := range ps.Containers {
		if err := m.removeContainer(ctx, cs.ID); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range ps.Sandboxes {
		if s.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
			if _, err := m.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.GetId()}); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("stop sandbox %s: %w", s.GetId(), err))
				continue
			}
		}
		if _, err := m.runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.GetId()}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove sandbox %s: %w", s.GetId(), err))
		}
	}
	if len(errs) == 0 && ps.Name != "" {
		if err := os.RemoveAll(PodLogsDir(m.podLogsDir, ps.Namespace, ps.Name, ps.UID)); err != nil {
			errs = append(errs, fmt.Errorf("remove log directory of pod %s_%s: %w", ps.Name, ps.Namespace, err))
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) removeContainer(ctx context.Context, id string) error {
	if _, err := m.runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return nil
}
