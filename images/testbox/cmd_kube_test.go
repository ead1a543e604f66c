package testbox

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

func TestWritePodPhasesSortsByNameAndShowsAMissingPhase(t *testing.T) {
	pods := []corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "web-2"}, Status: corev1.PodStatus{Phase: corev1.PodPending}},
		{ObjectMeta: metav1.ObjectMeta{Name: "lister"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web-10"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "done"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}},
	}
	var out strings.Builder
	if err := writePodPhases(&out, pods); err != nil {
		t.Fatal(err)
	}
	want := "done Succeeded\nlister Running\nweb-10 <none>\nweb-2 Pending\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	if pods[0].Name != "web-2" {
		t.Errorf("the caller's slice was reordered")
	}

	out.Reset()
	if err := writePodPhases(&out, nil); err != nil || out.String() != "" {
		t.Errorf("no pods: %q, %v; want nothing", out.String(), err)
	}
}

func TestKubePodsOutsideAPodSaysWhatIsMissing(t *testing.T) {
	t.Run("no service environment", func(t *testing.T) {
		t.Setenv(envServiceHost, "")
		t.Setenv(envServicePort, "")
		code, stdout, stderr := runCLI(context.Background(), "kube-pods")
		want := "testbox kube-pods: not in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT unset"
		if code != 1 || stdout != "" || !strings.HasPrefix(stderr, want) {
			t.Errorf("got %d %q %q, want 1 and stderr starting %q", code, stdout, stderr, want)
		}
	})
	t.Run("no ServiceAccount token", func(t *testing.T) {
		if _, err := os.Stat(serviceAccountDir + "/token"); err == nil {
			t.Skip("this test runs in a pod with a ServiceAccount token")
		}
		t.Setenv(envServiceHost, "10.96.0.1")
		t.Setenv(envServicePort, "443")
		code, _, stderr := runCLI(context.Background(), "kube-pods", "--namespace", "default")
		want := "testbox kube-pods: no ServiceAccount token at " + serviceAccountDir + "/token (is automountServiceAccountToken false?): "
		if code != 1 || !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, "no such file or directory") {
			t.Errorf("got %d %q, want 1 and stderr starting %q", code, stderr, want)
		}
	})
	t.Run("bad timeout", func(t *testing.T) {
		code, _, stderr := runCLI(context.Background(), "kube-pods", "--timeout=0s")
		if code != 2 || !strings.Contains(stderr, "--timeout: want a positive duration") {
			t.Errorf("got %d %q, want a usage error", code, stderr)
		}
	})
}

// fakeAPIServer answers GET /api/v1/namespaces/team/pods with pods and
// anything else with a 403 Status, as RBAC does.
func fakeAPIServer(t *testing.T, pods ...corev1.Pod) *rest.Config {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet && r.URL.Path == "/api/v1/namespaces/team/pods" {
			json.NewEncoder(w).Encode(corev1.PodList{
				TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"},
				Items:    pods,
			})
			return
		}
		ns := strings.Split(r.URL.Path, "/")[4]
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(metav1.Status{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"},
			Status:   metav1.StatusFailure,
			Message:  `pods is forbidden: User "system:serviceaccount:team:lister" cannot list resource "pods" in API group "" in the namespace "` + ns + `"`,
			Reason:   metav1.StatusReasonForbidden,
			Details:  &metav1.StatusDetails{Kind: "pods"},
			Code:     http.StatusForbidden,
		})
	}))
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL}
}

func TestListPodsDecodesTheListAndTheAPIServersRefusal(t *testing.T) {
	cfg := fakeAPIServer(t,
		corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "lister", Namespace: "team"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}})

	pods, err := listPods(context.Background(), cfg, "team")
	if err != nil || len(pods) != 1 || pods[0].Name != "lister" || pods[0].Status.Phase != corev1.PodRunning {
		t.Errorf("listPods: %v, %v; want the pod lister Running", pods, err)
	}

	_, err = listPods(context.Background(), cfg, "other")
	want := `list pods in namespace other: pods is forbidden: User "system:serviceaccount:team:lister" cannot list resource "pods" in API group "" in the namespace "other"`
	if err == nil || err.Error() != want {
		t.Errorf("listPods in a namespace it may not read: %v\nwant %s", err, want)
	}
}
