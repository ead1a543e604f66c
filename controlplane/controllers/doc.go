// Package controllers is kindish's kube-controller-manager, run as the
// static pod kube-controller-manager with kubeadm's flags. It elects a
// leader through the Lease kube-system/kube-controller-manager, and the
// leader runs the enabled controllers of its table (KnownControllers) on
// one shared informer factory, each acting as its own ServiceAccount
// kube-system/<account> when --use-service-account-credentials is set, as
// upstream does, so that RBAC's system:controller:* roles apply. It serves
// /healthz, /livez, /readyz and /metrics over HTTPS on 127.0.0.1:10257
// with a self-signed certificate kept in memory.
//
// Each controller lives in a package of its own below this one; this
// package holds only the manager and the table that wires them in.
package controllers
