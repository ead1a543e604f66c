// Package version holds the versions kindish reports: its own, and the
// Kubernetes API version its components speak.
package version

// Version is the kindish release. Node and component images are tagged with it.
const Version = "0.1.0"

// KubernetesVersion is the Kubernetes release whose API kindish serves and
// whose version its kubelets report (the k8s.io modules it is built against).
const KubernetesVersion = "v1.36.4"
