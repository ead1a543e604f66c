package addons

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

func TestInstallCreatesThenConverges(t *testing.T) {
	env := apiservertest.Start(t)
	ctx := context.Background()
	data := "one"
	addon := Addon{Name: "test", Objects: func(p Params) ([]runtime.Object, error) {
		return []runtime.Object{
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "test-addon"}, Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"nodes"}}}},
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "test-addon", Namespace: "kube-system"}, Data: map[string]string{"cluster": p.ClusterName, "v": data}},
		}, nil
	}}
	if err := Install(ctx, env.Config, Params{ClusterName: "c1"}, addon); err != nil {
		t.Fatal(err)
	}
	data = "two"
	if err := Install(ctx, env.Config, Params{ClusterName: "c1"}, addon); err != nil {
		t.Fatalf("a second install failed instead of converging: %v", err)
	}
	cm, err := env.Client.CoreV1().ConfigMaps("kube-system").Get(ctx, "test-addon", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["cluster"] != "c1" || cm.Data["v"] != "two" {
		t.Errorf("config map data = %v, want the second install's", cm.Data)
	}
	if _, err := env.Client.RbacV1().ClusterRoles().Get(ctx, "test-addon", metav1.GetOptions{}); err != nil {
		t.Errorf("cluster-scoped object: %v", err)
	}
}

func TestInstallNamesTheAddonAndObjectThatFailed(t *testing.T) {
	env := apiservertest.Start(t)
	addon := Addon{Name: "broken", Objects: func(Params) ([]runtime.Object, error) {
		return []runtime.Object{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "no-such-namespace"}}}, nil
	}}
	err := Install(context.Background(), env.Config, Params{}, addon)
	if err == nil {
		t.Fatal("an object in a missing namespace was installed")
	}
	for _, want := range []string{"addon broken", "ConfigMap x", "not found"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
