// Package auth holds the API server's authentication and authorization, one
// idea per package, each mirroring the upstream code it stands in for:
//
//	user             who made a request (k8s.io/apiserver authentication/user)
//	serviceaccount   ServiceAccount identities and their ES256 JWTs: issue
//	                 (TokenRequest), verify (bound and legacy tokens)
//	authn            request authenticators: client certificates, bearer
//	                 tokens, anonymous health checks; TokenReview
//	authz            authorization attributes, decisions, the union and
//	                 system:masters authorizers, Forbidden messages, access
//	                 and rules reviews
//	rbac             the RBAC authorizer over a subject-indexed policy store
//	bootstrappolicy  the default ClusterRoles, Roles and their bindings
//	impersonation    Impersonate-* headers, authorized per upstream
//
// The packages read the cluster's objects through small interfaces declared
// where they are consumed (serviceaccount.Getter, rbac.Store's event
// methods), which the API server feeds from its watch cache. New assembles
// them as kubeadm configures kube-apiserver.
package auth
