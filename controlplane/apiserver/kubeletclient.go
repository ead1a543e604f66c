package apiserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kindish/kindish/controlplane/apiserver/subresource"
)

// defaultKubeletPort is where a kubelet serves when its node does not say.
const defaultKubeletPort = 10250

// kubeletAddressTypes is upstream's default
// --kubelet-preferred-address-types order.
var kubeletAddressTypes = []corev1.NodeAddressType{
	corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeInternalIP, corev1.NodeExternalDNS, corev1.NodeExternalIP,
}

// KubeletClientConfig is how the API server reaches kubelets: with its
// kubelet client certificate, trusting kubelets whose serving certificate
// the CA signed.
type KubeletClientConfig struct {
	CertFile, KeyFile string
	// CAFile verifies the kubelets' serving certificates. Upstream skips
	// that check when no CA is given; kindish's kubelets all hold
	// certificates from the cluster CA, so the check is always made.
	CAFile string
	// AddressTypes orders the node addresses tried; nil is upstream's
	// default.
	AddressTypes []corev1.NodeAddressType
}

type kubeletClient struct {
	transport    http.RoundTripper
	addressTypes []corev1.NodeAddressType
}

// NewKubeletClient returns the dialer behind pods/log, exec, attach,
// portforward and nodes/proxy.
func NewKubeletClient(cfg KubeletClientConfig) (subresource.KubeletDialer, error) {
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("--kubelet-client-certificate/--kubelet-client-key: %w", err)
	}
	pool, err := certPool(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("kubelet certificate authority: %w", err)
	}
	types := cfg.AddressTypes
	if len(types) == 0 {
		types = kubeletAddressTypes
	}
	return &kubeletClient{
		// HTTP/1.1 only: exec, attach and port-forward are connection
		// upgrades, which HTTP/2 cannot carry.
		transport: &http.Transport{
			TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12},
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 10,
			IdleConnTimeout:     90 * time.Second,
		},
		addressTypes: types,
	}, nil
}

// DialKubelet picks the node's first address in preference order and the
// port its kubelet published in status.daemonEndpoints.
func (k *kubeletClient) DialKubelet(_ context.Context, node *corev1.Node) (*url.URL, http.RoundTripper, error) {
	host, err := preferredAddress(node, k.addressTypes)
	if err != nil {
		return nil, nil, err
	}
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port <= 0 {
		port = defaultKubeletPort
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(port))}, k.transport, nil
}

func preferredAddress(node *corev1.Node, types []corev1.NodeAddressType) (string, error) {
	for _, t := range types {
		for _, a := range node.Status.Addresses {
			if a.Type == t && a.Address != "" {
				return a.Address, nil
			}
		}
	}
	return "", fmt.Errorf("node %q has no address of the preferred types %v", node.Name, types)
}
