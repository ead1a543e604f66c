package bootstrappolicy

import (
	"fmt"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
)

// ruleBuilder writes a PolicyRule the way upstream's policy is written
// (rbacv1helpers.NewRule(...).Groups(...).Resources(...).RuleOrDie()),
// which keeps the roles below easy to compare with upstream's.
type ruleBuilder struct{ r rbacv1.PolicyRule }

func rule(verbs ...string) *ruleBuilder {
	return &ruleBuilder{rbacv1.PolicyRule{Verbs: verbs}}
}

func (b *ruleBuilder) groups(g ...string) *ruleBuilder    { b.r.APIGroups = g; return b }
func (b *ruleBuilder) resources(r ...string) *ruleBuilder { b.r.Resources = r; return b }
func (b *ruleBuilder) names(n ...string) *ruleBuilder     { b.r.ResourceNames = n; return b }
func (b *ruleBuilder) urls(u ...string) *ruleBuilder      { b.r.NonResourceURLs = u; return b }

// build sorts verbs, resources, names and URLs (not groups), as upstream's
// builder does, so the objects match upstream's byte for byte. The policy
// is static: a malformed rule is a programming error, caught by the
// package's tests.
func (b *ruleBuilder) build() rbacv1.PolicyRule {
	r := b.r
	switch {
	case len(r.Verbs) == 0:
		panic(fmt.Sprintf("bootstrap policy: rule without verbs: %#v", r))
	case len(r.NonResourceURLs) > 0 && (len(r.APIGroups) > 0 || len(r.Resources) > 0 || len(r.ResourceNames) > 0):
		panic(fmt.Sprintf("bootstrap policy: non-resource rule with resources: %#v", r))
	case len(r.Resources) > 0 && len(r.APIGroups) == 0:
		panic(fmt.Sprintf("bootstrap policy: resource rule without apiGroups: %#v", r))
	case len(r.Resources) == 0 && len(r.NonResourceURLs) == 0:
		panic(fmt.Sprintf("bootstrap policy: rule without resources or nonResourceURLs: %#v", r))
	}
	r.Verbs = sortedCopy(r.Verbs)
	r.Resources = sortedCopy(r.Resources)
	r.ResourceNames = sortedCopy(r.ResourceNames)
	r.NonResourceURLs = sortedCopy(r.NonResourceURLs)
	r.APIGroups = slices.Clone(r.APIGroups)
	return r
}

func sortedCopy(s []string) []string {
	if s == nil {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func rules(bs ...*ruleBuilder) []rbacv1.PolicyRule {
	out := make([]rbacv1.PolicyRule, len(bs))
	for i, b := range bs {
		out[i] = b.build()
	}
	return out
}

// Verb sets of upstream's policy.
var (
	read       = []string{"get", "list", "watch"}
	write      = []string{"create", "update", "patch", "delete", "deletecollection"}
	readWrite  = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	readUpdate = []string{"get", "list", "watch", "update", "patch"}
)

// API groups the policy names.
const (
	legacyGroup         = ""
	admissionGroup      = "admissionregistration.k8s.io"
	appsGroup           = "apps"
	authenticationGroup = "authentication.k8s.io"
	authorizationGroup  = "authorization.k8s.io"
	autoscalingGroup    = "autoscaling"
	batchGroup          = "batch"
	certificatesGroup   = "certificates.k8s.io"
	coordinationGroup   = "coordination.k8s.io"
	discoveryGroup      = "discovery.k8s.io"
	eventsGroup         = "events.k8s.io"
	extensionsGroup     = "extensions"
	networkingGroup     = "networking.k8s.io"
	nodeGroup           = "node.k8s.io"
	policyGroup         = "policy"
	rbacGroup           = "rbac.authorization.k8s.io"
	resourceGroup       = "resource.k8s.io"
	storageGroup        = "storage.k8s.io"
)

// eventsRule lets a component record events in either events API.
func eventsRule() *ruleBuilder {
	return rule("create", "update", "patch").groups(legacyGroup, eventsGroup).resources("events")
}
