package prober

import corev1 "k8s.io/api/core/v1"

// probeKind is one of the three probes a container may declare.
type probeKind int

// The kinds are numbered in the order workers start: startup first, since
// the others wait for it.
const (
	startupProbe probeKind = iota
	readinessProbe
	livenessProbe

	probeKindCount = iota
)

// String is the word upstream's event messages start with.
func (k probeKind) String() string {
	switch k {
	case startupProbe:
		return "Startup"
	case readinessProbe:
		return "Readiness"
	case livenessProbe:
		return "Liveness"
	}
	return "Unknown"
}

func (k probeKind) spec(c *corev1.Container) *corev1.Probe {
	switch k {
	case startupProbe:
		return c.StartupProbe
	case readinessProbe:
		return c.ReadinessProbe
	case livenessProbe:
		return c.LivenessProbe
	}
	return nil
}

// initialResult is the result before the probe has decided: a container is
// not ready until proven ready, is alive until proven dead, and has not
// started until its startup probe says so.
func (k probeKind) initialResult() result {
	switch k {
	case readinessProbe:
		return failure
	case livenessProbe:
		return success
	}
	return unknown
}

// result is what a worker concluded about a container, after thresholds.
type result int

const (
	unknown result = iota
	success
	failure
)

func (r result) String() string {
	switch r {
	case success:
		return "Success"
	case failure:
		return "Failure"
	}
	return "UNKNOWN"
}

// outcome is what one probe attempt observed, before thresholds.
type outcome string

// The outcomes carry upstream's names: "unknown" appears in event messages
// ("... probe errored and resulted in unknown state: ...").
const (
	outcomeSuccess outcome = "success"
	outcomeWarning outcome = "warning"
	outcomeFailure outcome = "failure"
	outcomeUnknown outcome = "unknown"
)
