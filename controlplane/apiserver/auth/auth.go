package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/kindish/kindish/controlplane/apiserver/auth/authn"
	"github.com/kindish/kindish/controlplane/apiserver/auth/authz"
	"github.com/kindish/kindish/controlplane/apiserver/auth/rbac"
	"github.com/kindish/kindish/controlplane/apiserver/auth/serviceaccount"
)

// Config is what the API server's flags and files say about
// authentication and authorization, as kubeadm configures kube-apiserver.
type Config struct {
	// ServiceAccountKey is sa.key (--service-account-signing-key-file).
	ServiceAccountKey []byte
	// ServiceAccountPublicKeys is sa.pub (--service-account-key-file).
	ServiceAccountPublicKeys []byte
	// Issuer is --service-account-issuer; default
	// https://kubernetes.default.svc.cluster.local.
	Issuer string
	// APIAudiences is --api-audiences; default the issuer.
	APIAudiences []string
	// MaxTokenExpiration is --service-account-max-token-expiration; 0
	// means none.
	MaxTokenExpiration time.Duration
	// TokenCacheTTL is how long a successful token authentication is
	// remembered: 0 means authn.DefaultTokenCacheTTL, as kube-apiserver;
	// negative turns the cache off.
	TokenCacheTTL time.Duration
	// Getter reads ServiceAccounts, Pods, Secrets and Nodes from the
	// watch cache.
	Getter serviceaccount.Getter
	// RBAC is the policy store the watch cache feeds.
	RBAC *rbac.Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Auth is the API server's authentication and authorization.
type Auth struct {
	// Authenticator finds the user of a request: client certificate
	// (verified by the TLS layer, tls.VerifyClientCertIfGiven against the
	// cluster CA), ServiceAccount bearer token, or anonymous on health
	// checks only.
	Authenticator *authn.Authenticator
	// Authorizer is system:masters, then RBAC.
	Authorizer authz.Authorizer
	// Rules answers SelfSubjectRulesReview.
	Rules authz.RuleResolver
	// Tokens verifies bearer tokens, through the token cache.
	Tokens authn.TokenAuthenticator
	// TokenReviews serves tokenreviews.
	TokenReviews *authn.TokenReviewer
	// TokenRequests serves serviceaccounts/token.
	TokenRequests *serviceaccount.TokenRequests
	// Signer signs tokens (the controller manager's legacy token
	// controller signs with the same key).
	Signer *serviceaccount.Signer
}

// New assembles Auth from cfg.
func New(cfg Config) (*Auth, error) {
	if cfg.RBAC == nil || cfg.Getter == nil {
		return nil, errors.New("auth: an RBAC store and a getter are required")
	}
	key, err := serviceaccount.ParsePrivateKey(cfg.ServiceAccountKey)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	pubs, err := serviceaccount.ParsePublicKeys(cfg.ServiceAccountPublicKeys)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	signer, err := serviceaccount.NewSigner(cfg.Issuer, key, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	saTokens, err := serviceaccount.NewAuthenticator(serviceaccount.AuthenticatorConfig{
		Issuers:      []string{signer.Issuer()},
		Keys:         pubs,
		APIAudiences: cfg.APIAudiences,
		Getter:       cfg.Getter,
		Now:          cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	audiences := saTokens.APIAudiences()
	var tokens authn.TokenAuthenticator = saTokens
	switch ttl := cfg.TokenCacheTTL; {
	case ttl == 0:
		tokens = authn.NewCachedTokens(saTokens, authn.DefaultTokenCacheTTL, cfg.Now)
	case ttl > 0:
		tokens = authn.NewCachedTokens(saTokens, ttl, cfg.Now)
	}
	r := rbac.New(cfg.RBAC)
	return &Auth{
		Authenticator: authn.New(&authn.X509{}, tokens),
		Authorizer:    authz.New(r),
		Rules:         r,
		Tokens:        tokens,
		TokenReviews:  &authn.TokenReviewer{Tokens: tokens, APIAudiences: audiences},
		TokenRequests: &serviceaccount.TokenRequests{
			Signer:           signer,
			Getter:           cfg.Getter,
			APIAudiences:     audiences,
			MaxExpiration:    cfg.MaxTokenExpiration,
			ExtendExpiration: true,
		},
		Signer: signer,
	}, nil
}
