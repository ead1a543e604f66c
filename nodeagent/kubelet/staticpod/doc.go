// Package staticpod is the kubelet's file source of static pods and the
// client of their mirror pods, as upstream's pkg/kubelet/config (file.go,
// common.go) and pkg/kubelet/pod (mirror_client.go).
//
// A static pod comes from a manifest in the node's manifest directory
// (/etc/kubernetes/manifests), not from the API server. The kubelet runs it
// on its own and shows it to the cluster through a mirror pod: a copy in
// the API server, marked with the kubernetes.io/config.mirror annotation and
// owned by the Node, which `kubectl get pods -n kube-system` lists as
// etcd-<node>, kube-apiserver-<node> and so on.
//
// Load reads the directory once; Source watches it and hands the complete
// set of static pods to a callback whenever it changes; MirrorClient keeps
// the mirror pods in step with that set.
package staticpod
