// Package serviceaccount issues and verifies ServiceAccount tokens as
// kube-apiserver does (kubernetes/pkg/serviceaccount): ES256 JWTs signed with
// the cluster's sa.key.
//
// Two kinds of token are verified. Bound tokens come from the TokenRequest
// API: they carry an issuer, audiences, an expiry and a "kubernetes.io"
// claim naming the ServiceAccount and the Pod, Secret or Node they are bound
// to; they stop working when any of those is deleted or replaced. Legacy
// tokens are the long-lived ones stored in kubernetes.io/service-account-token
// Secrets under the issuer "kubernetes/serviceaccount"; they stop working
// when the Secret goes or no longer holds them.
//
// The JWT code is the small subset these tokens need (compact JWS, ES256
// only) written on crypto/ecdsa, so nothing outside the standard library
// decides what the API server accepts.
package serviceaccount
