package serviceaccount

import (
	"context"
	"crypto/ecdsa"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kindish/kindish/controlplane/apiserver/auth/authn"
)

// InvalidSinceLabelKey marks a legacy token Secret whose token must no
// longer be accepted (set by the legacy token cleaner).
const InvalidSinceLabelKey = "kubernetes.io/legacy-token-invalid-since"

// AuthenticatorConfig configures an Authenticator.
type AuthenticatorConfig struct {
	// Issuers are the accepted "iss" of bound tokens
	// (--service-account-issuer); default DefaultIssuer. Legacy tokens are
	// always accepted under LegacyIssuer.
	Issuers []string
	// Keys verify signatures (--service-account-key-file).
	Keys []*ecdsa.PublicKey
	// APIAudiences are the API server's audiences (--api-audiences): a
	// bound token used against the API server must be issued for one of
	// them. Default: the first issuer, as kube-apiserver defaults it.
	APIAudiences []string
	// Getter reads the objects tokens are bound to; it is required, as
	// upstream's --service-account-lookup=true.
	Getter Getter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Authenticator verifies ServiceAccount tokens.
type Authenticator struct {
	issuers      map[string]bool
	keys         []*ecdsa.PublicKey
	kids         []string
	apiAudiences []string
	getter       Getter
	now          func() time.Time
}

var _ authn.TokenAuthenticator = (*Authenticator)(nil)

// NewAuthenticator builds an Authenticator from cfg.
func NewAuthenticator(cfg AuthenticatorConfig) (*Authenticator, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("service account authenticator: no public keys")
	}
	if cfg.Getter == nil {
		return nil, errors.New("service account authenticator: no getter")
	}
	a := &Authenticator{issuers: map[string]bool{}, keys: cfg.Keys, getter: cfg.Getter, now: cfg.Now}
	issuers := cfg.Issuers
	if len(issuers) == 0 {
		issuers = []string{DefaultIssuer}
	}
	for _, iss := range issuers {
		a.issuers[iss] = true
	}
	a.apiAudiences = cfg.APIAudiences
	if len(a.apiAudiences) == 0 {
		a.apiAudiences = issuers[:1]
	}
	for _, k := range cfg.Keys {
		kid, err := KeyID(k)
		if err != nil {
			return nil, fmt.Errorf("service account authenticator: %w", err)
		}
		a.kids = append(a.kids, kid)
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// APIAudiences are the audiences the API server accepts tokens for.
func (a *Authenticator) APIAudiences() []string { return a.apiAudiences }

// AuthenticateToken verifies token as kube-apiserver's two ServiceAccount
// token authenticators do: a token from another issuer, or not a JWT at
// all, is not ours (ok false, no error); one of ours must carry a valid
// signature, be valid for one of audiences (nil: the API server's), and
// still name existing objects with the UIDs it was issued for.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string, audiences []string) (*authn.Response, bool, error) {
	t, err := parseJWS(token)
	if err != nil {
		return nil, false, nil
	}
	var c parsedClaims
	if err := json.Unmarshal(t.payload, &c); err != nil {
		return nil, false, nil
	}
	legacy := c.Issuer == LegacyIssuer
	if !legacy && !a.issuers[c.Issuer] {
		return nil, false, nil
	}
	if err := t.verify(a.keys, a.kids); err != nil {
		return nil, false, err
	}

	tokenAudiences := []string(c.Audience)
	if len(tokenAudiences) == 0 {
		// Tokens without audiences (legacy ones) are for the API server.
		tokenAudiences = a.apiAudiences
	}
	if audiences == nil {
		audiences = a.apiAudiences
	}
	auds := authn.Intersect(tokenAudiences, audiences)
	if len(auds) == 0 {
		return nil, false, fmt.Errorf("token audiences %q is invalid for the target audiences %q", tokenAudiences, audiences)
	}

	var info *Info
	if legacy {
		info, err = a.validateLegacy(token, &c)
	} else {
		info, err = a.validateBound(&c)
	}
	if err != nil {
		return nil, false, err
	}
	return &authn.Response{User: info.User(), Audiences: auds}, true, nil
}

// validateBound is upstream's validator.Validate.
func (a *Authenticator) validateBound(c *parsedClaims) (*Info, error) {
	now := a.now()
	if err := c.validateTimes(now); err != nil {
		return nil, err
	}
	k := c.Kubernetes
	if k == nil {
		return nil, errors.New("service account token claims could not be validated: no kubernetes.io claim")
	}
	// Objects deleted more than the leeway ago no longer back a token.
	invalidIfDeletedBefore := now.Add(-leeway)
	ns, saRef := k.Namespace, k.ServiceAccount

	sa, err := a.getter.GetServiceAccount(ns, saRef.Name)
	if err != nil {
		return nil, err
	}
	if string(sa.UID) != saRef.UID {
		return nil, fmt.Errorf("service account UID (%s) does not match claim (%s)", sa.UID, saRef.UID)
	}
	if sa.DeletionTimestamp != nil && sa.DeletionTimestamp.Time.Before(invalidIfDeletedBefore) {
		return nil, fmt.Errorf("service account %s/%s has been deleted", ns, saRef.Name)
	}

	if r := k.Secret; r != nil {
		secret, err := a.getter.GetSecret(ns, r.Name)
		if err != nil {
			return nil, errors.New("service account token has been invalidated")
		}
		if string(secret.UID) != r.UID {
			return nil, fmt.Errorf("secret UID (%s) does not match service account secret ref claim (%s)", secret.UID, r.UID)
		}
		if secret.DeletionTimestamp != nil && secret.DeletionTimestamp.Time.Before(invalidIfDeletedBefore) {
			return nil, errors.New("service account token has been invalidated")
		}
	}

	info := &Info{Namespace: ns, Name: saRef.Name, UID: saRef.UID, CredentialID: CredentialIDForJTI(c.ID)}
	if r := k.Pod; r != nil {
		pod, err := a.getter.GetPod(ns, r.Name)
		if err != nil {
			return nil, errors.New("service account token has been invalidated")
		}
		if string(pod.UID) != r.UID {
			return nil, fmt.Errorf("pod UID (%s) does not match service account pod ref claim (%s)", pod.UID, r.UID)
		}
		if pod.DeletionTimestamp != nil && pod.DeletionTimestamp.Time.Before(invalidIfDeletedBefore) {
			return nil, errors.New("service account token has been invalidated")
		}
		info.PodName, info.PodUID = r.Name, r.UID
	}
	if r := k.Node; r != nil {
		if k.Pod != nil {
			// A pod-bound token names its node for information only.
			info.NodeName, info.NodeUID = r.Name, r.UID
		} else {
			node, err := a.getter.GetNode(r.Name)
			if err != nil {
				return nil, errors.New("service account token has been invalidated")
			}
			if string(node.UID) != r.UID {
				return nil, fmt.Errorf("node UID (%s) does not match service account node ref claim (%s)", node.UID, r.UID)
			}
			if node.DeletionTimestamp != nil && node.DeletionTimestamp.Time.Before(invalidIfDeletedBefore) {
				return nil, errors.New("service account token has been invalidated")
			}
			info.NodeName, info.NodeUID = r.Name, r.UID
		}
	}
	return info, nil
}

// validateLegacy is upstream's legacyValidator.Validate with lookup on.
func (a *Authenticator) validateLegacy(token string, c *parsedClaims) (*Info, error) {
	if c.Subject == "" {
		return nil, errors.New("sub claim is missing")
	}
	ns := c.LegacyNamespace
	if ns == "" {
		return nil, errors.New("namespace claim is missing")
	}
	secretName := c.LegacySecretName
	if secretName == "" {
		return nil, errors.New("secretName claim is missing")
	}
	saName := c.LegacyServiceAccountName
	if saName == "" {
		return nil, errors.New("serviceAccountName claim is missing")
	}
	saUID := c.LegacyServiceAccountUID
	if saUID == "" {
		return nil, errors.New("serviceAccountUID claim is missing")
	}
	subjectNS, subjectName, err := SplitUsername(c.Subject)
	if err != nil || subjectNS != ns || subjectName != saName {
		return nil, errors.New("sub claim is invalid")
	}

	secret, err := a.getter.GetSecret(ns, secretName)
	if err != nil || secret.DeletionTimestamp != nil {
		return nil, errors.New("Token has been invalidated")
	}
	if subtle.ConstantTimeCompare(secret.Data[corev1.ServiceAccountTokenKey], []byte(token)) == 0 {
		return nil, errors.New("Token does not match server's copy")
	}
	sa, err := a.getter.GetServiceAccount(ns, saName)
	if err != nil {
		return nil, err
	}
	if sa.DeletionTimestamp != nil {
		return nil, fmt.Errorf("ServiceAccount %s/%s has been deleted", ns, saName)
	}
	if string(sa.UID) != saUID {
		return nil, fmt.Errorf("ServiceAccount UID (%s) does not match claim (%s)", sa.UID, saUID)
	}
	if secret.Labels[InvalidSinceLabelKey] != "" {
		return nil, fmt.Errorf("the token in secret %s/%s for service account %s/%s has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the '%s' label from the secret to temporarily allow use of this token", ns, secretName, ns, saName, InvalidSinceLabelKey)
	}
	return &Info{Namespace: ns, Name: saName, UID: saUID}, nil
}
