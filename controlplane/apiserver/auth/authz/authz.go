// Package authz decides whether an authenticated user may do what a
// request asks, as k8s.io/apiserver's authorization does: the attributes
// of a request, the decision of an authorizer, the chain of authorizers,
// the Forbidden error, and the access and rules reviews built on them.
package authz

import (
	"context"
	"fmt"
	"slices"
	"strings"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

// Attributes are what a request asks for, as upstream's AttributesRecord.
type Attributes struct {
	User *user.User
	// Verb is get, list, watch, create, update, patch, delete,
	// deletecollection (or impersonate, bind, escalate, ...) for resource
	// requests; the lower-case HTTP method for the others.
	Verb            string
	Namespace       string
	APIGroup        string
	APIVersion      string
	Resource        string
	Subresource     string
	Name            string
	Path            string
	ResourceRequest bool
}

// Decision is an authorizer's answer.
type Decision int8

const (
	// NoOpinion leaves the decision to the next authorizer; if none
	// allows, the request is forbidden.
	NoOpinion Decision = iota
	Allow
	Deny
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "NoOpinion"
}

// Result is a decision with its reason. The reason is a Stringer so that
// an allow can name the binding that granted it without building that
// text on every request; Reason renders it when someone asks (audit,
// SubjectAccessReview, the 403 message).
type Result struct {
	Decision Decision
	Why      fmt.Stringer
	// Err is an evaluation error. Authorizers may allow despite one.
	Err error
}

// Allowed reports whether the request may proceed.
func (r Result) Allowed() bool { return r.Decision == Allow }

// Reason is the text of Why, or "".
func (r Result) Reason() string {
	if r.Why == nil {
		return ""
	}
	return r.Why.String()
}

// Reason is a plain-text reason.
type Reason string

func (r Reason) String() string { return string(r) }

// Authorizer decides on requests. It is called on every request and must
// be cheap and safe for concurrent use.
type Authorizer interface {
	Authorize(ctx context.Context, a *Attributes) Result
}

// Union asks authorizers in order, as upstream's union authorizer: the
// first Allow or Deny decides; if all have no opinion, their reasons are
// joined by newlines and their errors aggregated.
type Union []Authorizer

// Authorize implements Authorizer.
func (u Union) Authorize(ctx context.Context, a *Attributes) Result {
	var (
		errs    []error
		reasons []string
	)
	for _, z := range u {
		r := z.Authorize(ctx, a)
		if r.Decision != NoOpinion {
			return r
		}
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
		if s := r.Reason(); s != "" {
			reasons = append(reasons, s)
		}
	}
	res := Result{Decision: NoOpinion, Err: utilerrors.NewAggregate(errs)}
	if len(reasons) > 0 {
		res.Why = Reason(strings.Join(reasons, "\n"))
	}
	return res
}

// PrivilegedGroups allows everything to members of its groups and has no
// opinion on anyone else: upstream's authorizer for system:masters, which
// kube-apiserver puts before Node and RBAC.
type PrivilegedGroups []string

// Authorize implements Authorizer.
func (p PrivilegedGroups) Authorize(_ context.Context, a *Attributes) Result {
	if a.User != nil {
		for _, g := range a.User.Groups {
			if slices.Contains(p, g) {
				return Result{Decision: Allow}
			}
		}
	}
	return Result{Decision: NoOpinion}
}

// New is kube-apiserver's authorization chain for this cluster:
// system:masters, then rbac.
func New(rbac Authorizer) Union {
	return Union{PrivilegedGroups{user.SystemPrivilegedGroup}, rbac}
}
