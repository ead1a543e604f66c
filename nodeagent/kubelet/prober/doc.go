// Package prober runs the kubelet's startup, liveness and readiness probes.
//
// It follows upstream's pkg/kubelet/prober: one worker per (container, probe
// kind) probes on the probe's period and keeps the container's result, keyed
// by container ID, so that a restarted container starts from scratch.
// Readiness and liveness wait for the startup probe to succeed; a failed
// liveness or startup probe is held until the container is replaced. Failures
// are reported as upstream's Warning events (Unhealthy, ProbeWarning) with the
// same messages, because users and kubectl read them.
//
// The pod worker calls UpdatePod after each sync of a pod and reads the
// results back (Readiness, Startup, LivenessFailed, or UpdatePodStatus for the
// whole status); OnChange tells it when a pod must be synced again.
package prober
