package authn

import (
	"context"
	"testing"
	"time"

	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

type countingTokens struct {
	tokens
	calls int
}

func (c *countingTokens) AuthenticateToken(ctx context.Context, token string, audiences []string) (*Response, bool, error) {
	c.calls++
	return c.tokens.AuthenticateToken(ctx, token, audiences)
}

func TestCachedTokens(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	inner := &countingTokens{tokens: tokens{"good": {Name: "sa"}}}
	c := NewCachedTokens(inner, 10*time.Second, func() time.Time { return now })
	ctx := context.Background()
	call := func(token string, auds []string) bool {
		_, ok, _ := c.AuthenticateToken(ctx, token, auds)
		return ok
	}

	if !call("good", nil) || !call("good", nil) || inner.calls != 1 {
		t.Errorf("second use not cached: %d calls", inner.calls)
	}
	if !call("good", []string{"vault"}) || inner.calls != 2 {
		t.Errorf("other audiences shared the entry: %d calls", inner.calls)
	}
	now = now.Add(11 * time.Second)
	if !call("good", nil) || inner.calls != 3 {
		t.Errorf("entry outlived its TTL: %d calls", inner.calls)
	}
	// Failures are asked again every time.
	call("expired", nil)
	call("expired", nil)
	if inner.calls != 5 {
		t.Errorf("failure cached: %d calls", inner.calls)
	}
	inner.tokens["good"] = &user.User{Name: "changed"}
	if resp, _, _ := c.AuthenticateToken(ctx, "good", nil); resp.User.Name != "sa" {
		t.Errorf("cached user = %q", resp.User.Name)
	}
}

func BenchmarkCachedTokenHit(b *testing.B) {
	c := NewCachedTokens(testTokens(), time.Minute, nil)
	ctx := context.Background()
	c.AuthenticateToken(ctx, "good", nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, _ := c.AuthenticateToken(ctx, "good", nil); !ok {
			b.Fatal("rejected")
		}
	}
}
