package rbac

import (
	"context"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/auth/authz"
	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

func clusterRole(name string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
}

func role(ns, name string, rules ...rbacv1.PolicyRule) *rbacv1.Role {
	return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules}
}

func clusterBinding(name, roleName string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: roleName},
		Subjects:   subjects,
	}
}

func binding(ns, name, kind, roleName string, subjects ...rbacv1.Subject) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: roleName},
		Subjects:   subjects,
	}
}

func userSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, Name: name}
}
func groupSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, Name: name}
}
func saSubject(ns, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}
}

func readPods() rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{""}, Resources: []string{"pods"}}
}

func testStore(objs ...any) *Store {
	s := NewStore()
	for _, o := range objs {
		s.Set(o)
	}
	return s
}

var (
	jane = &user.User{Name: "jane", Groups: []string{"devs", user.AllAuthenticated}}
	bob  = &user.User{Name: "bob", Groups: []string{user.AllAuthenticated}}
	ci   = &user.User{Name: "system:serviceaccount:ci:builder", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ci", user.AllAuthenticated}}
)

func at(u *user.User, verb, ns, resource, name string) *authz.Attributes {
	return &authz.Attributes{User: u, Verb: verb, Namespace: ns, Resource: resource, Name: name, ResourceRequest: true}
}

func TestAuthorize(t *testing.T) {
	store := testStore(
		clusterRole("pod-reader", readPods()),
		clusterRole("node-reader", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"nodes"}}),
		clusterRole("metrics", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics"}}),
		role("team", "secret-reader", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"app"}}),
		// A ClusterRole through a RoleBinding: only in that namespace.
		binding("team", "devs-read-pods", "ClusterRole", "pod-reader", groupSubject("devs")),
		binding("team", "jane-secret", "Role", "secret-reader", userSubject("jane")),
		clusterBinding("nodes", "node-reader", userSubject("bob")),
		clusterBinding("metrics", "metrics", groupSubject("devs")),
		// A ServiceAccount subject without namespace takes the binding's.
		binding("ci", "builder-pods", "ClusterRole", "pod-reader", rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "builder"}),
		// In a ClusterRoleBinding it has none and matches no one.
		clusterBinding("broken-sa", "node-reader", rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "builder"}),
		// With a namespace it matches cluster-wide.
		clusterBinding("ci-pods-everywhere", "pod-reader", saSubject("ci", "builder")),
	)
	az := New(store)
	tests := []struct {
		name  string
		attrs *authz.Attributes
		allow bool
	}{
		{"group through RoleBinding, in its namespace", at(jane, "list", "team", "pods", ""), true},
		{"group through RoleBinding, elsewhere", at(jane, "list", "default", "pods", ""), false},
		{"RoleBinding does not grant cluster-scoped", at(jane, "list", "", "pods", ""), false},
		{"Role with resource name", at(jane, "get", "team", "secrets", "app"), true},
		{"Role with other name", at(jane, "get", "team", "secrets", "db"), false},
		{"Role's verbs only", at(jane, "list", "team", "secrets", ""), false},
		{"user through ClusterRoleBinding", at(bob, "get", "", "nodes", "n1"), true},
		{"ClusterRoleBinding applies in namespaces too", at(ci, "get", "anywhere", "pods", "p"), true},
		{"other user", at(bob, "list", "team", "pods", ""), false},
		{"non-resource URL", &authz.Attributes{User: jane, Verb: "get", Path: "/metrics"}, true},
		{"non-resource URL of someone else", &authz.Attributes{User: bob, Verb: "get", Path: "/metrics"}, false},
		{"service account by defaulted namespace", at(ci, "watch", "ci", "pods", ""), true},
		{"no user", &authz.Attributes{Verb: "get", Resource: "pods", ResourceRequest: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := az.Authorize(context.Background(), tt.attrs)
			if res.Allowed() != tt.allow {
				t.Errorf("decision = %v (%s), want allow=%v", res.Decision, res.Reason(), tt.allow)
			}
			if !tt.allow && res.Decision != authz.NoOpinion {
				t.Errorf("RBAC denied outright: %v", res.Decision)
			}
		})
	}
	// The ServiceAccount subject without a namespace in a
	// ClusterRoleBinding did not make "builder" anything.
	if az.Authorize(context.Background(), at(ci, "get", "", "nodes", "n")).Allowed() {
		t.Error("namespace-less ServiceAccount subject of a ClusterRoleBinding matched")
	}
}

func TestReasonsAreUpstreams(t *testing.T) {
	store := testStore(
		clusterRole("pod-reader", readPods()),
		binding("team", "devs", "ClusterRole", "pod-reader", groupSubject("devs")),
		binding("ci", "builder", "ClusterRole", "pod-reader", rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "builder"}),
		clusterBinding("bob-pods", "pod-reader", userSubject("bob")),
		clusterBinding("ghost", "no-such-role", userSubject("jane")),
		binding("team", "ghost-role", "Role", "no-such-role", userSubject("jane")),
	)
	az := New(store)
	ctx := context.Background()
	for _, tt := range []struct {
		attrs  *authz.Attributes
		reason string
	}{
		{at(jane, "get", "team", "pods", "p"), `RBAC: allowed by RoleBinding "devs/team" of ClusterRole "pod-reader" to Group "devs"`},
		{at(ci, "get", "ci", "pods", "p"), `RBAC: allowed by RoleBinding "builder/ci" of ClusterRole "pod-reader" to ServiceAccount "builder/ci"`},
		{at(bob, "get", "", "pods", "p"), `RBAC: allowed by ClusterRoleBinding "bob-pods" of ClusterRole "pod-reader" to User "bob"`},
		{at(jane, "delete", "team", "pods", "p"), `RBAC: [clusterrole.rbac.authorization.k8s.io "no-such-role" not found, role.rbac.authorization.k8s.io "no-such-role" not found]`},
		{at(bob, "delete", "team", "pods", "p"), ``},
	} {
		if got := az.Authorize(ctx, tt.attrs).Reason(); got != tt.reason {
			t.Errorf("%s %s: reason %q\nwant %q", tt.attrs.User.Name, tt.attrs.Verb, got, tt.reason)
		}
	}
}

func TestStoreFollowsChanges(t *testing.T) {
	store := NewStore()
	az := New(store)
	ctx := context.Background()
	req := at(jane, "get", "team", "pods", "p")
	check := func(step string, want bool) {
		t.Helper()
		if got := az.Authorize(ctx, req).Allowed(); got != want {
			t.Fatalf("%s: allowed = %v, want %v", step, got, want)
		}
	}
	check("empty", false)
	b := binding("team", "devs", "ClusterRole", "pod-reader", groupSubject("devs"))
	store.OnAdd(b, true)
	check("binding without its role", false)
	store.OnAdd(clusterRole("pod-reader", readPods()), false)
	check("role created", true)
	store.OnUpdate(nil, clusterRole("pod-reader", rbacv1.PolicyRule{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"pods"}}))
	check("role narrowed", false)
	store.OnUpdate(nil, clusterRole("pod-reader", readPods()))
	check("role restored", true)
	store.OnDelete(tombstone{Key: "team/devs", Obj: b})
	check("binding deleted (tombstone)", false)
}

// tombstone has the shape of client-go's cache.DeletedFinalStateUnknown.
type DeletedFinalStateUnknown struct {
	Key string
	Obj any
}

type tombstone = DeletedFinalStateUnknown

func TestAggregatedRules(t *testing.T) {
	label := func(r *rbacv1.ClusterRole, l string) *rbacv1.ClusterRole {
		r.Labels = map[string]string{l: "true"}
		return r
	}
	aggregate := func(r *rbacv1.ClusterRole, l string) *rbacv1.ClusterRole {
		r.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{l: "true"}}}}
		return r
	}
	secrets := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}}
	view := aggregate(label(clusterRole("view"), "to-edit"), "to-view")
	edit := aggregate(clusterRole("edit"), "to-edit")
	got := AggregatedRules([]*rbacv1.ClusterRole{
		edit, view,
		label(clusterRole("b-extra-view", readPods()), "to-view"),
		label(clusterRole("a-view", readPods()), "to-view"),
		label(clusterRole("edit-secrets", secrets), "to-edit"),
	})
	if want := []rbacv1.PolicyRule{readPods()}; !equality.Semantic.DeepEqual(got["view"], want) {
		t.Errorf("view = %v, want the duplicate rule once", got["view"])
	}
	if want := []rbacv1.PolicyRule{secrets, readPods()}; !equality.Semantic.DeepEqual(got["edit"], want) {
		t.Errorf("edit = %v, want %v (edit-secrets before view, by name)", got["edit"], want)
	}
	// The Store authorizes with aggregated rules.
	store := testStore(edit, view,
		label(clusterRole("a-view", readPods()), "to-view"),
		binding("team", "jane-edit", "ClusterRole", "edit", userSubject("jane")))
	if !New(store).Authorize(context.Background(), at(jane, "list", "team", "pods", "")).Allowed() {
		t.Error("aggregated rule not applied")
	}
}

func TestRulesFor(t *testing.T) {
	store := testStore(
		clusterRole("pod-reader", readPods()),
		clusterRole("metrics", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics"}}),
		// Both jane and her group are bound: one set of rules.
		binding("team", "pods", "ClusterRole", "pod-reader", userSubject("jane"), groupSubject("devs")),
		clusterBinding("metrics", "metrics", groupSubject("devs")),
		clusterBinding("ghost", "no-such-role", userSubject("jane")),
	)
	resource, nonResource, incomplete, err := New(store).RulesFor(context.Background(), jane, "team")
	wantResource := []authorizationv1.ResourceRule{{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{""}, Resources: []string{"pods"}}}
	wantNonResource := []authorizationv1.NonResourceRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics"}}}
	if !equality.Semantic.DeepEqual(resource, wantResource) || !equality.Semantic.DeepEqual(nonResource, wantNonResource) {
		t.Errorf("rules = %v %v", resource, nonResource)
	}
	if incomplete || err == nil || err.Error() != `clusterrole.rbac.authorization.k8s.io "no-such-role" not found` {
		t.Errorf("incomplete=%v err=%v", incomplete, err)
	}
}

func TestAllowDoesNotAllocate(t *testing.T) {
	store, req := benchmarkStore(1000)
	az := New(store)
	ctx := context.Background()
	az.Authorize(ctx, req)
	if n := testing.AllocsPerRun(100, func() { az.Authorize(ctx, req) }); n != 0 {
		t.Errorf("allow allocates %v times", n)
	}
}

func TestConcurrentUpdatesAndDecisions(t *testing.T) {
	store := testStore(clusterRole("pod-reader", readPods()))
	az := New(store)
	req := at(jane, "get", "team", "pods", "p")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			store.Set(binding("team", "devs", "ClusterRole", "pod-reader", groupSubject("devs")))
			if i%2 == 0 {
				store.Delete(binding("team", "devs", "ClusterRole", "pod-reader"))
			}
		}
	}()
	for range 2000 {
		az.Authorize(context.Background(), req)
	}
	<-done
	if !az.Authorize(context.Background(), req).Allowed() {
		t.Error("the last write was not seen")
	}
}
