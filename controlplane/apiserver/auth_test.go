package apiserver_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
	"github.com/kindish/kindish/controlplane/apiserver/auth/bootstrappolicy"
)

func TestAnonymousGetsOnlyHealthChecks(t *testing.T) {
	env := apiservertest.Start(t)
	client, err := rest.HTTPClientFor(env.AnonymousConfig())
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		resp, err := client.Get(env.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, path := range []string{"/healthz", "/livez", "/readyz"} {
		if code, body := get(path); code != http.StatusOK || body != "ok" {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}
	for _, path := range []string{"/version", "/api", "/api/v1/namespaces", "/openapi/v2"} {
		if code, body := get(path); code != http.StatusUnauthorized || !strings.Contains(body, `"reason":"Unauthorized"`) {
			t.Errorf("%s: want 401 Unauthorized, got %d %s", path, code, body)
		}
	}
}

func TestRBACDeniesUntilARoleBindingAllows(t *testing.T) {
	env := apiservertest.Start(t)
	jane, err := kubernetes.NewForConfig(env.ConfigFor(t, "jane", "dev"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = jane.CoreV1().Pods("default").List(ctx(t), metav1.ListOptions{})
	want := `pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("want %q, got %v", want, err)
	}
	// Discovery is open to every authenticated user, as upstream.
	if _, err := jane.Discovery().ServerVersion(); err != nil {
		t.Fatalf("version for an authenticated user: %v", err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "dev-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "dev"}},
	}
	if _, err := env.Client.RbacV1().RoleBindings("default").Create(ctx(t), binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The binding reaches the authorizer through its watch.
	err = wait.PollUntilContextTimeout(ctx(t), 20*time.Millisecond, 10*time.Second, true, func(c context.Context) (bool, error) {
		_, err := jane.CoreV1().Pods("default").List(c, metav1.ListOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("list after binding view: %v", err)
	}
	if _, err := jane.CoreV1().Secrets("default").List(ctx(t), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("view must not read secrets: %v", err)
	}
	if _, err := jane.CoreV1().Pods("kube-system").List(ctx(t), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("a RoleBinding in default must not reach kube-system: %v", err)
	}
}

func TestBootstrapPolicyIsStored(t *testing.T) {
	env := apiservertest.Start(t)
	for _, name := range []string{"cluster-admin", "admin", "edit", "view", "system:node", "system:kube-scheduler", "system:kube-controller-manager", "system:node-proxier"} {
		if _, err := env.Client.RbacV1().ClusterRoles().Get(ctx(t), name, metav1.GetOptions{}); err != nil {
			t.Errorf("clusterrole %s: %v", name, err)
		}
	}
	// Every default object is written, however many are written at once.
	policy := bootstrappolicy.Policy()
	rbacClient := env.Client.RbacV1()
	stored := map[string]bool{}
	clusterRoles, err := rbacClient.ClusterRoles().List(ctx(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range clusterRoles.Items {
		stored["clusterrole "+r.Name] = true
	}
	clusterRoleBindings, err := rbacClient.ClusterRoleBindings().List(ctx(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range clusterRoleBindings.Items {
		stored["clusterrolebinding "+b.Name] = true
	}
	roles, err := rbacClient.Roles("").List(ctx(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roles.Items {
		stored["role "+r.Namespace+"/"+r.Name] = true
	}
	roleBindings, err := rbacClient.RoleBindings("").List(ctx(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range roleBindings.Items {
		stored["rolebinding "+b.Namespace+"/"+b.Name] = true
	}
	var want []string
	for _, r := range policy.ClusterRoles {
		want = append(want, "clusterrole "+r.Name)
	}
	for _, b := range policy.ClusterRoleBindings {
		want = append(want, "clusterrolebinding "+b.Name)
	}
	for _, r := range policy.Roles {
		want = append(want, "role "+r.Namespace+"/"+r.Name)
	}
	for _, b := range policy.RoleBindings {
		want = append(want, "rolebinding "+b.Namespace+"/"+b.Name)
	}
	for _, w := range want {
		if !stored[w] {
			t.Errorf("default %s is not stored", w)
		}
	}
}

func TestRestartRestoresTheDefaultRolesMarkedForAutoUpdate(t *testing.T) {
	env := apiservertest.Start(t)
	roles := env.Client.RbacV1().ClusterRoles()
	// view keeps upstream's autoupdate=true: a restart undoes the edit.
	view, err := roles.Get(ctx(t), "view", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantRules := len(view.Rules)
	view.Rules = nil
	if _, err := roles.Update(ctx(t), view, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// edit is taken over by its administrator: the restart keeps it.
	edit, err := roles.Get(ctx(t), "edit", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	edit.Annotations[rbacv1.AutoUpdateAnnotationKey] = "false"
	edit.Rules = nil
	if _, err := roles.Update(ctx(t), edit, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	env.StartAnotherServer(t)

	view, err = roles.Get(ctx(t), "view", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(view.Rules) != wantRules {
		t.Errorf("view has %d rules after the restart, want upstream's %d", len(view.Rules), wantRules)
	}
	edit, err = roles.Get(ctx(t), "edit", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(edit.Rules) != 0 {
		t.Errorf("the administrator's edit role was overwritten: %d rules", len(edit.Rules))
	}
}

func TestMetricsCountRequestsByVerbAndResource(t *testing.T) {
	env := apiservertest.Start(t)
	if _, err := env.Client.CoreV1().ConfigMaps("default").List(ctx(t), metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	body, err := env.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`apiserver_request_total{code="200",group="",resource="configmaps",scope="namespace",subresource="",verb="LIST",version="v1"} 1`,
		`apiserver_request_duration_seconds_bucket{group="",resource="configmaps",scope="namespace",subresource="",verb="LIST",version="v1",le="+Inf"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Metrics are not for anonymous eyes.
	anon, _ := rest.HTTPClientFor(env.AnonymousConfig())
	resp, err := anon.Get(env.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous /metrics: %d", resp.StatusCode)
	}
}
