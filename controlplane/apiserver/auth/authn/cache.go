package authn

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"hash"
	"io"
	"sync"
	"time"
)

// DefaultTokenCacheTTL is how long kube-apiserver remembers a successful
// token authentication (its TokenSuccessCacheTTL).
const DefaultTokenCacheTTL = 10 * time.Second

// maxCachedTokens bounds the cache; past it, expired entries are dropped,
// and if none have, everything is.
const maxCachedTokens = 8192

// CachedTokens remembers successful authentications for a while, as
// kube-apiserver's token cache in front of its token authenticators:
// verifying a ServiceAccount token costs an ECDSA verification (about a
// hundred microseconds) and a few lookups, and clients send the same token
// on every request. The price, as upstream, is that a token whose
// ServiceAccount or Pod was just deleted keeps working until its entry
// expires. Failures are not cached.
type CachedTokens struct {
	tokens TokenAuthenticator
	ttl    time.Duration
	now    func() time.Time
	// hmacKey keys the cache by a MAC of the token, so that the tokens
	// themselves are not kept in memory longer than the request.
	hmacKey [32]byte

	macs sync.Pool // of hash.Hash, HMAC-SHA256 keyed with hmacKey

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cachedToken
}

type cachedToken struct {
	resp    *Response
	expires time.Time
}

// NewCachedTokens caches the successes of tokens for ttl; now is the
// clock, nil meaning time.Now.
func NewCachedTokens(tokens TokenAuthenticator, ttl time.Duration, now func() time.Time) *CachedTokens {
	if now == nil {
		now = time.Now
	}
	c := &CachedTokens{tokens: tokens, ttl: ttl, now: now, entries: map[[sha256.Size]byte]cachedToken{}}
	if _, err := rand.Read(c.hmacKey[:]); err != nil {
		panic("authn: no randomness for the token cache key: " + err.Error())
	}
	c.macs.New = func() any { return hmac.New(sha256.New, c.hmacKey[:]) }
	return c
}

// AuthenticateToken implements TokenAuthenticator.
func (c *CachedTokens) AuthenticateToken(ctx context.Context, token string, audiences []string) (*Response, bool, error) {
	key := c.keyOf(token, audiences)
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.resp, true, nil
	}
	resp, ok, err := c.tokens.AuthenticateToken(ctx, token, audiences)
	if !ok {
		return resp, ok, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedTokens {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCachedTokens {
			clear(c.entries)
		}
	}
	c.entries[key] = cachedToken{resp: resp, expires: now.Add(c.ttl)}
	return resp, true, nil
}

// keyOf MACs the audiences and the token; the audiences take part
// because a token may be valid for some and not others.
func (c *CachedTokens) keyOf(token string, audiences []string) [sha256.Size]byte {
	m := c.macs.Get().(hash.Hash)
	defer c.macs.Put(m)
	m.Reset()
	if audiences == nil {
		m.Write([]byte{0})
	}
	for _, a := range audiences {
		m.Write([]byte{1})
		io.WriteString(m, a)
	}
	m.Write([]byte{2})
	io.WriteString(m, token)
	var key [sha256.Size]byte
	m.Sum(key[:0])
	return key
}
