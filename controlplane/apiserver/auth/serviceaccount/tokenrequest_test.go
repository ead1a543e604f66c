package serviceaccount

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func tokenRequests(f *fixture) *TokenRequests {
	return &TokenRequests{Signer: f.signer, Getter: f.getter, APIAudiences: []string{DefaultIssuer}, ExtendExpiration: true}
}

func seconds(n int64) *int64 { return &n }

func podRef(uid string) *authenticationv1.BoundObjectReference {
	return &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "web-1", UID: typesUID(uid)}
}

func claimsOf(t *testing.T, token string) parsedClaims {
	t.Helper()
	var c parsedClaims
	decodePart(t, strings.Split(token, ".")[1], &c)
	return c
}

func TestTokenRequestDefaults(t *testing.T) {
	f := newFixture(t)
	out, warnings, err := tokenRequests(f).Create("default", "builder", &authenticationv1.TokenRequest{})
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Create: %v %q", err, warnings)
	}
	if out.Name != "builder" || out.Namespace != "default" || out.UID != "sa-uid" {
		t.Errorf("metadata = %+v", out.ObjectMeta)
	}
	if !slices.Equal(out.Spec.Audiences, []string{DefaultIssuer}) || *out.Spec.ExpirationSeconds != 3600 {
		t.Errorf("spec = %+v", out.Spec)
	}
	if want := testNow.Add(time.Hour); !out.Status.ExpirationTimestamp.Time.Equal(want) {
		t.Errorf("expiration = %v, want %v", out.Status.ExpirationTimestamp, want)
	}
	resp, ok, err := f.auth.AuthenticateToken(context.Background(), out.Status.Token, nil)
	if !ok {
		t.Fatalf("issued token rejected: %v", err)
	}
	if resp.User.Name != "system:serviceaccount:default:builder" || resp.User.Extra[PodNameKey] != nil {
		t.Errorf("user = %+v", resp.User)
	}
}

// The kubelet asks for 3607 seconds for projected tokens; kube-apiserver
// (as configured by kubeadm) then issues a year-long token that records
// when it should have expired.
func TestTokenRequestExtendsKubeletTokens(t *testing.T) {
	f := newFixture(t)
	out, _, err := tokenRequests(f).Create("default", "builder", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(WarnOnlyBoundTokenExpirationSeconds), BoundObjectRef: podRef("pod-uid")},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, out.Status.Token)
	if got := c.Expiry.Time().Sub(testNow); got != ExpirationExtensionSeconds*time.Second {
		t.Errorf("token lasts %v", got)
	}
	if c.Kubernetes.WarnAfter == nil || !c.Kubernetes.WarnAfter.Time().Equal(testNow.Add(3607*time.Second)) {
		t.Errorf("warnafter = %v", c.Kubernetes.WarnAfter)
	}
	if c.Kubernetes.Pod == nil || c.Kubernetes.Pod.UID != "pod-uid" || c.Kubernetes.Node == nil || c.Kubernetes.Node.UID != "node-uid" {
		t.Errorf("bound to %+v", c.Kubernetes)
	}
	if want := testNow.Add(3607 * time.Second); !out.Status.ExpirationTimestamp.Time.Equal(want) {
		t.Errorf("reported expiration = %v, want the requested %v", out.Status.ExpirationTimestamp, want)
	}
}

func TestTokenRequestShortensToTheMaximum(t *testing.T) {
	f := newFixture(t)
	tr := tokenRequests(f)
	tr.MaxExpiration = 2 * time.Hour
	out, warnings, err := tr.Create("default", "builder", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(86400)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(warnings, []string{"requested expiration of 86400 seconds shortened to 7200 seconds"}) {
		t.Errorf("warnings = %q", warnings)
	}
	if *out.Spec.ExpirationSeconds != 7200 {
		t.Errorf("expirationSeconds = %d", *out.Spec.ExpirationSeconds)
	}
}

func TestTokenRequestErrors(t *testing.T) {
	tests := []struct {
		name     string
		sa       string
		req      authenticationv1.TokenRequest
		prepare  func(f *fixture)
		wantCode int32
		wantMsg  string
	}{
		{
			name:     "no such service account",
			sa:       "ghost",
			wantCode: 404,
			wantMsg:  `serviceaccount "ghost" not found`,
		},
		{
			name:     "too short",
			sa:       "builder",
			req:      authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(60)}},
			wantCode: 422,
			wantMsg:  `TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes`,
		},
		{
			name: "pod of another service account",
			sa:   "builder",
			req:  authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{BoundObjectRef: podRef("")}},
			prepare: func(f *fixture) {
				p := testPod()
				p.Spec.ServiceAccountName = "default"
				f.getter.add(p)
			},
			wantCode: 400,
			wantMsg:  `cannot bind token for serviceaccount "builder" to pod running with different serviceaccount name.`,
		},
		{
			name:     "pod recreated since the request was made",
			sa:       "builder",
			req:      authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{BoundObjectRef: podRef("old-uid")}},
			wantCode: 409,
			wantMsg:  `Operation cannot be fulfilled on Pod "web-1": the UID in the bound object reference (old-uid) does not match the UID in record. The object might have been deleted and then recreated`,
		},
		{
			name:     "unsupported kind",
			sa:       "builder",
			req:      authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "ConfigMap", APIVersion: "v1", Name: "x"}}},
			wantCode: 400,
			wantMsg:  `cannot bind token to object of type /v1, Kind=ConfigMap`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.prepare != nil {
				tt.prepare(f)
			}
			_, _, err := tokenRequests(f).Create("default", tt.sa, &tt.req)
			status, ok := err.(*apierrors.StatusError)
			if !ok {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if status.ErrStatus.Code != tt.wantCode || status.ErrStatus.Message != tt.wantMsg {
				t.Errorf("got %d %q\nwant %d %q", status.ErrStatus.Code, status.ErrStatus.Message, tt.wantCode, tt.wantMsg)
			}
		})
	}
}
