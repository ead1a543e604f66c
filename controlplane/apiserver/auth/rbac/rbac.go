// Package rbac is the RBAC authorizer (upstream's
// plugin/pkg/auth/authorizer/rbac with the rule resolver of
// pkg/registry/rbac/validation): a request is allowed when a
// ClusterRoleBinding, or a RoleBinding in the request's namespace, binds
// the user, one of its groups or its ServiceAccount to a role with a rule
// that grants it.
package rbac

import (
	"context"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"github.com/kindish/kindish/controlplane/apiserver/auth/authz"
	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

// Authorizer authorizes requests against a Store.
type Authorizer struct {
	store *Store
}

var (
	_ authz.Authorizer   = (*Authorizer)(nil)
	_ authz.RuleResolver = (*Authorizer)(nil)
)

// New returns an Authorizer over store.
func New(store *Store) *Authorizer {
	return &Authorizer{store: store}
}

// Authorize allows the request if a rule bound to its user grants it, and
// otherwise has no opinion, as upstream: RBAC never denies outright. The
// allow's reason names the binding ("RBAC: allowed by ClusterRoleBinding
// ..."); a no-opinion's reason lists bindings whose roles are missing.
//
// The cost is that of the bindings naming the user or its groups, not of
// all bindings, and an allow allocates nothing.
func (a *Authorizer) Authorize(_ context.Context, attrs *authz.Attributes) authz.Result {
	u := attrs.User
	if u == nil {
		return authz.Result{Decision: authz.NoOpinion}
	}
	idx := a.store.current()
	var errs []error
	if g := idx.cluster.allowing(u, attrs, &errs); g != nil {
		return authz.Result{Decision: authz.Allow, Why: g}
	}
	if attrs.Namespace != "" {
		if ns := idx.namespaces[attrs.Namespace]; ns != nil {
			if g := ns.allowing(u, attrs, &errs); g != nil {
				return authz.Result{Decision: authz.Allow, Why: g}
			}
		}
	}
	res := authz.Result{Decision: authz.NoOpinion}
	if len(errs) > 0 {
		res.Why = authz.Reason("RBAC: " + utilerrors.NewAggregate(errs).Error())
	}
	return res
}

// allowing returns the first grant of u's that allows attrs, collecting
// the errors of unresolvable grants it meets on the way.
func (s *subjects) allowing(u *user.User, attrs *authz.Attributes, errs *[]error) *grant {
	if g := firstAllowing(s.users[u.Name], attrs, errs); g != nil {
		return g
	}
	for _, group := range u.Groups {
		if g := firstAllowing(s.groups[group], attrs, errs); g != nil {
			return g
		}
	}
	return nil
}

func firstAllowing(grants []*grant, attrs *authz.Attributes, errs *[]error) *grant {
	for _, g := range grants {
		if g.err != nil {
			*errs = append(*errs, g.err)
			continue
		}
		for i := range g.rules {
			if RuleAllows(attrs, &g.rules[i]) {
				return g
			}
		}
	}
	return nil
}

// RulesFor lists the rules bound to u, cluster-wide and in namespace, for
// SelfSubjectRulesReview: each binding's role's rules once, cluster
// bindings first, each set in binding name order. As upstream, the list
// is never reported incomplete; unresolvable roles are the error.
func (a *Authorizer) RulesFor(_ context.Context, u *user.User, namespace string) ([]authorizationv1.ResourceRule, []authorizationv1.NonResourceRule, bool, error) {
	idx := a.store.current()
	var (
		resource    []authorizationv1.ResourceRule
		nonResource []authorizationv1.NonResourceRule
		errs        []error
	)
	collect := func(s *subjects) {
		for _, g := range s.grantsOf(u) {
			if g.err != nil {
				errs = append(errs, g.err)
				continue
			}
			for _, r := range g.rules {
				if len(r.Resources) > 0 {
					resource = append(resource, authorizationv1.ResourceRule{
						Verbs:         r.Verbs,
						APIGroups:     r.APIGroups,
						Resources:     r.Resources,
						ResourceNames: r.ResourceNames,
					})
				}
				if len(r.NonResourceURLs) > 0 {
					nonResource = append(nonResource, authorizationv1.NonResourceRule{
						Verbs:           r.Verbs,
						NonResourceURLs: r.NonResourceURLs,
					})
				}
			}
		}
	}
	collect(&idx.cluster)
	if namespace != "" {
		if ns := idx.namespaces[namespace]; ns != nil {
			collect(ns)
		}
	}
	return resource, nonResource, false, utilerrors.NewAggregate(errs)
}

// grantsOf returns the grants of u's name and groups, one per binding
// (a binding naming both the user and a group counts once), by name.
func (s *subjects) grantsOf(u *user.User) []*grant {
	var out []*grant
	seen := map[string]bool{}
	add := func(gs []*grant) {
		for _, g := range gs {
			if !seen[g.name] {
				seen[g.name] = true
				out = append(out, g)
			}
		}
	}
	add(s.users[u.Name])
	for _, group := range u.Groups {
		add(s.groups[group])
	}
	slices.SortStableFunc(out, func(a, b *grant) int { return strings.Compare(a.name, b.name) })
	return out
}

// Policy is a set of RBAC objects, for loading a Store in one go.
type Policy struct {
	ClusterRoles        []rbacv1.ClusterRole
	ClusterRoleBindings []rbacv1.ClusterRoleBinding
	Roles               []rbacv1.Role
	RoleBindings        []rbacv1.RoleBinding
}

// Load adds every object of p to the store (copies of them).
func (s *Store) Load(p Policy) {
	for i := range p.ClusterRoles {
		s.Set(p.ClusterRoles[i].DeepCopy())
	}
	for i := range p.ClusterRoleBindings {
		s.Set(p.ClusterRoleBindings[i].DeepCopy())
	}
	for i := range p.Roles {
		s.Set(p.Roles[i].DeepCopy())
	}
	for i := range p.RoleBindings {
		s.Set(p.RoleBindings[i].DeepCopy())
	}
}
