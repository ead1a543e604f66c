// Package scheduler is kindish's kube-scheduler, run as the kube-scheduler
// static pod on control-plane nodes. It is a client of the API server
// only: informers feed a cache of nodes and their pods and a queue of the
// pods that need a node; one pod at a time is filtered and scored against
// a snapshot of the cache (the framework and plugins packages), assumed on
// the chosen node at once, and bound through the pods/binding subresource
// in the background. It reports as upstream does: Scheduled and
// FailedScheduling events, the PodScheduled condition, Prometheus metrics
// under upstream's names, health endpoints for kubeadm's probes, and a
// kube-system/kube-scheduler Lease so that only one of several copies
// schedules.
package scheduler
