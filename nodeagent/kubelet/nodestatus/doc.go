// Package nodestatus is the kubelet's side of the Node object: it registers
// the node with the API server, keeps the node's Lease in kube-node-lease
// renewed, and posts the node's status (addresses, capacity, system info and
// conditions) as upstream's kubelet does, so that kubectl, the scheduler and
// the node lifecycle controller read a kindish node exactly as they read a
// kubeadm one.
//
// Readiness comes from the container runtime: the node is Ready only while
// the CRI Status call reports RuntimeReady and NetworkReady, and the pod
// workers ask the Manager the same question before starting a pod that needs
// the pod network.
package nodestatus
