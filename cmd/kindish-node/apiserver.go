package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kindish/kindish/controlplane/apiserver"
)

// runAPIServer is a control-plane node's kube-apiserver, run as the static
// pod kube-apiserver. Its flags are upstream's, so the manifest reads like
// kubeadm's; flags that only tune upstream's own machinery are accepted
// and ignored, so that a kubeadm-style manifest runs unchanged.
func runAPIServer(ctx context.Context, args []string) error {
	o := apiserver.RunOptions{BindAddress: "0.0.0.0", SecurePort: 6443, ServiceClusterIPRange: "10.96.0.0/16"}
	fs := flag.NewFlagSet("kube-apiserver", flag.ContinueOnError)
	fs.StringVar(&o.AdvertiseAddress, "advertise-address", "", "the node's IP, published as the kubernetes service's endpoint (required)")
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "address to serve on")
	fs.IntVar(&o.SecurePort, "secure-port", o.SecurePort, "port to serve HTTPS on")
	fs.StringVar(&o.TLSCertFile, "tls-cert-file", "", "serving certificate")
	fs.StringVar(&o.TLSKeyFile, "tls-private-key-file", "", "serving certificate's key")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", "", "CA that signs client certificates")
	etcdServers := fs.String("etcd-servers", "https://127.0.0.1:2379", "comma-separated etcd client URLs")
	fs.StringVar(&o.EtcdCAFile, "etcd-cafile", "", "CA of etcd's serving certificate")
	fs.StringVar(&o.EtcdCertFile, "etcd-certfile", "", "client certificate for etcd")
	fs.StringVar(&o.EtcdKeyFile, "etcd-keyfile", "", "client certificate's key for etcd")
	fs.StringVar(&o.ServiceClusterIPRange, "service-cluster-ip-range", o.ServiceClusterIPRange, "CIDR of service ClusterIPs")
	fs.StringVar(&o.ServiceAccountKeyFile, "service-account-key-file", "", "public key(s) that verify ServiceAccount tokens")
	fs.StringVar(&o.ServiceAccountSigningKeyFile, "service-account-signing-key-file", "", "private key that signs ServiceAccount tokens")
	fs.StringVar(&o.ServiceAccountIssuer, "service-account-issuer", apiserver.DefaultIssuer, "issuer of ServiceAccount tokens")
	fs.StringVar(&o.KubeletClientCertFile, "kubelet-client-certificate", "", "client certificate for the kubelets' API")
	fs.StringVar(&o.KubeletClientKeyFile, "kubelet-client-key", "", "client certificate's key for the kubelets' API")
	fs.StringVar(&o.KubeletCAFile, "kubelet-certificate-authority", "", "CA of the kubelets' serving certificates (default: --client-ca-file)")
	addressTypes := fs.String("kubelet-preferred-address-types", "Hostname,InternalDNS,InternalIP,ExternalDNS,ExternalIP", "node address types to reach kubelets by, in order")
	fs.IntVar(&o.DeleteCollectionWorkers, "delete-collection-workers", apiserver.DefaultDeleteCollectionWorkers, "how many objects a deletecollection request deletes at once")
	logLevel := fs.String("v", "0", "log verbosity: 0 warnings, 1 info, 2 and more debug")
	for _, name := range []string{
		"allow-privileged", "authorization-mode", "enable-admission-plugins", "enable-bootstrap-token-auth",
		"proxy-client-cert-file", "proxy-client-key-file", "requestheader-allowed-names",
		"requestheader-client-ca-file", "requestheader-extra-headers-prefix", "requestheader-group-headers",
		"requestheader-username-headers", "runtime-config", "feature-gates",
	} {
		fs.String(name, "", "accepted for kubeadm-style manifests; kindish's server has no such setting")
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: kube-apiserver [flags]\n\nThe Kubernetes API over etcd: TLS, client certificates or ServiceAccount tokens, RBAC.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.DeleteCollectionWorkers < 1 {
		return fmt.Errorf("--delete-collection-workers: %d: must be at least 1", o.DeleteCollectionWorkers)
	}
	o.EtcdServers = strings.Split(*etcdServers, ",")
	for _, t := range strings.Split(*addressTypes, ",") {
		switch t := corev1.NodeAddressType(strings.TrimSpace(t)); t {
		case corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeInternalIP, corev1.NodeExternalDNS, corev1.NodeExternalIP:
			o.KubeletAddressTypes = append(o.KubeletAddressTypes, t)
		default:
			return fmt.Errorf("--kubelet-preferred-address-types: unknown address type %q", t)
		}
	}
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevelOf(*logLevel)}))
	return apiserver.Run(ctx, o)
}
