// Package manifests renders the static pod manifests of a control-plane
// node's components (etcd, kube-apiserver, kube-scheduler,
// kube-controller-manager), which kindish writes into the node's
// /etc/kubernetes/manifests for its kubelet to run. They follow kubeadm's:
// same file and pod names, labels, flags, volumes, probes and requests, so
// that the node reads like a kubeadm node to kubectl and to people. Each
// command is the component's entrypoint in its kindish image.
package manifests

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kindish/kindish/images"
)

// The manifests' file names, as kubeadm's: <component>.yaml.
const (
	EtcdFile                  = "etcd.yaml"
	KubeAPIServerFile         = "kube-apiserver.yaml"
	KubeSchedulerFile         = "kube-scheduler.yaml"
	KubeControllerManagerFile = "kube-controller-manager.yaml"
)

// Defaults of the Params fields that have one: kind's and kubeadm's.
const (
	DefaultAPIServerPort = 6443
	DefaultServiceCIDR   = "10.96.0.0/16"
	DefaultPodCIDR       = "10.244.0.0/16"
)

// Params describe the control-plane node the manifests are for.
type Params struct {
	// NodeName is the node's name: etcd's member name.
	NodeName string
	// NodeIP is the node's address on the cluster network, advertised by
	// the API server and etcd's peer URL.
	NodeIP string
	// APIServerPort is the API server's secure port (DefaultAPIServerPort
	// when zero).
	APIServerPort int32
	// ServiceCIDR is the range of Service cluster IPs (DefaultServiceCIDR
	// when empty).
	ServiceCIDR string
	// PodCIDR is the cluster's pod range, from which the controller
	// manager gives each node a /24 (DefaultPodCIDR when empty).
	PodCIDR string
	// ClusterName is the controller manager's --cluster-name.
	ClusterName string

	// The components' images; each defaults to the kindish image of its
	// component (images.Etcd.Image() and so on).
	EtcdImage                  string
	KubeAPIServerImage         string
	KubeSchedulerImage         string
	KubeControllerManagerImage string

	// ExtraArgs are flags added to the components' commands, from the
	// config file's kubeadm patches.
	ExtraArgs ExtraArgs
}

// withDefaults fills the fields that have a default.
func (p Params) withDefaults() Params {
	if p.APIServerPort == 0 {
		p.APIServerPort = DefaultAPIServerPort
	}
	if p.ServiceCIDR == "" {
		p.ServiceCIDR = DefaultServiceCIDR
	}
	if p.PodCIDR == "" {
		p.PodCIDR = DefaultPodCIDR
	}
	if p.EtcdImage == "" {
		p.EtcdImage = images.Etcd.Image()
	}
	if p.KubeAPIServerImage == "" {
		p.KubeAPIServerImage = images.KubeAPIServer.Image()
	}
	if p.KubeSchedulerImage == "" {
		p.KubeSchedulerImage = images.KubeScheduler.Image()
	}
	if p.KubeControllerManagerImage == "" {
		p.KubeControllerManagerImage = images.KubeControllerManager.Image()
	}
	return p
}

func (p Params) validate() error {
	var errs []error
	if p.NodeName == "" {
		errs = append(errs, errors.New("no node name"))
	}
	if _, err := netip.ParseAddr(p.NodeIP); err != nil {
		errs = append(errs, fmt.Errorf("node IP: %w", err))
	}
	if p.APIServerPort < 1 || p.APIServerPort > 65535 {
		errs = append(errs, fmt.Errorf("API server port %d: not a TCP port", p.APIServerPort))
	}
	if _, err := netip.ParsePrefix(p.ServiceCIDR); err != nil {
		errs = append(errs, fmt.Errorf("service CIDR: %w", err))
	}
	if _, err := netip.ParsePrefix(p.PodCIDR); err != nil {
		errs = append(errs, fmt.Errorf("pod CIDR: %w", err))
	}
	if p.ClusterName == "" {
		errs = append(errs, errors.New("no cluster name"))
	}
	// The config file's checks have caught these already; a manifest with
	// an unknown flag must still never be written, since its component
	// would only exit and restart.
	for _, component := range slices.Sorted(maps.Keys(p.ExtraArgs)) {
		for _, name := range slices.Sorted(maps.Keys(p.ExtraArgs[component])) {
			if err := CheckFlag(component, name); err != nil {
				errs = append(errs, fmt.Errorf("extra args: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// ControlPlane renders the four control-plane manifests for p, by file
// name. The output depends on p alone.
func ControlPlane(p Params) (map[string][]byte, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("control-plane manifests: %w", err)
	}
	pods := map[string]*corev1.Pod{
		EtcdFile:                  etcdPod(p),
		KubeAPIServerFile:         apiServerPod(p),
		KubeSchedulerFile:         schedulerPod(p),
		KubeControllerManagerFile: controllerManagerPod(p),
	}
	files := make(map[string][]byte, len(pods))
	for file, pod := range pods {
		// sigs.k8s.io/yaml goes through JSON and sorts keys: the same
		// pod is always the same bytes.
		data, err := yaml.Marshal(pod)
		if err != nil {
			return nil, fmt.Errorf("encode manifest %s: %w", file, err)
		}
		files[file] = data
	}
	return files, nil
}
