// Package garbagecollector is upstream's garbage collector
// (kube-controller-manager's "garbagecollector" controller): it deletes
// objects whose owners are gone, and carries out the Foreground and Orphan
// deletions the API server asks for with the foregroundDeletion and orphan
// finalizers.
//
// It watches every resource discovery reports as deletable, listable and
// watchable (events excepted, as upstream). An owner reference names its
// owner by uid: a reference whose uid matches no object of that kind and
// name is dangling. A dependent goes once none of its owners is left; a
// dependent that still has a live owner only loses its dangling references.
//
// Upstream keeps its own graph of owners and dependents; here the graph is
// the informers' caches, indexed by owner uid, so there is nothing to keep
// consistent with them.
package garbagecollector
