// Package user is who made a request, as the authenticators found it and
// the authorizers judge it: k8s.io/apiserver's user.Info as a plain struct.
package user

import "slices"

// Well-known user names.
const (
	Anonymous             = "system:anonymous"
	APIServer             = "system:apiserver"
	KubeProxy             = "system:kube-proxy"
	KubeControllerManager = "system:kube-controller-manager"
	KubeScheduler         = "system:kube-scheduler"
)

// Well-known groups.
const (
	// SystemPrivilegedGroup bypasses authorization.
	SystemPrivilegedGroup = "system:masters"
	NodesGroup            = "system:nodes"
	MonitoringGroup       = "system:monitoring"
	AllUnauthenticated    = "system:unauthenticated"
	AllAuthenticated      = "system:authenticated"
)

// Keys of User.Extra that the authenticators set.
const (
	// CredentialIDKey identifies the credential a request used: the
	// certificate's SHA-256 ("X509SHA256=<hex>") or the token's JTI
	// ("JTI=<id>").
	CredentialIDKey = "authentication.kubernetes.io/credential-id"
)

// User is an authenticated identity.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// InGroup reports whether u is a member of group.
func (u *User) InGroup(group string) bool {
	return slices.Contains(u.Groups, group)
}

// NewAnonymous is the user of a request that presented no credentials.
func NewAnonymous() *User {
	return &User{Name: Anonymous, Groups: []string{AllUnauthenticated}}
}
