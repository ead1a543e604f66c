// Package pki generates a cluster's certificates and keys on the host and
// lays them out for each node the way kubeadm does under /etc/kubernetes/pki,
// so that component flags read the same as on a kubeadm cluster.
//
// Keys are ECDSA P-256: a whole cluster's PKI is then generated in a few
// milliseconds, where RSA would take seconds.
//
// There are three authorities, as with kubeadm: the cluster CA (everything
// that talks to the API server or the kubelets), the etcd CA (etcd's server,
// peer and client certificates) and the front-proxy CA (the aggregation
// layer's client certificate). Keeping etcd on its own CA means a certificate
// that the API server accepts can never be used to read etcd directly.
package pki
