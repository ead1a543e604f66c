package subresource_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

const replicaSetYAML = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: frontend
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
`

func TestKubectlScale(t *testing.T) {
	env := apiservertest.Start(t)
	kubectl := env.Kubectl(t)
	must[*appsv1.Deployment](t)(env.Client.AppsV1().Deployments("default").Create(ctx(t), deployment("web", 1), metav1.CreateOptions{}))

	if out := kubectl.MustRun("scale", "--replicas=6", "deployment/web").Stdout; strings.TrimSpace(out) != "deployment.apps/web scaled" {
		t.Fatalf("kubectl scale printed %q", out)
	}
	if d := must[*appsv1.Deployment](t)(env.Client.AppsV1().Deployments("default").Get(ctx(t), "web", metav1.GetOptions{})); *d.Spec.Replicas != 6 {
		t.Fatalf("replicas %d, want 6", *d.Spec.Replicas)
	}
	// With preconditions kubectl reads the Scale, checks, and writes it.
	kubectl.MustRun("scale", "--current-replicas=6", "--replicas=2", "deployment/web")
	if res := kubectl.Run("scale", "--current-replicas=5", "--replicas=3", "deployment/web"); res.ExitCode == 0 || !strings.Contains(res.Stderr, "Expected replicas to be 5, was 2") {
		t.Fatalf("a failed precondition: %s", res)
	}

	file := filepath.Join(t.TempDir(), "rs.yaml")
	if err := os.WriteFile(file, []byte(replicaSetYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl.MustRun("create", "-f", file)
	if out := kubectl.MustRun("scale", "--replicas=6", "-f", file).Stdout; strings.TrimSpace(out) != "replicaset.apps/frontend scaled" {
		t.Fatalf("kubectl scale -f printed %q", out)
	}
	if rs := must[*appsv1.ReplicaSet](t)(env.Client.AppsV1().ReplicaSets("default").Get(ctx(t), "frontend", metav1.GetOptions{})); *rs.Spec.Replicas != 6 {
		t.Fatalf("replicas %d, want 6", *rs.Spec.Replicas)
	}
	if out := kubectl.MustRun("get", "deployment/web", "--subresource=scale").Stdout; !strings.Contains(out, "DESIRED") || !strings.Contains(out, "web") {
		t.Fatalf("kubectl get --subresource=scale printed %q", out)
	}
}

func TestKubectlAuthAndTokens(t *testing.T) {
	env := apiservertest.Start(t)
	admin := env.Kubectl(t)
	alice := env.KubectlFor(t, "alice")

	if out := admin.MustRun("auth", "can-i", "create", "pods").Stdout; strings.TrimSpace(out) != "yes" {
		t.Fatalf("admin can-i printed %q", out)
	}
	if res := alice.Run("auth", "can-i", "create", "pods"); res.ExitCode != 1 || strings.TrimSpace(res.Stdout) != "no" {
		t.Fatalf("alice can-i: %s", res)
	}
	if out := admin.MustRun("auth", "can-i", "--list").Stdout; !strings.Contains(out, "*.*") {
		t.Fatalf("admin can-i --list printed %q", out)
	}
	if out := alice.MustRun("auth", "can-i", "--list").Stdout; !strings.Contains(out, "selfsubjectaccessreviews.authorization.k8s.io") || strings.Contains(out, "*.*") {
		t.Fatalf("alice can-i --list printed %q", out)
	}
	if out := alice.MustRun("auth", "whoami").Stdout; !strings.Contains(out, "alice") || !strings.Contains(out, "system:authenticated") {
		t.Fatalf("whoami printed %q", out)
	}

	admin.MustRun("create", "serviceaccount", "default")
	token := strings.TrimSpace(admin.MustRun("create", "token", "default").Stdout)
	if strings.Count(token, ".") != 2 {
		t.Fatalf("kubectl create token printed %q", token)
	}
	review := must[*authenticationv1.TokenReview](t)(env.Client.AuthenticationV1().TokenReviews().Create(ctx(t),
		&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{}))
	if review.Status.User.Username != "system:serviceaccount:default:default" {
		t.Fatalf("the token is %q's", review.Status.User.Username)
	}
}

func TestKubectlNamespaceDeletionAndPodStreams(t *testing.T) {
	env := apiservertest.Start(t)
	kubectl := env.Kubectl(t)

	kubectl.MustRun("create", "namespace", "team")
	kubectl.MustRun("delete", "namespace", "team", "--wait=false")
	if out := kubectl.MustRun("get", "namespace", "team").Stdout; !strings.Contains(out, "Terminating") {
		t.Fatalf("deleted namespace: %q", out)
	}

	must[*corev1.Pod](t)(env.Client.CoreV1().Pods("default").Create(ctx(t), pod("pending"), metav1.CreateOptions{}))
	if res := kubectl.MustRun("logs", "pending"); res.Stdout != "" {
		t.Fatalf("logs of a pod without a node: %s", res)
	}
	if res := kubectl.Run("exec", "pending", "--", "ls"); res.ExitCode == 0 || !strings.Contains(res.Stderr, "pod pending does not have a host assigned") {
		t.Fatalf("exec into a pod without a node: %s", res)
	}
}
