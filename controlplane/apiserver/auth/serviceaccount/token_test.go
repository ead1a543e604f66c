package serviceaccount

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

func TestBoundTokenAuthenticatesItsServiceAccount(t *testing.T) {
	f := newFixture(t)
	resp, ok, err := f.auth.AuthenticateToken(context.Background(), f.podToken(t), nil)
	if err != nil || !ok {
		t.Fatalf("AuthenticateToken: ok=%v err=%v", ok, err)
	}
	u := resp.User
	if u.Name != "system:serviceaccount:default:builder" || u.UID != "sa-uid" {
		t.Errorf("user = %q uid %q", u.Name, u.UID)
	}
	if want := []string{"system:serviceaccounts", "system:serviceaccounts:default"}; !slices.Equal(u.Groups, want) {
		t.Errorf("groups = %q, want %q", u.Groups, want)
	}
	wantExtra := []string{PodNameKey, PodUIDKey, NodeNameKey, NodeUIDKey, user.CredentialIDKey}
	slices.Sort(wantExtra)
	if got := slices.Sorted(maps.Keys(u.Extra)); !slices.Equal(got, wantExtra) {
		t.Errorf("extra keys = %q, want %q", got, wantExtra)
	}
	if u.Extra[PodNameKey][0] != "web-1" || u.Extra[PodUIDKey][0] != "pod-uid" ||
		u.Extra[NodeNameKey][0] != "kindish-worker" || u.Extra[NodeUIDKey][0] != "node-uid" {
		t.Errorf("extra = %v", u.Extra)
	}
	if id := u.Extra[user.CredentialIDKey][0]; !strings.HasPrefix(id, "JTI=") || len(id) != len("JTI=")+36 {
		t.Errorf("credential id = %q", id)
	}
	if !slices.Equal(resp.Audiences, []string{DefaultIssuer}) {
		t.Errorf("audiences = %q", resp.Audiences)
	}
}

// The token's header and claims are those of upstream's bound tokens, so
// that anything decoding them (the kubelet, OIDC consumers, people) reads
// them as on a kubeadm cluster.
func TestBoundTokenClaimsAreUpstreams(t *testing.T) {
	f := newFixture(t)
	parts := strings.Split(f.podToken(t), ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	var header map[string]any
	decodePart(t, parts[0], &header)
	kid, _ := KeyID(&f.signer.key.PublicKey)
	if !reflect.DeepEqual(header, map[string]any{"alg": "ES256", "kid": kid}) {
		t.Errorf("header = %v", header)
	}
	var claims map[string]any
	decodePart(t, parts[1], &claims)
	want := map[string]any{
		"aud": []any{DefaultIssuer},
		"exp": float64(testNow.Add(time.Hour).Unix()),
		"iat": float64(testNow.Unix()),
		"nbf": float64(testNow.Unix()),
		"iss": DefaultIssuer,
		"jti": claims["jti"],
		"sub": "system:serviceaccount:default:builder",
		"kubernetes.io": map[string]any{
			"namespace":      "default",
			"serviceaccount": map[string]any{"name": "builder", "uid": "sa-uid"},
			"pod":            map[string]any{"name": "web-1", "uid": "pod-uid"},
			"node":           map[string]any{"name": "kindish-worker", "uid": "node-uid"},
		},
	}
	if !reflect.DeepEqual(claims, want) {
		t.Errorf("claims =\n%v\nwant\n%v", claims, want)
	}
	if sig, _ := base64.RawURLEncoding.DecodeString(parts[2]); len(sig) != 64 {
		t.Errorf("signature is %d bytes, want 64 (r||s)", len(sig))
	}
}

func decodePart(t *testing.T, part string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestBoundTokenRejections(t *testing.T) {
	tests := []struct {
		name string
		// change alters the world after the token is issued; token
		// replaces it.
		change  func(f *fixture)
		token   func(t *testing.T, f *fixture) string
		auds    []string
		wantErr string
	}{
		{
			name:    "expired beyond the leeway",
			change:  func(f *fixture) { f.now = f.now.Add(time.Hour + 61*time.Second) },
			wantErr: "service account token has expired",
		},
		{
			name:    "not yet valid beyond the leeway",
			change:  func(f *fixture) { f.now = f.now.Add(-61 * time.Second) },
			wantErr: "service account token is not valid yet",
		},
		{
			name:    "for another audience",
			auds:    []string{"vault"},
			wantErr: `token audiences ["https://kubernetes.default.svc.cluster.local"] is invalid for the target audiences ["vault"]`,
		},
		{
			name: "signed with another key",
			token: func(t *testing.T, f *fixture) string {
				s, _ := NewSigner("", otherKey(t), func() time.Time { return f.now })
				tok, _, _ := s.Bound(BoundToken{ServiceAccount: testServiceAccount(), Audiences: []string{DefaultIssuer}, Expiration: time.Hour})
				return tok
			},
			wantErr: "token signature is invalid",
		},
		{
			name: "claims altered after signing",
			token: func(t *testing.T, f *fixture) string {
				parts := strings.Split(f.podToken(t), ".")
				b, _ := base64.RawURLEncoding.DecodeString(parts[1])
				b = []byte(strings.Replace(string(b), `"name":"builder"`, `"name":"admin"`, 1))
				return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
			},
			wantErr: "token signature is invalid",
		},
		{
			name: "unsigned (alg none)",
			token: func(t *testing.T, f *fixture) string {
				parts := strings.Split(f.podToken(t), ".")
				return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
			},
			wantErr: `token signing algorithm "none" is not ES256`,
		},
		{
			name:    "service account deleted",
			change:  func(f *fixture) { delete(f.getter.serviceAccounts, "default/builder") },
			wantErr: `serviceaccount "builder" not found`,
		},
		{
			name: "service account recreated",
			change: func(f *fixture) {
				sa := testServiceAccount()
				sa.UID = "new-sa-uid"
				f.getter.add(sa)
			},
			wantErr: "service account UID (new-sa-uid) does not match claim (sa-uid)",
		},
		{
			name: "service account being deleted for longer than the leeway",
			change: func(f *fixture) {
				sa := testServiceAccount()
				sa.DeletionTimestamp = &metav1.Time{Time: f.now}
				f.getter.add(sa)
				f.now = f.now.Add(2 * time.Minute)
			},
			wantErr: "service account default/builder has been deleted",
		},
		{
			name:    "pod deleted",
			change:  func(f *fixture) { delete(f.getter.pods, "default/web-1") },
			wantErr: "service account token has been invalidated",
		},
		{
			name: "pod recreated",
			change: func(f *fixture) {
				p := testPod()
				p.UID = "new-pod-uid"
				f.getter.add(p)
			},
			wantErr: "pod UID (new-pod-uid) does not match service account pod ref claim (pod-uid)",
		},
		{
			name: "secret-bound token whose secret was recreated",
			token: func(t *testing.T, f *fixture) string {
				secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "s", UID: "old"}}
				tok, _, _ := f.signer.Bound(BoundToken{ServiceAccount: testServiceAccount(), Secret: secret, Audiences: []string{DefaultIssuer}, Expiration: time.Hour})
				secret = secret.DeepCopy()
				secret.UID = "new"
				f.getter.add(secret)
				return tok
			},
			wantErr: "secret UID (new) does not match service account secret ref claim (old)",
		},
		{
			name: "node-bound token whose node is gone",
			token: func(t *testing.T, f *fixture) string {
				tok, _, _ := f.signer.Bound(BoundToken{ServiceAccount: testServiceAccount(), Node: testNode(), Audiences: []string{DefaultIssuer}, Expiration: time.Hour})
				delete(f.getter.nodes, "kindish-worker")
				return tok
			},
			wantErr: "service account token has been invalidated",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var tok string
			if tt.token != nil {
				tok = tt.token(t, f)
			} else {
				tok = f.podToken(t)
			}
			if tt.change != nil {
				tt.change(f)
			}
			resp, ok, err := f.auth.AuthenticateToken(context.Background(), tok, tt.auds)
			if ok || resp != nil {
				t.Fatalf("accepted as %v", resp.User)
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestTokensWithinTheLeewayAreAccepted(t *testing.T) {
	for _, shift := range []time.Duration{time.Hour + 59*time.Second, -59 * time.Second} {
		f := newFixture(t)
		tok := f.podToken(t)
		f.now = f.now.Add(shift)
		if _, ok, err := f.auth.AuthenticateToken(context.Background(), tok, nil); !ok {
			t.Errorf("shifted %v: rejected: %v", shift, err)
		}
	}
}

// Tokens that are not ServiceAccount tokens of this cluster are left to
// other authenticators: no error, not ok.
func TestForeignTokensAreNotOurs(t *testing.T) {
	f := newFixture(t)
	foreign, _ := NewSigner("https://accounts.example.com", otherKey(t), func() time.Time { return f.now })
	other, _, _ := foreign.Bound(BoundToken{ServiceAccount: testServiceAccount(), Audiences: []string{DefaultIssuer}, Expiration: time.Hour})
	for name, tok := range map[string]string{
		"other issuer":    other,
		"not a JWT":       "abcdef.0123456789abcdef",
		"five-part JWE":   "a.b.c.d.e",
		"garbage payload": "e30.!!!.e30",
	} {
		resp, ok, err := f.auth.AuthenticateToken(context.Background(), tok, nil)
		if ok || resp != nil || err != nil {
			t.Errorf("%s: ok=%v err=%v", name, ok, err)
		}
	}
}

func TestTokenForOtherAudiencesWhenAsked(t *testing.T) {
	f := newFixture(t)
	tok, _, err := f.signer.Bound(BoundToken{ServiceAccount: testServiceAccount(), Audiences: []string{"vault", "minio"}, Expiration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.auth.AuthenticateToken(context.Background(), tok, nil); ok {
		t.Error("a token for vault authenticated against the API server")
	}
	resp, ok, err := f.auth.AuthenticateToken(context.Background(), tok, []string{"minio"})
	if !ok {
		t.Fatalf("rejected for its own audience: %v", err)
	}
	if !slices.Equal(resp.Audiences, []string{"minio"}) {
		t.Errorf("audiences = %q", resp.Audiences)
	}
}

func TestLegacyToken(t *testing.T) {
	newSecret := func(token string) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "builder-token", UID: "secret-uid",
				Annotations: map[string]string{corev1.ServiceAccountNameKey: "builder"}},
			Type: corev1.SecretTypeServiceAccountToken,
			Data: map[string][]byte{corev1.ServiceAccountTokenKey: []byte(token)},
		}
	}
	tests := []struct {
		name    string
		change  func(f *fixture, token string)
		wantErr string
	}{
		{name: "valid while its secret holds it"},
		{
			name:    "secret deleted",
			change:  func(f *fixture, _ string) { delete(f.getter.secrets, "default/builder-token") },
			wantErr: "Token has been invalidated",
		},
		{
			name:    "secret holds another token",
			change:  func(f *fixture, _ string) { f.getter.add(newSecret("something-else")) },
			wantErr: "Token does not match server's copy",
		},
		{
			name: "service account recreated",
			change: func(f *fixture, _ string) {
				sa := testServiceAccount()
				sa.UID = "new-sa-uid"
				f.getter.add(sa)
			},
			wantErr: "ServiceAccount UID (new-sa-uid) does not match claim (sa-uid)",
		},
		{
			name: "marked invalid by the cleaner",
			change: func(f *fixture, token string) {
				s := newSecret(token)
				s.Labels = map[string]string{InvalidSinceLabelKey: "2026-01-01"}
				f.getter.add(s)
			},
			wantErr: "the token in secret default/builder-token for service account default/builder has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the 'kubernetes.io/legacy-token-invalid-since' label from the secret to temporarily allow use of this token",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tok, err := f.signer.Legacy(testServiceAccount(), newSecret(""))
			if err != nil {
				t.Fatal(err)
			}
			f.getter.add(newSecret(tok))
			if tt.change != nil {
				tt.change(f, tok)
			}
			// Legacy tokens do not expire.
			f.now = f.now.AddDate(5, 0, 0)
			resp, ok, err := f.auth.AuthenticateToken(context.Background(), tok, nil)
			if tt.wantErr == "" {
				if !ok {
					t.Fatalf("rejected: %v", err)
				}
				if u := resp.User; u.Name != "system:serviceaccount:default:builder" || u.UID != "sa-uid" || len(u.Extra) != 0 {
					t.Errorf("user = %+v", u)
				}
				return
			}
			if ok || err == nil || err.Error() != tt.wantErr {
				t.Fatalf("ok=%v err=%v, want %q", ok, err, tt.wantErr)
			}
		})
	}
}

func TestLegacyClaimsAreUpstreams(t *testing.T) {
	f := newFixture(t)
	tok, err := f.signer.Legacy(testServiceAccount(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "builder-token"}})
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	decodePart(t, strings.Split(tok, ".")[1], &claims)
	want := map[string]any{
		"iss":                                    "kubernetes/serviceaccount",
		"kubernetes.io/serviceaccount/namespace": "default",
		"kubernetes.io/serviceaccount/secret.name":          "builder-token",
		"kubernetes.io/serviceaccount/service-account.name": "builder",
		"kubernetes.io/serviceaccount/service-account.uid":  "sa-uid",
		"sub": "system:serviceaccount:default:builder",
	}
	if !reflect.DeepEqual(claims, want) {
		t.Errorf("claims = %v", claims)
	}
}

func TestUsernames(t *testing.T) {
	if got := MakeUsername("kube-system", "coredns"); got != "system:serviceaccount:kube-system:coredns" {
		t.Errorf("MakeUsername = %q", got)
	}
	for _, tt := range []struct {
		ns, name, username string
		want               bool
	}{
		{"default", "builder", "system:serviceaccount:default:builder", true},
		{"default", "builder", "system:serviceaccount:default:builder2", false},
		{"default", "builder", "system:serviceaccount:defaults:builder", false},
		{"default", "builder", "system:serviceaccounts:default", false},
		{"default", "builder", "builder", false},
	} {
		if got := MatchesUsername(tt.ns, tt.name, tt.username); got != tt.want {
			t.Errorf("MatchesUsername(%q, %q, %q) = %v", tt.ns, tt.name, tt.username, got)
		}
	}
	if ns, name, err := SplitUsername("system:serviceaccount:kube-system:coredns"); err != nil || ns != "kube-system" || name != "coredns" {
		t.Errorf("SplitUsername = %q %q %v", ns, name, err)
	}
	for _, bad := range []string{"jane", "system:serviceaccount:a:b:c", "system:serviceaccount:Bad_NS:x"} {
		if _, _, err := SplitUsername(bad); err == nil {
			t.Errorf("SplitUsername(%q) succeeded", bad)
		}
	}
}

func TestKeyFilesOfTheClusterPKI(t *testing.T) {
	priv, pub := clusterKeys(t)
	if len(pub) != 1 || !pub[0].Equal(&priv.PublicKey) {
		t.Fatal("sa.pub does not hold sa.key's public key")
	}
	if _, err := ParsePublicKeys([]byte("not pem")); err == nil {
		t.Error("ParsePublicKeys accepted garbage")
	}
	if _, err := ParsePrivateKey([]byte("not pem")); err == nil {
		t.Error("ParsePrivateKey accepted garbage")
	}
}

func BenchmarkAuthenticateBoundToken(b *testing.B) {
	f := newFixture(b)
	tok := f.podToken(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := f.auth.AuthenticateToken(ctx, tok, nil); !ok {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssueBoundToken(b *testing.B) {
	f := newFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		f.podToken(b)
	}
}
