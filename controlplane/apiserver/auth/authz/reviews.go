package authz

import (
	"context"
	"fmt"
	"maps"

	authorizationv1 "k8s.io/api/authorization/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

// RuleResolver lists what a user may do in a namespace, for
// SelfSubjectRulesReview (kubectl auth can-i --list). incomplete says the
// list may miss rules an authorizer grants without being able to list them.
type RuleResolver interface {
	RulesFor(ctx context.Context, u *user.User, namespace string) (resource []authorizationv1.ResourceRule, nonResource []authorizationv1.NonResourceRule, incomplete bool, err error)
}

// SubjectAccessReview answers whether the user and groups of the spec may
// do what it describes. The spec's groups are used as given:
// system:authenticated is not added.
func SubjectAccessReview(ctx context.Context, az Authorizer, sar *authorizationv1.SubjectAccessReview) (*authorizationv1.SubjectAccessReview, error) {
	errs := validateSpec(sar.Spec, field.NewPath("spec"), true)
	if !metaIsEmpty(sar.ObjectMeta) {
		errs = append(errs, field.Invalid(field.NewPath("metadata"), sar.ObjectMeta, `must be empty`))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(authorizationv1.SchemeGroupVersion.WithKind("SubjectAccessReview").GroupKind(), "", errs)
	}
	out := sar.DeepCopy()
	out.Status = review(ctx, az, specUser(out.Spec), out.Spec.ResourceAttributes, out.Spec.NonResourceAttributes)
	return out, nil
}

// LocalSubjectAccessReview is SubjectAccessReview within namespace, the
// namespace of the request's URL.
func LocalSubjectAccessReview(ctx context.Context, az Authorizer, namespace string, sar *authorizationv1.LocalSubjectAccessReview) (*authorizationv1.LocalSubjectAccessReview, error) {
	errs := validateSpec(sar.Spec, field.NewPath("spec"), true)
	meta := sar.ObjectMeta
	meta.Namespace = ""
	if !metaIsEmpty(meta) {
		errs = append(errs, field.Invalid(field.NewPath("metadata"), sar.ObjectMeta, `must be empty except for namespace`))
	}
	if ra := sar.Spec.ResourceAttributes; ra != nil && ra.Namespace != sar.Namespace {
		errs = append(errs, field.Invalid(field.NewPath("spec.resourceAttributes.namespace"), ra.Namespace, `must match metadata.namespace`))
	}
	if sar.Spec.NonResourceAttributes != nil {
		errs = append(errs, field.Invalid(field.NewPath("spec.nonResourceAttributes"), sar.Spec.NonResourceAttributes, `disallowed on this kind of request`))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(authorizationv1.SchemeGroupVersion.WithKind("LocalSubjectAccessReview").GroupKind(), "", errs)
	}
	if namespace == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("namespace is required on this type: %v", namespace))
	}
	if namespace != sar.Namespace {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("spec.resourceAttributes.namespace must match namespace: %v", namespace))
	}
	out := sar.DeepCopy()
	out.Status = review(ctx, az, specUser(out.Spec), out.Spec.ResourceAttributes, nil)
	return out, nil
}

// SelfSubjectAccessReview answers whether u, the requester, may do what
// the spec describes (kubectl auth can-i).
func SelfSubjectAccessReview(ctx context.Context, az Authorizer, u *user.User, sar *authorizationv1.SelfSubjectAccessReview) (*authorizationv1.SelfSubjectAccessReview, error) {
	spec := authorizationv1.SubjectAccessReviewSpec{ResourceAttributes: sar.Spec.ResourceAttributes, NonResourceAttributes: sar.Spec.NonResourceAttributes}
	if errs := validateSpec(spec, field.NewPath("spec"), false); len(errs) > 0 {
		return nil, apierrors.NewInvalid(authorizationv1.SchemeGroupVersion.WithKind("SelfSubjectAccessReview").GroupKind(), "", errs)
	}
	if u == nil {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	out := sar.DeepCopy()
	out.Status = review(ctx, az, u, out.Spec.ResourceAttributes, out.Spec.NonResourceAttributes)
	return out, nil
}

// SelfSubjectRulesReview lists what u, the requester, may do in the
// spec's namespace (kubectl auth can-i --list). As upstream, the answer
// carries the status only.
func SelfSubjectRulesReview(ctx context.Context, rr RuleResolver, u *user.User, ssrr *authorizationv1.SelfSubjectRulesReview) (*authorizationv1.SelfSubjectRulesReview, error) {
	if u == nil {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	if ssrr.Spec.Namespace == "" {
		return nil, apierrors.NewBadRequest("no namespace on request")
	}
	resource, nonResource, incomplete, err := rr.RulesFor(ctx, u, ssrr.Spec.Namespace)
	out := &authorizationv1.SelfSubjectRulesReview{
		Status: authorizationv1.SubjectRulesReviewStatus{
			ResourceRules:    resource,
			NonResourceRules: nonResource,
			Incomplete:       incomplete,
		},
	}
	if out.Status.ResourceRules == nil {
		out.Status.ResourceRules = []authorizationv1.ResourceRule{}
	}
	if out.Status.NonResourceRules == nil {
		out.Status.NonResourceRules = []authorizationv1.NonResourceRule{}
	}
	if err != nil {
		out.Status.EvaluationError = err.Error()
	}
	return out, nil
}

// ResourceAttributesFrom are the attributes a review's resource
// attributes describe, as upstream's authorizationutil.
func ResourceAttributesFrom(u *user.User, in *authorizationv1.ResourceAttributes) *Attributes {
	version := in.Version
	if version == "" {
		version = "*"
	}
	return &Attributes{
		User:            u,
		Verb:            in.Verb,
		Namespace:       in.Namespace,
		APIGroup:        in.Group,
		APIVersion:      version,
		Resource:        in.Resource,
		Subresource:     in.Subresource,
		Name:            in.Name,
		ResourceRequest: true,
	}
}

// NonResourceAttributesFrom are the attributes of a non-resource review.
func NonResourceAttributesFrom(u *user.User, in *authorizationv1.NonResourceAttributes) *Attributes {
	return &Attributes{User: u, Verb: in.Verb, Path: in.Path}
}

func review(ctx context.Context, az Authorizer, u *user.User, ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) authorizationv1.SubjectAccessReviewStatus {
	var a *Attributes
	if ra != nil {
		a = ResourceAttributesFrom(u, ra)
	} else {
		a = NonResourceAttributesFrom(u, nra)
	}
	r := az.Authorize(ctx, a)
	status := authorizationv1.SubjectAccessReviewStatus{
		Allowed: r.Decision == Allow,
		Denied:  r.Decision == Deny,
		Reason:  r.Reason(),
	}
	if r.Err != nil {
		status.EvaluationError = r.Err.Error()
	}
	return status
}

func specUser(spec authorizationv1.SubjectAccessReviewSpec) *user.User {
	u := &user.User{Name: spec.User, UID: spec.UID, Groups: spec.Groups}
	if len(spec.Extra) > 0 {
		u.Extra = make(map[string][]string, len(spec.Extra))
		for k, v := range maps.All(spec.Extra) {
			u.Extra[k] = []string(v)
		}
	}
	return u
}

// validateSpec is upstream's ValidateSubjectAccessReviewSpec (needSubject)
// and ValidateSelfSubjectAccessReviewSpec.
func validateSpec(spec authorizationv1.SubjectAccessReviewSpec, path *field.Path, needSubject bool) field.ErrorList {
	var errs field.ErrorList
	if spec.ResourceAttributes != nil && spec.NonResourceAttributes != nil {
		errs = append(errs, field.Invalid(path.Child("nonResourceAttributes"), spec.NonResourceAttributes, `cannot be specified in combination with resourceAttributes`))
	}
	if spec.ResourceAttributes == nil && spec.NonResourceAttributes == nil {
		errs = append(errs, field.Invalid(path.Child("resourceAttributes"), spec.NonResourceAttributes, `exactly one of nonResourceAttributes or resourceAttributes must be specified`))
	}
	if needSubject && spec.User == "" && len(spec.Groups) == 0 {
		errs = append(errs, field.Invalid(path.Child("user"), spec.User, `at least one of user or group must be specified`))
	}
	return errs
}

func metaIsEmpty(m metav1.ObjectMeta) bool {
	m.ManagedFields = nil
	return apiequality.Semantic.DeepEqual(metav1.ObjectMeta{}, m)
}
