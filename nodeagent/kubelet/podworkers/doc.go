// Package podworkers runs the kubelet's pods: one goroutine per pod UID
// that takes the latest spec, syncs it through the pod runtime
// (kuberuntime), reports the pod's status to the API server, and, once the
// pod is deleted or done, kills it, tears down its volumes and finishes
// its deletion, as upstream's pod workers, status generation and status
// manager (pkg/kubelet/pod_workers.go, kubelet_pods.go, status/) do.
//
// Workers wake when their pod changes, when the prober reports a new
// result (Resync), when a relist of the runtime (PLEG-style, every second)
// sees one of the pod's sandboxes or containers change state, and every
// ten seconds or so regardless. The runtime is the record: a new Workers
// over a running node adopts the pods it finds running and restarts
// nothing.
package podworkers
