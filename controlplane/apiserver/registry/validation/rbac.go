package validation

import (
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validatePolicyRules(errs field.ErrorList, rules []rbacv1.PolicyRule, namespaced bool) field.ErrorList {
	rs := root("rules")
	for i := range rules {
		r := &rules[i]
		ri := rs.index(i)
		if len(r.Verbs) == 0 {
			errs = append(errs, field.Required(ri.path("verbs"), "verbs must contain at least one value"))
		}
		if len(r.NonResourceURLs) > 0 {
			if namespaced {
				errs = append(errs, field.Invalid(ri.path("nonResourceURLs"), r.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(r.APIGroups) > 0 || len(r.Resources) > 0 || len(r.ResourceNames) > 0 {
				errs = append(errs, field.Invalid(ri.path("nonResourceURLs"), r.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(r.APIGroups) == 0 {
			errs = append(errs, field.Required(ri.path("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(r.Resources) == 0 {
			errs = append(errs, field.Required(ri.path("resources"), "resource rules must supply at least one resource"))
		}
		if len(r.ResourceNames) > 0 && len(r.Resources) > 1 {
			errs = append(errs, field.Required(ri.path("resourceNames"), "resource names cannot apply to multiple resources"))
		}
	}
	return errs
}

func validateRole(r *rbacv1.Role) field.ErrorList {
	return validatePolicyRules(nil, r.Rules, true)
}

func validateClusterRole(r *rbacv1.ClusterRole) field.ErrorList {
	errs := validatePolicyRules(nil, r.Rules, false)
	if a := r.AggregationRule; a != nil {
		cs := root("aggregationRule.clusterRoleSelectors")
		if len(a.ClusterRoleSelectors) == 0 {
			errs = append(errs, field.Required(cs.path(), "at least one clusterRoleSelector required if aggregationRule is non-nil"))
		}
		for i := range a.ClusterRoleSelectors {
			sel := &a.ClusterRoleSelectors[i]
			ci := cs.index(i)
			errs = validateLabelSelector(errs, sel, false, &ci)
			if _, ok := selectorMatches(sel, nil); !ok {
				errs = append(errs, field.Invalid(ci.path(), sel, "invalid label selector."))
			}
		}
	}
	return errs
}

// internalRoleRef renders a roleRef as upstream does: its internal type,
// which has no JSON names.
type internalRoleRef struct {
	APIGroup string
	Kind     string
	Name     string
}

// validateRoleBinding checks a binding; namespaced tells a RoleBinding from
// a ClusterRoleBinding.
func validateRoleBinding(ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	rs := root("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(rs.path("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	kinds := []string{"Role", "ClusterRole"}
	if !namespaced {
		kinds = kinds[1:]
	}
	if !contains(kinds, ref.Kind) {
		errs = append(errs, field.NotSupported(rs.path("kind"), ref.Kind, kinds))
	}
	ns := rs.child("name")
	if len(ref.Name) == 0 {
		errs = append(errs, field.Required(ns.path(), ""))
	} else {
		errs = validateName(errs, ref.Name, validatePathSegmentName, &ns)
	}
	ss := root("subjects")
	for i := range subjects {
		si := ss.index(i)
		errs = validateSubject(errs, &subjects[i], namespaced, &si)
	}
	return errs
}

func validateSubject(errs field.ErrorList, sub *rbacv1.Subject, namespaced bool, s *step) field.ErrorList {
	ns := s.child("name")
	if len(sub.Name) == 0 {
		errs = append(errs, field.Required(ns.path(), ""))
	}
	switch sub.Kind {
	case rbacv1.ServiceAccountKind:
		if len(sub.Name) > 0 {
			errs = validateName(errs, sub.Name, nameIsDNSSubdomain, &ns)
		}
		if len(sub.APIGroup) > 0 {
			errs = append(errs, field.NotSupported(s.path("apiGroup"), sub.APIGroup, []string{""}))
		}
		if !namespaced && len(sub.Namespace) == 0 {
			errs = append(errs, field.Required(s.path("namespace"), ""))
		}
	case rbacv1.UserKind, rbacv1.GroupKind:
		if len(sub.Name) == 0 {
			what := "user"
			if sub.Kind == rbacv1.GroupKind {
				what = "group"
			}
			errs = append(errs, field.Invalid(ns.path(), sub.Name, what+" name cannot be empty"))
		}
		// An unset group is defaulted to RBAC's for users and groups.
		if sub.APIGroup != rbacv1.GroupName && sub.APIGroup != "" {
			errs = append(errs, field.NotSupported(s.path("apiGroup"), sub.APIGroup, []string{rbacv1.GroupName}))
		}
	default:
		errs = append(errs, field.NotSupported(s.path("kind"), sub.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
	}
	return errs
}

func validateRoleRefUpdate(errs field.ErrorList, ref, old rbacv1.RoleRef) field.ErrorList {
	if ref != old {
		errs = append(errs, field.Invalid(field.NewPath("roleRef"), internalRoleRef(ref), "cannot change roleRef"))
	}
	return errs
}
