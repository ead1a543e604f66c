package serviceaccount

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Signer issues tokens signed with the cluster's ServiceAccount key.
type Signer struct {
	issuer string
	key    *ecdsa.PrivateKey
	kid    string
	now    func() time.Time
}

// NewSigner signs bound tokens as issuer (DefaultIssuer if empty) with key.
// now is the clock; nil means time.Now.
func NewSigner(issuer string, key *ecdsa.PrivateKey, now func() time.Time) (*Signer, error) {
	if key == nil {
		return nil, errors.New("service account signer: no key")
	}
	if issuer == "" {
		issuer = DefaultIssuer
	}
	if now == nil {
		now = time.Now
	}
	kid, err := KeyID(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("service account signer: %w", err)
	}
	return &Signer{issuer: issuer, key: key, kid: kid, now: now}, nil
}

// Issuer is the "iss" of the bound tokens s signs.
func (s *Signer) Issuer() string { return s.issuer }

// BoundToken describes a token to issue through the TokenRequest API.
type BoundToken struct {
	ServiceAccount *corev1.ServiceAccount
	// At most one of Pod, Secret and Node is the object the token is bound
	// to. A pod-bound token also names the pod's Node when it is given.
	Pod    *corev1.Pod
	Secret *corev1.Secret
	Node   *corev1.Node

	Audiences  []string
	Expiration time.Duration
	// WarnAfter, if set, is recorded as the "warnafter" claim: the time
	// after which a still-accepted token counts as stale.
	WarnAfter time.Duration
}

// Bound signs a bound token and returns it with its credential ID
// ("JTI=<uuid>") for the audit log.
func (s *Signer) Bound(b BoundToken) (token, credentialID string, err error) {
	sa := b.ServiceAccount
	if sa == nil {
		return "", "", errors.New("issue token: no service account")
	}
	if b.Secret != nil && (b.Pod != nil || b.Node != nil) {
		return "", "", errors.New("internal error, token can only be bound to one object type")
	}
	now := s.now()
	jti, err := newUUID()
	if err != nil {
		return "", "", fmt.Errorf("issue token: %w", err)
	}
	c := boundClaims{
		Audience:  b.Audiences,
		Expiry:    newNumericDate(now.Add(b.Expiration)),
		IssuedAt:  newNumericDate(now),
		Issuer:    s.issuer,
		ID:        jti,
		NotBefore: newNumericDate(now),
		Subject:   MakeUsername(sa.Namespace, sa.Name),
		Kubernetes: kubernetesClaim{
			Namespace:      sa.Namespace,
			ServiceAccount: ref{Name: sa.Name, UID: string(sa.UID)},
		},
	}
	switch {
	case b.Pod != nil:
		c.Kubernetes.Pod = &ref{Name: b.Pod.Name, UID: string(b.Pod.UID)}
		if b.Node != nil {
			c.Kubernetes.Node = &ref{Name: b.Node.Name, UID: string(b.Node.UID)}
		}
	case b.Secret != nil:
		c.Kubernetes.Secret = &ref{Name: b.Secret.Name, UID: string(b.Secret.UID)}
	case b.Node != nil:
		c.Kubernetes.Node = &ref{Name: b.Node.Name, UID: string(b.Node.UID)}
	}
	if b.WarnAfter != 0 {
		c.Kubernetes.WarnAfter = newNumericDate(now.Add(b.WarnAfter))
	}
	token, err = sign(s.key, s.kid, c)
	if err != nil {
		return "", "", err
	}
	return token, CredentialIDForJTI(jti), nil
}

// Legacy signs the long-lived token of a kubernetes.io/service-account-token
// Secret, as the controller manager's token controller does; the API server
// accepts it while the Secret holds exactly this token.
func (s *Signer) Legacy(sa *corev1.ServiceAccount, secret *corev1.Secret) (string, error) {
	return sign(s.key, s.kid, legacyClaims{
		Issuer:             LegacyIssuer,
		Namespace:          sa.Namespace,
		SecretName:         secret.Name,
		ServiceAccountName: sa.Name,
		ServiceAccountUID:  string(sa.UID),
		Subject:            MakeUsername(sa.Namespace, sa.Name),
	})
}

// newUUID is a random (version 4) UUID, the form upstream's JTIs take.
func newUUID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", err
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return string(buf[:]), nil
}
