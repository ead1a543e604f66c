package volume

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
)

func tokenPod(src corev1.ServiceAccountTokenProjection) *corev1.Pod {
	return testPod(corev1.Volume{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &src}},
	}}})
}

func TestServiceAccountTokenIsRequestedBoundToThePod(t *testing.T) {
	tests := []struct {
		name          string
		src           corev1.ServiceAccountTokenProjection
		wantAudiences []string
		wantSeconds   int64
	}{
		{"audience and lifetime as asked", corev1.ServiceAccountTokenProjection{Path: "vault-token", Audience: "vault", ExpirationSeconds: ptr[int64](7200)}, []string{"vault"}, 7200},
		{"API audiences and one hour by default", corev1.ServiceAccountTokenProjection{Path: "token"}, nil, 3600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t)
			pod := tokenPod(tt.src)
			if err := env.m.SetUp(context.Background(), pod); err != nil {
				t.Fatalf("SetUp: %v", err)
			}
			reqs := env.tokenRequests()
			if len(reqs) != 1 {
				t.Fatalf("%d token requests, want 1", len(reqs))
			}
			got := reqs[0]
			if got.namespace != "default" || got.serviceAccount != "builder" {
				t.Errorf("token requested for %s/%s, want default/builder", got.namespace, got.serviceAccount)
			}
			if !reflect.DeepEqual(got.spec.Audiences, tt.wantAudiences) {
				t.Errorf("audiences = %v, want %v", got.spec.Audiences, tt.wantAudiences)
			}
			if got.spec.ExpirationSeconds == nil || *got.spec.ExpirationSeconds != tt.wantSeconds {
				t.Errorf("expirationSeconds = %v, want %d", got.spec.ExpirationSeconds, tt.wantSeconds)
			}
			wantRef := authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: "web", UID: pod.UID}
			if got.spec.BoundObjectRef == nil || *got.spec.BoundObjectRef != wantRef {
				t.Errorf("boundObjectRef = %+v, want %+v", got.spec.BoundObjectRef, wantRef)
			}
			file := filepath.Join(env.volumePath(pod, projectedPlugin, "token"), tt.src.Path)
			if got := readFile(t, file); got != "token-1" {
				t.Errorf("token file = %q, want token-1", got)
			}
		})
	}
}

func TestServiceAccountTokenRotation(t *testing.T) {
	type step struct {
		at           time.Duration // since the first SetUp
		wantRequests int
	}
	tests := []struct {
		name    string
		seconds int64
		steps   []step
	}{
		{
			name:    "kept until 80% of its lifetime, then replaced",
			seconds: 3600,
			steps:   []step{{0, 1}, {30 * time.Minute, 1}, {47 * time.Minute, 1}, {48*time.Minute + 20*time.Second, 2}, {60 * time.Minute, 2}},
		},
		{
			name:    "replaced after 24 hours even when it lives longer",
			seconds: 48 * 60 * 60,
			steps:   []step{{0, 1}, {23 * time.Hour, 1}, {24*time.Hour + time.Second, 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t)
			pod := tokenPod(corev1.ServiceAccountTokenProjection{Path: "token", Audience: "api", ExpirationSeconds: &tt.seconds})
			file := filepath.Join(env.volumePath(pod, projectedPlugin, "token"), "token")
			start := env.clock.Now()
			for _, s := range tt.steps {
				env.clock.SetTime(start.Add(s.at))
				if err := env.m.SetUp(context.Background(), pod); err != nil {
					t.Fatalf("SetUp at +%v: %v", s.at, err)
				}
				if got := len(env.tokenRequests()); got != s.wantRequests {
					t.Fatalf("at +%v: %d token requests, want %d", s.at, got, s.wantRequests)
				}
				if got, want := readFile(t, file), fmt.Sprintf("token-%d", s.wantRequests); got != want {
					t.Fatalf("at +%v: token file = %q, want %q", s.at, got, want)
				}
			}
		})
	}
}

func TestServiceAccountTokenRefreshFailures(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	pod := tokenPod(corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr[int64](3600)})
	file := filepath.Join(env.volumePath(pod, projectedPlugin, "token"), "token")
	start := env.clock.Now()

	env.failTokens(errors.New("apiserver down"))
	wantError(t, env.m.SetUp(ctx, pod), `MountVolume.SetUp failed for volume "token" : failed to fetch token: apiserver down`)

	env.failTokens(nil)
	if err := env.m.SetUp(ctx, pod); err != nil {
		t.Fatalf("SetUp: %v", err)
	}

	// Due for rotation but still valid: the pod keeps its token.
	env.failTokens(errors.New("apiserver down"))
	env.clock.SetTime(start.Add(55 * time.Minute))
	if err := env.m.SetUp(ctx, pod); err != nil {
		t.Fatalf("SetUp with a valid cached token: %v", err)
	}
	if got := readFile(t, file); got != "token-1" {
		t.Errorf("token file = %q, want the cached token-1", got)
	}

	env.clock.SetTime(start.Add(61 * time.Minute))
	wantErrorContaining(t, env.m.SetUp(ctx, pod), "expired and refresh failed: apiserver down")
}
