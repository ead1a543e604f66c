package rbac

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// AggregatedRules returns the rules of every ClusterRole in roles, with
// the rules of ClusterRoles that have an AggregationRule replaced by what
// upstream's clusterrole-aggregation controller would settle on: the rules
// of the roles their selectors match, taken in name order, without
// duplicates. Aggregation is followed through (admin takes edit's rules,
// which include view's), which the controller reaches after a few passes.
// Roles without an AggregationRule keep their own rules.
func AggregatedRules(roles []*rbacv1.ClusterRole) map[string][]rbacv1.PolicyRule {
	sorted := slices.Clone(roles)
	slices.SortFunc(sorted, func(a, b *rbacv1.ClusterRole) int { return strings.Compare(a.Name, b.Name) })

	out := make(map[string][]rbacv1.PolicyRule, len(roles))
	visiting := map[string]bool{}
	var resolve func(r *rbacv1.ClusterRole) []rbacv1.PolicyRule
	resolve = func(r *rbacv1.ClusterRole) []rbacv1.PolicyRule {
		if rules, ok := out[r.Name]; ok {
			return rules
		}
		if r.AggregationRule == nil {
			out[r.Name] = r.Rules
			return r.Rules
		}
		if visiting[r.Name] {
			// A cycle of aggregated roles: settle on the rules as stored.
			return r.Rules
		}
		visiting[r.Name] = true
		var rules []rbacv1.PolicyRule
		for _, sel := range r.AggregationRule.ClusterRoleSelectors {
			selector, err := metav1.LabelSelectorAsSelector(&sel)
			if err != nil {
				continue
			}
			for _, other := range sorted {
				if other.Name == r.Name || !selector.Matches(labels.Set(other.Labels)) {
					continue
				}
				for _, rule := range resolve(other) {
					if !ruleExists(rules, rule) {
						rules = append(rules, rule)
					}
				}
			}
		}
		delete(visiting, r.Name)
		out[r.Name] = rules
		return rules
	}
	for _, r := range sorted {
		resolve(r)
	}
	return out
}

func ruleExists(rules []rbacv1.PolicyRule, rule rbacv1.PolicyRule) bool {
	for i := range rules {
		if equality.Semantic.DeepEqual(rules[i], rule) {
			return true
		}
	}
	return false
}
