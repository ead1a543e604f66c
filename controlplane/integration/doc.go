// Package integration runs kindish's control plane in process, without
// Docker: the API server on an embedded etcd, the scheduler, the
// controller manager, and simulated nodes (a fake kubelet that registers
// its Node, renews its Lease and runs the pods bound to it by status
// updates alone). Its tests, after upstream's test/integration, show the
// workload controllers doing their job together: Deployments roll out,
// update and roll back, a silent node's pods are evicted and replaced, a
// deleted namespace empties, Jobs and CronJobs run, and StatefulSets keep
// their order.
//
// The package holds only tests.
package integration
