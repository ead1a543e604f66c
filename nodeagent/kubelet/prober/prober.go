package prober

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kindish/kindish/cluster/version"
	corev1 "k8s.io/api/core/v1"
)

// Event reasons, as upstream's kubelet (pkg/kubelet/events) names them.
const (
	reasonUnhealthy    = "Unhealthy"
	reasonProbeWarning = "ProbeWarning"
)

// maxProbeAttempts is how often a probe that errors (cannot be run) is tried
// within one period before the period's attempt is given up, as upstream.
const maxProbeAttempts = 3

// prober runs one probe attempt of any kind.
type prober struct {
	exec      ExecRunner
	transport *http.Transport
	userAgent string
}

func newProber(exec ExecRunner) *prober {
	return &prober{
		exec:      exec,
		transport: newProbeTransport(),
		userAgent: probeUserAgent(version.KubernetesVersion),
	}
}

// probeUserAgent is upstream's "kube-probe/<major>.<minor>" for a version
// like "v1.36.4".
func probeUserAgent(kubernetesVersion string) string {
	parts := strings.SplitN(strings.TrimPrefix(kubernetesVersion, "v"), ".", 3)
	if len(parts) < 2 {
		return "kube-probe"
	}
	return "kube-probe/" + parts[0] + "." + parts[1]
}

// probe runs the probe, trying again at once while it errors.
func (p *prober) probe(ctx context.Context, kind probeKind, spec *corev1.Probe, pod *corev1.Pod, status *corev1.PodStatus, c *corev1.Container, containerID string) (outcome, string, error) {
	var (
		res    outcome
		output string
		err    error
	)
	for range maxProbeAttempts {
		res, output, err = p.probeOnce(ctx, spec, pod, status, c, containerID)
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	return res, output, err
}

func (p *prober) probeOnce(ctx context.Context, spec *corev1.Probe, pod *corev1.Pod, status *corev1.PodStatus, c *corev1.Container, containerID string) (outcome, string, error) {
	timeout := time.Duration(spec.TimeoutSeconds) * time.Second
	switch {
	case spec.Exec != nil:
		return p.probeExec(ctx, containerID, expandCommand(spec.Exec.Command, c.Env), timeout)
	case spec.HTTPGet != nil:
		return p.probeHTTP(ctx, spec.HTTPGet, c, status.PodIP, timeout)
	case spec.TCPSocket != nil:
		port, err := resolveContainerPort(spec.TCPSocket.Port, c)
		if err != nil {
			return outcomeUnknown, "", err
		}
		host := spec.TCPSocket.Host
		if host == "" {
			host = status.PodIP
		}
		return probeTCP(ctx, host, port, timeout)
	case spec.GRPC != nil:
		service := ""
		if spec.GRPC.Service != nil {
			service = *spec.GRPC.Service
		}
		return p.probeGRPC(ctx, status.PodIP, int(spec.GRPC.Port), service, timeout)
	}
	// The error text is upstream's: it ends up in the Unhealthy event.
	return outcomeUnknown, "", fmt.Errorf("missing probe handler for %s_%s(%s):%s", pod.Name, pod.Namespace, pod.UID, c.Name)
}

// report logs a probe attempt and records upstream's event for it: an error
// or a failure as Unhealthy, a success with a warning (an unfollowed
// redirect) as ProbeWarning.
func (m *Manager) report(w *worker, pod *corev1.Pod, res outcome, output string, err error) {
	log := m.log.With("pod", pod.Namespace+"/"+pod.Name, "container", w.container.Name, "probe", w.key.kind.String())
	switch {
	case err != nil:
		log.Debug("probe errored", "result", string(res), "error", err)
		m.event(pod, w, reasonUnhealthy, "%s probe errored and resulted in %s state: %s", w.key.kind, res, err)
	case res == outcomeSuccess:
		log.Debug("probe succeeded")
	case res == outcomeWarning:
		log.Debug("probe succeeded with a warning", "output", output)
		m.event(pod, w, reasonProbeWarning, "%s probe warning: %s", w.key.kind, output)
	case res == outcomeFailure:
		log.Debug("probe failed", "output", output)
		m.event(pod, w, reasonUnhealthy, "%s probe failed: %s", w.key.kind, output)
	default:
		log.Debug("probe result unknown", "output", output)
	}
}

func (m *Manager) event(pod *corev1.Pod, w *worker, reason, format string, args ...any) {
	if m.recorder == nil {
		return
	}
	m.recorder.Eventf(containerRef(pod, &w.container, w.init), corev1.EventTypeWarning, reason, format, args...)
}

// containerRef is the event's involved object as upstream's kubelet makes
// it: the pod, with the container as field path, so that kubectl describe
// lists the event under the pod.
func containerRef(pod *corev1.Pod, c *corev1.Container, init bool) *corev1.ObjectReference {
	field := "spec.containers{" + c.Name + "}"
	if init {
		field = "spec.initContainers{" + c.Name + "}"
	}
	return &corev1.ObjectReference{
		Kind:            "Pod",
		APIVersion:      "v1",
		Namespace:       pod.Namespace,
		Name:            pod.Name,
		UID:             pod.UID,
		ResourceVersion: pod.ResourceVersion,
		FieldPath:       field,
	}
}
