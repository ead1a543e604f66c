// Package kuberuntime turns pods into CRI calls, as upstream's
// pkg/kubelet/kuberuntime does: it builds sandbox and container configs
// (labels and annotations included, so that a restarted kubelet recognises
// what it started), pulls images with back-off, decides what a pod needs
// next (computePodActions), carries that out (SyncPod), kills pods with
// their preStop hooks and grace periods, and reads a pod's state back from
// the runtime.
//
// It keeps no pod state of its own beyond the image-pull and crash-loop
// back-offs: everything else is read from the runtime on each call, so the
// runtime is the record and a new Manager over a running node changes
// nothing.
package kuberuntime
