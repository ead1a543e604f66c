// Package framework is the scheduling cycle of kindish's kube-scheduler,
// after upstream's scheduler framework: what a pod asks for (PodInfo),
// what a node offers and already holds (NodeInfo), the cluster as one
// attempt sees it (Snapshot), the shapes of filter, score and post-filter
// plugins, and the cycle that composes them into a chosen node or a
// FitError whose message is upstream's, word for word, since users and
// their tests read it in `kubectl describe pod`.
//
// The plugins themselves live in the plugins package; this one knows none
// of them by name.
package framework
