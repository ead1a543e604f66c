// Package namespace is upstream's namespace controller: a namespace that
// is being deleted (Terminating, with the "kubernetes" finalizer in
// spec.finalizers) has all its content deleted, pods first, its status
// conditions kept as upstream's, and once nothing is left the finalizer
// is removed through namespaces/finalize, after which the API server
// deletes the namespace.
//
// Pods with a grace period are not forced: the controller comes back
// after about half the longest grace period, as upstream, and the
// kubelets finish their deletion meanwhile.
package namespace
