package pki

// Where each file lives inside a node. The names are kubeadm's, so that
// static pod manifests and kubelet flags read like a kubeadm cluster's.
const (
	// Dir holds the control plane's certificates and keys.
	Dir = "/etc/kubernetes/pki"
	// EtcdDir holds etcd's own CA and certificates.
	EtcdDir = Dir + "/etcd"
	// KubeletDir holds the kubelet's serving and client certificates.
	KubeletDir = "/var/lib/kubelet/pki"

	CACertPath = Dir + "/ca.crt"
	CAKeyPath  = Dir + "/ca.key"

	APIServerCertPath              = Dir + "/apiserver.crt"
	APIServerKeyPath               = Dir + "/apiserver.key"
	APIServerKubeletClientCertPath = Dir + "/apiserver-kubelet-client.crt"
	APIServerKubeletClientKeyPath  = Dir + "/apiserver-kubelet-client.key"
	APIServerEtcdClientCertPath    = Dir + "/apiserver-etcd-client.crt"
	APIServerEtcdClientKeyPath     = Dir + "/apiserver-etcd-client.key"

	ServiceAccountKeyPath       = Dir + "/sa.key"
	ServiceAccountPublicKeyPath = Dir + "/sa.pub"

	FrontProxyCACertPath     = Dir + "/front-proxy-ca.crt"
	FrontProxyCAKeyPath      = Dir + "/front-proxy-ca.key"
	FrontProxyClientCertPath = Dir + "/front-proxy-client.crt"
	FrontProxyClientKeyPath  = Dir + "/front-proxy-client.key"

	EtcdCACertPath                = EtcdDir + "/ca.crt"
	EtcdCAKeyPath                 = EtcdDir + "/ca.key"
	EtcdServerCertPath            = EtcdDir + "/server.crt"
	EtcdServerKeyPath             = EtcdDir + "/server.key"
	EtcdPeerCertPath              = EtcdDir + "/peer.crt"
	EtcdPeerKeyPath               = EtcdDir + "/peer.key"
	EtcdHealthcheckClientCertPath = EtcdDir + "/healthcheck-client.crt"
	EtcdHealthcheckClientKeyPath  = EtcdDir + "/healthcheck-client.key"

	KubeletServingCertPath = KubeletDir + "/kubelet.crt"
	KubeletServingKeyPath  = KubeletDir + "/kubelet.key"
	// KubeletClientPath holds the kubelet's client certificate followed by
	// its key, in one file, as the kubelet itself writes it after a rotation.
	KubeletClientPath = KubeletDir + "/kubelet-client-current.pem"
)
