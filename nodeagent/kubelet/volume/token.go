package volume

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

const (
	// maxTokenTTL: a token older than this is replaced whatever its
	// lifetime, so that a long-lived token is never kept for long.
	maxTokenTTL = 24 * time.Hour
	// maxTokenJitter spreads the refreshes of many pods over a few seconds.
	maxTokenJitter = 10 * time.Second
	// defaultTokenExpirationSeconds is the API's default for a
	// serviceAccountToken projection.
	defaultTokenExpirationSeconds = 60 * 60
)

// tokenKey identifies one projected token file. The audience and lifetime
// are part of it so that a different request never reuses a token.
type tokenKey struct {
	pod        types.UID
	volume     string
	path       string
	audience   string
	expiration int64
}

// tokenCache requests ServiceAccount tokens bound to pods and decides when
// to replace them, with the rule of upstream's pkg/kubelet/token.
type tokenCache struct {
	client kubernetes.Interface
	clock  clock.PassiveClock
	log    *slog.Logger
	jitter func() time.Duration

	mu      sync.Mutex
	entries map[tokenKey]*authenticationv1.TokenRequest
}

func newTokenCache(client kubernetes.Interface, clk clock.PassiveClock, log *slog.Logger) *tokenCache {
	return &tokenCache{
		client: client,
		clock:  clk,
		log:    log,
		jitter: func() time.Duration {
			return time.Duration(rand.Float64()*maxTokenJitter.Seconds()) * time.Second
		},
		entries: map[tokenKey]*authenticationv1.TokenRequest{},
	}
}

// token returns the token for a projection, from the cache while it is
// fresh, else from a new TokenRequest. When a refresh fails but the cached
// token has not expired, the pod keeps it: a short API outage must not take
// working credentials away.
func (c *tokenCache) token(ctx context.Context, pod *corev1.Pod, volume string, src *corev1.ServiceAccountTokenProjection) (string, error) {
	expiration := int64(defaultTokenExpirationSeconds)
	if src.ExpirationSeconds != nil {
		expiration = *src.ExpirationSeconds
	}
	key := tokenKey{pod: pod.UID, volume: volume, path: src.Path, audience: src.Audience, expiration: expiration}
	sa := serviceAccountOf(pod)

	c.mu.Lock()
	cached := c.entries[key]
	c.mu.Unlock()
	if cached != nil && !c.requiresRefresh(cached) {
		return cached.Status.Token, nil
	}

	fresh, err := c.request(ctx, pod, sa, src.Audience, expiration)
	if err != nil {
		switch {
		case cached == nil:
			return "", fmt.Errorf("failed to fetch token: %w", err)
		case c.expired(cached):
			return "", fmt.Errorf("token %q/%q expired and refresh failed: %w", sa, pod.Namespace, err)
		default:
			c.log.Warn("Couldn't update token", "pod", pod.Namespace+"/"+pod.Name, "volume", volume, "serviceAccount", sa, "err", err)
			return cached.Status.Token, nil
		}
	}
	c.mu.Lock()
	c.entries[key] = fresh
	c.mu.Unlock()
	return fresh.Status.Token, nil
}

func (c *tokenCache) request(ctx context.Context, pod *corev1.Pod, sa, audience string, expiration int64) (*authenticationv1.TokenRequest, error) {
	if c.client == nil {
		return nil, errNoClient
	}
	var audiences []string
	if audience != "" {
		audiences = []string{audience}
	}
	tr := &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			Audiences:         audiences,
			ExpirationSeconds: &expiration,
			BoundObjectRef: &authenticationv1.BoundObjectReference{
				APIVersion: "v1",
				Kind:       "Pod",
				Name:       pod.Name,
				UID:        pod.UID,
			},
		},
	}
	out, err := c.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	if out.Status.Token == "" {
		return nil, fmt.Errorf("token request for service account %q returned no token", sa)
	}
	// The server may leave the lifetime out of its answer; the cache needs it
	// to know when the token was issued.
	if out.Spec.ExpirationSeconds == nil {
		out.Spec.ExpirationSeconds = &expiration
	}
	return out, nil
}

// requiresRefresh is upstream's rule: refresh once 80% of the lifetime has
// passed or the token is older than 24 hours (each less a random jitter), or
// when the clock is before the token's issue time (the clock jumped).
func (c *tokenCache) requiresRefresh(tr *authenticationv1.TokenRequest) bool {
	now := c.clock.Now()
	lifetime := time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
	exp := tr.Status.ExpirationTimestamp.Time
	iat := exp.Add(-lifetime)
	jitter := c.jitter()
	if now.After(iat.Add(maxTokenTTL - jitter)) {
		return true
	}
	if now.After(exp.Add(-lifetime*20/100 - jitter)) {
		return true
	}
	return now.Before(iat)
}

func (c *tokenCache) expired(tr *authenticationv1.TokenRequest) bool {
	return c.clock.Now().After(tr.Status.ExpirationTimestamp.Time)
}

// retain forgets the tokens of pods not in keep; nil keep forgets all.
func (c *tokenCache) retain(keep func(types.UID) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if keep == nil || !keep(k.pod) {
			delete(c.entries, k)
		}
	}
}

// serviceAccountOf is the pod's service account; the API server's
// admission fills it in, but a pod that skipped admission means "default".
func serviceAccountOf(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName != "" {
		return pod.Spec.ServiceAccountName
	}
	if pod.Spec.DeprecatedServiceAccount != "" {
		return pod.Spec.DeprecatedServiceAccount
	}
	return "default"
}
