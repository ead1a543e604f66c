package serviceaccount

import (
	"errors"
	"strings"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"

	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

// Names and Extra keys of ServiceAccount users, as upstream.
const (
	UsernamePrefix          = "system:serviceaccount:"
	usernameSeparator       = ":"
	GroupPrefix             = "system:serviceaccounts:"
	AllServiceAccountsGroup = "system:serviceaccounts"

	PodNameKey  = "authentication.kubernetes.io/pod-name"
	PodUIDKey   = "authentication.kubernetes.io/pod-uid"
	NodeNameKey = "authentication.kubernetes.io/node-name"
	NodeUIDKey  = "authentication.kubernetes.io/node-uid"

	// IssuedCredentialIDAuditAnnotationKey is the audit annotation
	// upstream records on TokenRequest with the new token's credential ID.
	IssuedCredentialIDAuditAnnotationKey = "authentication.kubernetes.io/issued-credential-id"
)

// MakeUsername is the user name of ServiceAccount namespace/name.
func MakeUsername(namespace, name string) string {
	return UsernamePrefix + namespace + usernameSeparator + name
}

// MatchesUsername reports whether username is ServiceAccount
// namespace/name, without allocating: RBAC asks it on every request.
func MatchesUsername(namespace, name, username string) bool {
	rest, ok := strings.CutPrefix(username, UsernamePrefix)
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(rest, namespace)
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(rest, usernameSeparator)
	return ok && rest == name
}

var errInvalidUsername = errors.New("Username must be in the form " + MakeUsername("namespace", "name"))

// SplitUsername returns the namespace and name of a ServiceAccount user
// name, or an error if username is not one.
func SplitUsername(username string) (namespace, name string, err error) {
	rest, ok := strings.CutPrefix(username, UsernamePrefix)
	if !ok {
		return "", "", errInvalidUsername
	}
	parts := strings.Split(rest, usernameSeparator)
	if len(parts) != 2 {
		return "", "", errInvalidUsername
	}
	namespace, name = parts[0], parts[1]
	if len(apivalidation.ValidateNamespaceName(namespace, false)) != 0 ||
		len(apivalidation.ValidateServiceAccountName(name, false)) != 0 {
		return "", "", errInvalidUsername
	}
	return namespace, name, nil
}

// MakeGroupNames are the groups every ServiceAccount of namespace is in.
func MakeGroupNames(namespace string) []string {
	return []string{AllServiceAccountsGroup, MakeNamespaceGroupName(namespace)}
}

// MakeNamespaceGroupName is the group of the ServiceAccounts of namespace.
func MakeNamespaceGroupName(namespace string) string {
	return GroupPrefix + namespace
}

// Info is what a verified token says about its holder.
type Info struct {
	Namespace, Name, UID string
	PodName, PodUID      string
	NodeName, NodeUID    string
	// CredentialID is "JTI=<jti>" for tokens that carry an ID.
	CredentialID string
}

// User is the user the token authenticates, with upstream's groups and
// Extra keys. system:authenticated is added by the request authenticator,
// as upstream's group adder does, not here.
func (i *Info) User() *user.User {
	u := &user.User{
		Name:   MakeUsername(i.Namespace, i.Name),
		UID:    i.UID,
		Groups: MakeGroupNames(i.Namespace),
	}
	extra := func(k, v string) {
		if u.Extra == nil {
			u.Extra = make(map[string][]string, 4)
		}
		u.Extra[k] = []string{v}
	}
	if i.PodName != "" && i.PodUID != "" {
		extra(PodNameKey, i.PodName)
		extra(PodUIDKey, i.PodUID)
	}
	if i.CredentialID != "" {
		extra(user.CredentialIDKey, i.CredentialID)
	}
	if i.NodeName != "" {
		extra(NodeNameKey, i.NodeName)
		// The node UID is only known when the node's name is.
		if i.NodeUID != "" {
			extra(NodeUIDKey, i.NodeUID)
		}
	}
	return u
}

// CredentialIDForJTI is the credential ID of a token with ID jti.
func CredentialIDForJTI(jti string) string {
	if jti == "" {
		return ""
	}
	return "JTI=" + jti
}
