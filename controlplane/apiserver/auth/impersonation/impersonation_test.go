package impersonation

import (
	"context"
	"net/http/httptest"
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/auth/authz"
	"github.com/kindish/kindish/controlplane/apiserver/auth/rbac"
	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

// Support may impersonate users, the group "devs", any ServiceAccount of
// namespace team and the extra "scopes" value "view"; bob nothing.
func testAuthorizer() authz.Authorizer {
	store := rbac.NewStore()
	store.Set(&rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "impersonator"},
		Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"impersonate"}, APIGroups: []string{""}, Resources: []string{"users"}},
			{Verbs: []string{"impersonate"}, APIGroups: []string{""}, Resources: []string{"groups"}, ResourceNames: []string{"devs"}},
			{Verbs: []string{"impersonate"}, APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"userextras/scopes"}, ResourceNames: []string{"view"}},
			{Verbs: []string{"impersonate"}, APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"uids"}},
		},
	})
	store.Set(&rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "support"},
		RoleRef:    rbacv1.RoleRef{Kind: "ClusterRole", Name: "impersonator"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: "support"}},
	})
	store.Set(&rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "sa-impersonator"},
		Rules:      []rbacv1.PolicyRule{{Verbs: []string{"impersonate"}, APIGroups: []string{""}, Resources: []string{"serviceaccounts"}}},
	})
	store.Set(&rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "support"},
		RoleRef:    rbacv1.RoleRef{Kind: "ClusterRole", Name: "sa-impersonator"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: "support"}},
	})
	return authz.New(rbac.New(store))
}

var (
	alice = &user.User{Name: "alice", Groups: []string{"support", user.AllAuthenticated}}
	bob   = &user.User{Name: "bob", Groups: []string{user.AllAuthenticated}}
)

func TestImpersonate(t *testing.T) {
	az := testAuthorizer()
	tests := []struct {
		name      string
		requester *user.User
		headers   map[string][]string
		want      *user.User
		wantErr   string
	}{
		{
			name:      "no headers",
			requester: bob,
			want:      bob,
		},
		{
			name:      "a user",
			requester: alice,
			headers:   map[string][]string{"Impersonate-User": {"jane"}},
			want:      &user.User{Name: "jane", Groups: []string{user.AllAuthenticated}},
		},
		{
			name:      "a user with a group, extra and uid",
			requester: alice,
			headers: map[string][]string{
				"Impersonate-User":         {"jane"},
				"Impersonate-Group":        {"devs"},
				"Impersonate-Extra-Scopes": {"view"},
				"Impersonate-Uid":          {"1234"},
			},
			want: &user.User{Name: "jane", UID: "1234", Groups: []string{"devs", user.AllAuthenticated}, Extra: map[string][]string{"scopes": {"view"}}},
		},
		{
			name:      "a service account takes its groups",
			requester: alice,
			headers:   map[string][]string{"Impersonate-User": {"system:serviceaccount:team:builder"}},
			want: &user.User{Name: "system:serviceaccount:team:builder",
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:team", user.AllAuthenticated}},
		},
		{
			name:      "a service account elsewhere",
			requester: alice,
			headers:   map[string][]string{"Impersonate-User": {"system:serviceaccount:kube-system:builder"}},
			wantErr:   `serviceaccounts "builder" is forbidden: User "alice" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "kube-system"`,
		},
		{
			name:      "a group not allowed",
			requester: alice,
			headers:   map[string][]string{"Impersonate-User": {"jane"}, "Impersonate-Group": {"system:masters"}},
			wantErr:   `groups "system:masters" is forbidden: User "alice" cannot impersonate resource "groups" in API group "" at the cluster scope`,
		},
		{
			name:      "an extra value not allowed",
			requester: alice,
			headers:   map[string][]string{"Impersonate-User": {"jane"}, "Impersonate-Extra-Scopes": {"admin"}},
			wantErr:   `userextras.authentication.k8s.io "admin" is forbidden: User "alice" cannot impersonate resource "userextras/scopes" in API group "authentication.k8s.io" at the cluster scope`,
		},
		{
			name:      "by someone not allowed",
			requester: bob,
			headers:   map[string][]string{"Impersonate-User": {"jane"}},
			wantErr:   `users "jane" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope`,
		},
		{
			name:      "a group without a user",
			requester: alice,
			headers:   map[string][]string{"Impersonate-Group": {"devs"}},
			wantErr:   `Internal error occurred: requested [{Kind:Group Namespace: Name:devs Extra:}] without impersonating a user`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/pods", nil)
			for k, vs := range tt.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			got, err := Impersonate(context.Background(), az, tt.requester, r)
			if tt.wantErr != "" {
				if _, ok := err.(*apierrors.StatusError); !ok || err.Error() != tt.wantErr {
					t.Fatalf("err = %v\nwant  %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("user = %+v\nwant   %+v", got, tt.want)
			}
			for k := range r.Header {
				if len(k) > len("Impersonate-") && k[:len("Impersonate-")] == "Impersonate-" {
					t.Errorf("header %s left on the request", k)
				}
			}
		})
	}
}
