package bootstrappolicy

import (
	"context"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kindish/kindish/controlplane/apiserver/auth/authz"
	"github.com/kindish/kindish/controlplane/apiserver/auth/rbac"
	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

func clusterRoleRules(t *testing.T, name string) []rbacv1.PolicyRule {
	t.Helper()
	for _, r := range ClusterRoles() {
		if r.Name == name {
			return r.Rules
		}
	}
	t.Fatalf("no ClusterRole %q", name)
	return nil
}

func res(verb, group, resource, subresource, name string) *authz.Attributes {
	return &authz.Attributes{Verb: verb, APIGroup: group, Resource: resource, Subresource: subresource, Name: name, ResourceRequest: true}
}

func path(verb, p string) *authz.Attributes { return &authz.Attributes{Verb: verb, Path: p} }

// The spot checks upstream's own tests and documentation make of the
// default roles.
func TestDefaultRoles(t *testing.T) {
	tests := []struct {
		role  string
		req   *authz.Attributes
		allow bool
	}{
		{"cluster-admin", res("delete", "apps", "deployments", "", "x"), true},
		{"cluster-admin", res("escalate", "rbac.authorization.k8s.io", "clusterroles", "", "x"), true},
		{"cluster-admin", res("get", "", "nodes", "proxy", "n"), true},
		{"cluster-admin", path("post", "/anything/at/all"), true},

		{"view", res("list", "", "pods", "", ""), true},
		{"view", res("get", "", "pods", "log", "p"), true},
		{"view", res("get", "apps", "deployments", "scale", "d"), true},
		{"view", res("get", "", "secrets", "", "s"), false},
		{"view", res("list", "", "secrets", "", ""), false},
		{"view", res("create", "", "pods", "exec", "p"), false},
		{"view", res("create", "", "pods", "", ""), false},
		{"view", res("list", "rbac.authorization.k8s.io", "roles", "", ""), false},

		{"edit", res("get", "", "secrets", "", "s"), true},
		{"edit", res("create", "apps", "deployments", "", ""), true},
		{"edit", res("create", "", "pods", "exec", "p"), true},
		{"edit", res("impersonate", "", "serviceaccounts", "", "builder"), true},
		{"edit", res("list", "", "pods", "", ""), true}, // aggregated from view
		{"edit", res("create", "rbac.authorization.k8s.io", "rolebindings", "", ""), false},
		{"edit", res("update", "", "resourcequotas", "", "q"), false},
		{"edit", res("update", "", "pods", "status", "p"), false},

		{"admin", res("create", "rbac.authorization.k8s.io", "rolebindings", "", ""), true},
		{"admin", res("delete", "", "secrets", "", "s"), true},
		{"admin", res("create", "authorization.k8s.io", "localsubjectaccessreviews", "", ""), true},
		{"admin", res("update", "", "namespaces", "", "ns"), false},

		{"system:kube-scheduler", res("create", "", "pods", "binding", "p"), true},
		{"system:kube-scheduler", res("create", "", "bindings", "", ""), true},
		{"system:kube-scheduler", res("create", "", "events", "", ""), true},
		{"system:kube-scheduler", res("patch", "events.k8s.io", "events", "", "e"), true},
		{"system:kube-scheduler", res("update", "coordination.k8s.io", "leases", "", "kube-scheduler"), true},
		{"system:kube-scheduler", res("update", "coordination.k8s.io", "leases", "", "kube-controller-manager"), false},
		{"system:kube-scheduler", res("watch", "", "nodes", "", ""), true},
		{"system:kube-scheduler", res("update", "", "nodes", "", "n"), false},

		{"system:node", res("get", "", "nodes", "", "n"), true},
		{"system:node", res("create", "", "nodes", "", ""), true},
		{"system:node", res("update", "", "nodes", "status", "n"), true},
		{"system:node", res("patch", "", "nodes", "status", "n"), true},
		{"system:node", res("delete", "", "nodes", "", "n"), false},
		{"system:node", res("patch", "", "pods", "status", "p"), true},
		{"system:node", res("create", "", "serviceaccounts", "token", "sa"), true},
		{"system:node", res("update", "coordination.k8s.io", "leases", "", "n"), true},
		{"system:node", res("get", "", "secrets", "", "s"), true},

		{"system:node-proxier", res("watch", "discovery.k8s.io", "endpointslices", "", ""), true},
		{"system:node-proxier", res("list", "", "services", "", ""), true},

		{"system:discovery", path("get", "/apis/apps/v1"), true},
		{"system:discovery", path("get", "/version"), true},
		{"system:discovery", path("get", "/metrics"), false},
		{"system:public-info-viewer", path("get", "/readyz"), true},
		{"system:public-info-viewer", path("get", "/readyz/etcd"), false},
		{"system:public-info-viewer", path("get", "/api"), false},
		{"system:monitoring", path("get", "/readyz/etcd"), true},
		{"system:monitoring", path("get", "/metrics"), true},
		{"system:service-account-issuer-discovery", path("get", "/openid/v1/jwks"), true},

		{"system:controller:namespace-controller", res("deletecollection", "apps", "deployments", "", ""), true},
		{"system:controller:disruption-controller", res("get", "apps", "statefulsets", "scale", "s"), true},
		{"system:controller:generic-garbage-collector", res("patch", "example.com", "widgets", "", "w"), true},
		{"system:controller:deployment-controller", res("create", "apps", "replicasets", "", ""), true},
		{"system:controller:root-ca-cert-publisher", res("create", "", "configmaps", "", ""), true},
	}
	for _, tt := range tests {
		if got := rbac.RulesAllow(tt.req, clusterRoleRules(t, tt.role)...); got != tt.allow {
			t.Errorf("%s: %s %s/%s/%s %q %s: allowed = %v, want %v", tt.role, tt.req.Verb, tt.req.APIGroup, tt.req.Resource, tt.req.Subresource, tt.req.Name, tt.req.Path, got, tt.allow)
		}
	}
}

// With --use-service-account-credentials the controller manager reads
// each controller's ServiceAccount and asks for its tokens; its own role
// must allow that, and leader election.
func TestControllerManagerCanUseServiceAccountCredentials(t *testing.T) {
	rules := clusterRoleRules(t, "system:kube-controller-manager")
	for _, req := range []*authz.Attributes{
		res("get", "", "serviceaccounts", "", "deployment-controller"),
		res("create", "", "serviceaccounts", "", ""),
		res("create", "", "serviceaccounts", "token", "deployment-controller"),
		res("create", "", "secrets", "", ""),
		res("list", "apps", "deployments", "", ""),
		res("watch", "", "pods", "", ""),
		res("create", "coordination.k8s.io", "leases", "", ""),
		res("update", "coordination.k8s.io", "leases", "", "kube-controller-manager"),
		res("create", "authentication.k8s.io", "tokenreviews", "", ""),
	} {
		if !rbac.RulesAllow(req, rules...) {
			t.Errorf("cannot %s %s/%s/%s %q", req.Verb, req.APIGroup, req.Resource, req.Subresource, req.Name)
		}
	}
	if rbac.RulesAllow(res("delete", "", "pods", "", "p"), rules...) {
		t.Error("the controller manager's own identity can delete pods")
	}
}

func TestObjectsAreLabelledAsUpstreams(t *testing.T) {
	check := func(kind, name string, labels, annotations map[string]string) {
		if labels[BootstrappingLabelKey] != BootstrappingLabelValue || annotations[AutoUpdateAnnotationKey] != "true" {
			t.Errorf("%s %s: labels %v annotations %v", kind, name, labels, annotations)
		}
	}
	for _, o := range ClusterRoles() {
		check("ClusterRole", o.Name, o.Labels, o.Annotations)
	}
	for _, o := range ClusterRoleBindings() {
		check("ClusterRoleBinding", o.Name, o.Labels, o.Annotations)
	}
	for _, o := range Roles() {
		check("Role", o.Namespace+"/"+o.Name, o.Labels, o.Annotations)
	}
	for _, o := range RoleBindings() {
		check("RoleBinding", o.Namespace+"/"+o.Name, o.Labels, o.Annotations)
	}
}

func TestPolicyIsConsistent(t *testing.T) {
	roles := map[string]rbacv1.ClusterRole{}
	for _, r := range ClusterRoles() {
		if _, dup := roles[r.Name]; dup {
			t.Errorf("ClusterRole %s twice", r.Name)
		}
		roles[r.Name] = r
		if len(r.Rules) == 0 {
			t.Errorf("ClusterRole %s has no rules", r.Name)
		}
		for _, rule := range r.Rules {
			if !slices.IsSorted(rule.Verbs) || !slices.IsSorted(rule.Resources) {
				t.Errorf("ClusterRole %s: rule %v not sorted as upstream writes it", r.Name, rule)
			}
		}
	}
	for _, want := range []string{
		"cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery", "system:public-info-viewer",
		"system:node", "system:node-proxier", "system:kube-scheduler", "system:kube-controller-manager", "system:volume-scheduler",
		"system:kube-dns", "system:service-account-issuer-discovery", "system:monitoring",
		"system:certificates.k8s.io:certificatesigningrequests:nodeclient", "system:certificates.k8s.io:kube-apiserver-client-approver",
		"system:controller:namespace-controller", "system:controller:deployment-controller", "system:controller:replicaset-controller",
		"system:controller:daemon-set-controller", "system:controller:statefulset-controller", "system:controller:job-controller",
		"system:controller:cronjob-controller", "system:controller:endpoint-controller", "system:controller:endpointslice-controller",
		"system:controller:node-controller", "system:controller:pod-garbage-collector", "system:controller:generic-garbage-collector",
		"system:controller:resourcequota-controller", "system:controller:service-account-controller",
		"system:controller:ttl-after-finished-controller", "system:controller:root-ca-cert-publisher",
	} {
		if _, ok := roles[want]; !ok {
			t.Errorf("no ClusterRole %s", want)
		}
	}
	bound := map[string]bool{}
	for _, b := range ClusterRoleBindings() {
		if _, ok := roles[b.RoleRef.Name]; !ok || b.RoleRef.Kind != "ClusterRole" {
			t.Errorf("ClusterRoleBinding %s refers to %v", b.Name, b.RoleRef)
		}
		if b.Name != b.RoleRef.Name {
			t.Errorf("ClusterRoleBinding %s binds %s", b.Name, b.RoleRef.Name)
		}
		bound[b.Name] = true
	}
	for name := range roles {
		if strings.HasPrefix(name, "system:controller:") && !bound[name] {
			t.Errorf("controller role %s is not bound", name)
		}
	}
	nsRoles := map[string]bool{}
	for _, r := range Roles() {
		nsRoles[r.Namespace+"/"+r.Name] = true
	}
	for _, b := range RoleBindings() {
		if !nsRoles[b.Namespace+"/"+b.RoleRef.Name] {
			t.Errorf("RoleBinding %s/%s refers to missing Role %s", b.Namespace, b.Name, b.RoleRef.Name)
		}
	}
}

// Decisions through the API server's chain (system:masters, then RBAC)
// over the whole bootstrap policy, for the cluster's own identities.
func TestClusterIdentities(t *testing.T) {
	store := rbac.NewStore()
	store.Load(Policy())
	az := authz.New(rbac.New(store))
	ctx := context.Background()

	authenticated := func(name string, groups ...string) *user.User {
		return &user.User{Name: name, Groups: append(groups, user.AllAuthenticated)}
	}
	sa := func(ns, name string) *user.User {
		return authenticated("system:serviceaccount:"+ns+":"+name, "system:serviceaccounts", "system:serviceaccounts:"+ns)
	}
	admin := authenticated("kubernetes-admin", "kubeadm:cluster-admins", user.SystemPrivilegedGroup)
	node := authenticated("system:node:kindish-worker", user.NodesGroup)
	scheduler := authenticated(user.KubeScheduler)
	kcm := authenticated(user.KubeControllerManager)
	proxy := authenticated(user.KubeProxy)
	jane := authenticated("jane")
	anonymous := user.NewAnonymous()

	with := func(u *user.User, a *authz.Attributes, ns string) *authz.Attributes {
		c := *a
		c.User, c.Namespace = u, ns
		return &c
	}
	tests := []struct {
		name  string
		attrs *authz.Attributes
		allow bool
	}{
		{"admin deletes a node", with(admin, res("delete", "", "nodes", "", "n"), ""), true},
		{"kubelet registers its node", with(node, res("create", "", "nodes", "", ""), ""), true},
		{"kubelet reports node status", with(node, res("patch", "", "nodes", "status", "kindish-worker"), ""), true},
		{"kubelet renews its lease", with(node, res("update", "coordination.k8s.io", "leases", "", "kindish-worker"), "kube-node-lease"), true},
		{"kubelet cannot delete deployments", with(node, res("delete", "apps", "deployments", "", "d"), "default"), false},
		{"scheduler binds", with(scheduler, res("create", "", "pods", "binding", "p"), "default"), true},
		{"scheduler holds its lease", with(scheduler, res("get", "coordination.k8s.io", "leases", "", "kube-scheduler"), "kube-system"), true},
		{"scheduler reads volume bindings", with(scheduler, res("update", "", "persistentvolumes", "", "pv"), ""), true},
		{"controller manager mints controller tokens", with(kcm, res("create", "", "serviceaccounts", "token", "deployment-controller"), "kube-system"), true},
		{"controller manager leader locking", with(kcm, res("watch", "coordination.k8s.io", "leases", "", ""), "kube-system"), true},
		{"deployment controller creates replica sets", with(sa("kube-system", "deployment-controller"), res("create", "apps", "replicasets", "", ""), "default"), true},
		{"deployment controller cannot read secrets", with(sa("kube-system", "deployment-controller"), res("get", "", "secrets", "", "s"), "default"), false},
		{"kube-proxy watches slices", with(proxy, res("watch", "discovery.k8s.io", "endpointslices", "", ""), ""), true},
		{"any user discovers", with(jane, path("get", "/apis/apps/v1"), ""), true},
		{"any user asks what it may do", with(jane, res("create", "authorization.k8s.io", "selfsubjectrulesreviews", "", ""), ""), true},
		{"a user with no bindings lists nothing", with(jane, res("list", "", "pods", "", ""), "default"), false},
		{"service accounts read the issuer's keys", with(sa("default", "default"), path("get", "/openid/v1/jwks"), ""), true},
		{"anonymous health check", with(anonymous, path("get", "/healthz"), ""), true},
		{"anonymous detailed health check", with(anonymous, path("get", "/readyz/etcd"), ""), false},
		{"anonymous discovery", with(anonymous, path("get", "/api"), ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := az.Authorize(ctx, tt.attrs)
			if r.Allowed() != tt.allow {
				t.Errorf("allowed = %v (%s), want %v", r.Allowed(), r.Reason(), tt.allow)
			}
		})
	}

	got := authz.Forbidden(with(jane, res("list", "", "pods", "", ""), "default"), az.Authorize(ctx, with(jane, res("list", "", "pods", "", ""), "default")).Reason())
	if want := `pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"`; got.Error() != want {
		t.Errorf("denial = %s\nwant    %s", got.Error(), want)
	}
}

func TestKubeadmAddonPolicy(t *testing.T) {
	store := rbac.NewStore()
	store.Load(Policy())
	store.Load(rbac.Policy{ClusterRoles: KubeadmClusterRoles(), ClusterRoleBindings: KubeadmClusterRoleBindings()})
	az := authz.New(rbac.New(store))
	coredns := &user.User{Name: "system:serviceaccount:kube-system:coredns", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", user.AllAuthenticated}}
	if !az.Authorize(context.Background(), &authz.Attributes{User: coredns, Verb: "watch", APIGroup: "discovery.k8s.io", Resource: "endpointslices", ResourceRequest: true}).Allowed() {
		t.Error("CoreDNS cannot watch EndpointSlices")
	}
	clusterAdmin := &user.User{Name: "someone", Groups: []string{"kubeadm:cluster-admins", user.AllAuthenticated}}
	if !az.Authorize(context.Background(), &authz.Attributes{User: clusterAdmin, Verb: "delete", Resource: "nodes", Name: "n", ResourceRequest: true}).Allowed() {
		t.Error("kubeadm:cluster-admins is not cluster-admin")
	}
}
