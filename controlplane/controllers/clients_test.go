package controllers

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"
)

// tokenServer is a fake clientset whose TokenRequests hand out numbered
// tokens for accounts that exist.
type tokenServer struct {
	client *fake.Clientset
	mu     sync.Mutex
	issued int
	now    time.Time
}

func newTokenServer(t *testing.T, accounts ...string) *tokenServer {
	var objs []runtime.Object
	for _, a := range accounts {
		objs = append(objs, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: a}})
	}
	s := &tokenServer{client: fake.NewClientset(objs...), now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.client.PrependReactor("create", "serviceaccounts", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "token" {
			return false, nil, nil
		}
		name := a.(clienttesting.CreateActionImpl).Name
		if _, err := s.client.Tracker().Get(corev1.SchemeGroupVersion.WithResource("serviceaccounts"), "kube-system", name); err != nil {
			return true, nil, err
		}
		req := a.(clienttesting.CreateAction).GetObject().(*authenticationv1.TokenRequest)
		if req.Spec.ExpirationSeconds == nil || *req.Spec.ExpirationSeconds != 3600 {
			t.Errorf("token requested for %v seconds, want upstream's 3600", req.Spec.ExpirationSeconds)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.issued++
		req = req.DeepCopy()
		req.Status = authenticationv1.TokenRequestStatus{
			Token:               fmt.Sprintf("%s-%d", name, s.issued),
			ExpirationTimestamp: metav1.NewTime(s.now.Add(time.Hour)),
		}
		return true, req, nil
	})
	return s
}

func (s *tokenServer) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *tokenServer) step(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.now.Add(d)
}

func TestTokenIsRenewedAfterFourFifthsOfItsLife(t *testing.T) {
	s := newTokenServer(t, "node-controller")
	src := &tokenSource{client: s.client, name: "node-controller", now: s.clock}
	ctx := context.Background()
	steps := []struct {
		after time.Duration
		want  string
	}{
		{0, "node-controller-1"},
		{47 * time.Minute, "node-controller-1"},
		{2 * time.Minute, "node-controller-2"},
		{time.Minute, "node-controller-2"},
	}
	for _, st := range steps {
		s.step(st.after)
		got, err := src.token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != st.want {
			t.Fatalf("after another %v: token %q, want %q", st.after, got, st.want)
		}
	}
}

func TestMissingAccountIsCreated(t *testing.T) {
	s := newTokenServer(t)
	src := &tokenSource{client: s.client, name: "service-account-controller", now: s.clock}
	tok, err := src.token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok != "service-account-controller-1" {
		t.Fatalf("token %q", tok)
	}
	if _, err := s.client.CoreV1().ServiceAccounts("kube-system").Get(context.Background(), "service-account-controller", metav1.GetOptions{}); err != nil {
		t.Fatalf("account not created: %v", err)
	}
}

func TestTokenFailureIsAnError(t *testing.T) {
	s := newTokenServer(t, "node-controller")
	s.client.PrependReactor("create", "serviceaccounts", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("serviceaccounts/token"), "node-controller", nil)
	})
	b := serviceAccountClients{manager: s.client, base: &rest.Config{Host: "https://127.0.0.1:1"}, now: s.clock}
	if _, err := b.configFor(context.Background(), "node-controller"); err == nil {
		t.Fatal("client built although no token could be had")
	}
}

// TestRequestsCarryTheAccountsToken sends requests through the client's
// transport to a server that rejects the first token once.
func TestRequestsCarryTheAccountsToken(t *testing.T) {
	s := newTokenServer(t, "node-controller")
	var mu sync.Mutex
	var seen []string
	rejected := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		auth := r.Header.Get("Authorization")
		seen = append(seen, auth)
		if auth == "Bearer node-controller-1" && !rejected {
			rejected = true
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"kind":"Node","apiVersion":"v1","metadata":{"name":"n1"}}`)
	}))
	defer srv.Close()

	b := serviceAccountClients{manager: s.client, base: &rest.Config{Host: srv.URL, BearerToken: "manager-token", UserAgent: "kube-controller-manager"}, now: s.clock}
	cfg, err := b.configFor(context.Background(), "node-controller")
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	for range 3 {
		_, _ = client.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
	}
	want := []string{"Bearer node-controller-1", "Bearer node-controller-2", "Bearer node-controller-2"}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("server saw %q, want %q (never the manager's own token)", seen, want)
	}
}

func TestRootCA(t *testing.T) {
	env := writeCA(t)
	tests := []struct {
		name    string
		o       Options
		cfg     rest.Config
		want    string
		wantErr bool
	}{
		{name: "root CA file wins", o: Options{RootCAFile: env.file}, cfg: rest.Config{TLSClientConfig: rest.TLSClientConfig{CAData: []byte("other")}}, want: env.pem},
		{name: "kubeconfig CA data otherwise", cfg: rest.Config{TLSClientConfig: rest.TLSClientConfig{CAData: []byte(env.pem)}}, want: env.pem},
		{name: "kubeconfig CA file otherwise", cfg: rest.Config{TLSClientConfig: rest.TLSClientConfig{CAFile: env.file}}, want: env.pem},
		{name: "not PEM", cfg: rest.Config{TLSClientConfig: rest.TLSClientConfig{CAData: []byte("junk")}}, wantErr: true},
		{name: "missing file", o: Options{RootCAFile: filepath.Join(t.TempDir(), "none")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rootCA(tt.o, &tt.cfg)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %q", got)
			}
		})
	}
}

type caFile struct{ file, pem string }

func writeCA(t *testing.T) caFile {
	t.Helper()
	cert, err := selfSignedCertificate("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	data := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))
	file := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile{file: file, pem: data}
}
