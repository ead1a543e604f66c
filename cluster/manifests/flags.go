package manifests

import (
	"fmt"
	"slices"

	"github.com/kindish/kindish/images"
)

// ExtraArgs are kubeadm's extraArgs: flags added to the components'
// commands, by component name (images.KubeAPIServer.Name...) and then by
// flag name, without the dashes. A flag the manifest sets as well takes the
// value given here, as kubeadm's extraArgs replace its defaults.
type ExtraArgs map[string]map[string]string

// componentFlags are the flags each component's entrypoint in
// cmd/kindish-node defines (a main package, which cannot be imported). A
// flag the component does not define makes it exit at every start, with
// the reason only in its log, so the config file's extraArgs are checked
// against these lists before anything is created.
// TestComponentFlagsAreTheBinarysOwn keeps them in step with the binary.
var componentFlags = map[string][]string{
	images.Etcd.Name: {
		"advertise-client-urls", "auto-compaction-mode", "auto-compaction-retention", "cert-file",
		"client-cert-auth", "data-dir", "election-timeout", "heartbeat-interval",
		"initial-advertise-peer-urls", "initial-cluster", "initial-cluster-state", "key-file",
		"listen-client-http-urls", "listen-client-urls", "listen-metrics-urls", "listen-peer-urls",
		"log-level", "max-request-bytes", "name", "peer-cert-file", "peer-client-cert-auth",
		"peer-key-file", "peer-trusted-ca-file", "quota-backend-bytes", "snapshot-count",
		"trusted-ca-file",
	},
	images.KubeAPIServer.Name: {
		"advertise-address", "allow-privileged", "authorization-mode", "bind-address",
		"client-ca-file", "delete-collection-workers", "enable-admission-plugins", "enable-bootstrap-token-auth", "etcd-cafile",
		"etcd-certfile", "etcd-keyfile", "etcd-servers", "feature-gates",
		"kubelet-certificate-authority", "kubelet-client-certificate", "kubelet-client-key",
		"kubelet-preferred-address-types", "proxy-client-cert-file", "proxy-client-key-file",
		"requestheader-allowed-names", "requestheader-client-ca-file",
		"requestheader-extra-headers-prefix", "requestheader-group-headers",
		"requestheader-username-headers", "runtime-config", "secure-port", "service-account-issuer",
		"service-account-key-file", "service-account-signing-key-file", "service-cluster-ip-range",
		"tls-cert-file", "tls-private-key-file", "v",
	},
	images.KubeScheduler.Name: {
		"authentication-kubeconfig", "authorization-kubeconfig", "bind-address", "kubeconfig",
		"leader-elect", "secure-port", "v",
	},
	images.KubeControllerManager.Name: {
		"allocate-node-cidrs", "authentication-kubeconfig", "authorization-kubeconfig",
		"bind-address", "client-ca-file", "cluster-cidr", "cluster-name",
		"cluster-signing-cert-file", "cluster-signing-key-file", "controllers", "kubeconfig",
		"leader-elect", "node-cidr-mask-size", "node-monitor-grace-period", "node-monitor-period",
		"node-startup-grace-period", "requestheader-client-ca-file", "root-ca-file", "secure-port",
		"service-account-private-key-file", "service-cluster-ip-range",
		"use-service-account-credentials", "v",
	},
}

// CheckFlag returns an error unless component, a control-plane component
// by name ("kube-controller-manager"), defines the flag --name.
func CheckFlag(component, name string) error {
	flags, ok := componentFlags[component]
	if !ok {
		return fmt.Errorf("unknown control-plane component %q", component)
	}
	if !slices.Contains(flags, name) {
		return fmt.Errorf("unknown flag %q for %s", name, component)
	}
	return nil
}
