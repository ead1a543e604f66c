package serviceaccount

import (
	"errors"
	"time"
)

// Upstream's constants for token lifetimes.
const (
	// LegacyIssuer is the issuer of Secret-based tokens.
	LegacyIssuer = "kubernetes/serviceaccount"

	// DefaultIssuer is the issuer kubeadm (and so kind) configures, also
	// the API server's audience by default.
	DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

	// WarnOnlyBoundTokenExpirationSeconds is the lifetime the kubelet asks
	// for projected tokens; with expiration extension on, such tokens stay
	// valid for ExpirationExtensionSeconds and carry "warnafter" instead.
	WarnOnlyBoundTokenExpirationSeconds = 60*60 + 7
	ExpirationExtensionSeconds          = 24 * 365 * 60 * 60

	// leeway is go-jose's DefaultLeeway, which upstream validates with.
	leeway = time.Minute
)

// ref names a bound object in the "kubernetes.io" claim.
type ref struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// kubernetesClaim is the "kubernetes.io" private claim of bound tokens,
// field for field as upstream's privateClaims.
type kubernetesClaim struct {
	Namespace      string       `json:"namespace,omitempty"`
	Node           *ref         `json:"node,omitempty"`
	Pod            *ref         `json:"pod,omitempty"`
	Secret         *ref         `json:"secret,omitempty"`
	ServiceAccount ref          `json:"serviceaccount,omitempty"`
	WarnAfter      *numericDate `json:"warnafter,omitempty"`
}

// boundClaims are written with their keys in the order go-jose writes the
// merged claim map in: sorted.
type boundClaims struct {
	Audience   []string        `json:"aud,omitempty"`
	Expiry     *numericDate    `json:"exp,omitempty"`
	IssuedAt   *numericDate    `json:"iat,omitempty"`
	Issuer     string          `json:"iss,omitempty"`
	ID         string          `json:"jti,omitempty"`
	Kubernetes kubernetesClaim `json:"kubernetes.io"`
	NotBefore  *numericDate    `json:"nbf,omitempty"`
	Subject    string          `json:"sub,omitempty"`
}

// legacyClaims are the claims of Secret-based tokens.
type legacyClaims struct {
	Issuer             string `json:"iss"`
	Namespace          string `json:"kubernetes.io/serviceaccount/namespace"`
	SecretName         string `json:"kubernetes.io/serviceaccount/secret.name"`
	ServiceAccountName string `json:"kubernetes.io/serviceaccount/service-account.name"`
	ServiceAccountUID  string `json:"kubernetes.io/serviceaccount/service-account.uid"`
	Subject            string `json:"sub"`
}

// parsedClaims reads both kinds.
type parsedClaims struct {
	Issuer     string           `json:"iss"`
	Subject    string           `json:"sub"`
	Audience   audience         `json:"aud"`
	Expiry     *numericDate     `json:"exp"`
	NotBefore  *numericDate     `json:"nbf"`
	IssuedAt   *numericDate     `json:"iat"`
	ID         string           `json:"jti"`
	Kubernetes *kubernetesClaim `json:"kubernetes.io"`

	LegacyNamespace          string `json:"kubernetes.io/serviceaccount/namespace"`
	LegacySecretName         string `json:"kubernetes.io/serviceaccount/secret.name"`
	LegacyServiceAccountName string `json:"kubernetes.io/serviceaccount/service-account.name"`
	LegacyServiceAccountUID  string `json:"kubernetes.io/serviceaccount/service-account.uid"`
}

var (
	errExpired           = errors.New("service account token has expired")
	errNotValidYet       = errors.New("service account token is not valid yet")
	errIssuedInTheFuture = errors.New("service account token is issued in the future")
)

// validateTimes is go-jose's Claims.Validate with the default leeway, as
// upstream's validator calls it; each claim is optional.
func (c *parsedClaims) validateTimes(now time.Time) error {
	if c.NotBefore != nil && now.Add(leeway).Before(c.NotBefore.Time()) {
		return errNotValidYet
	}
	if c.Expiry != nil && now.Add(-leeway).After(c.Expiry.Time()) {
		return errExpired
	}
	if c.IssuedAt != nil && now.Add(leeway).Before(c.IssuedAt.Time()) {
		return errIssuedInTheFuture
	}
	return nil
}
