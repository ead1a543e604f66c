package authz

import (
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ForbiddenMessage is what a denied request was not allowed to do, worded
// as upstream's forbiddenMessage:
//
//	User "jane" cannot list resource "pods" in API group "" in the namespace "default"
//	User "jane" cannot get resource "nodes/status" in API group "" at the cluster scope
//	User "jane" cannot get path "/metrics"
func ForbiddenMessage(a *Attributes) string {
	username := ""
	if a.User != nil {
		username = a.User.Name
	}
	if !a.ResourceRequest {
		return fmt.Sprintf("User %q cannot %s path %q", username, a.Verb, a.Path)
	}
	resource := a.Resource
	if a.Subresource != "" {
		resource += "/" + a.Subresource
	}
	if a.Namespace != "" {
		return fmt.Sprintf("User %q cannot %s resource %q in API group %q in the namespace %q", username, a.Verb, resource, a.APIGroup, a.Namespace)
	}
	return fmt.Sprintf("User %q cannot %s resource %q in API group %q at the cluster scope", username, a.Verb, resource, a.APIGroup)
}

// Forbidden is the 403 Status for a denied request, with the authorizer's
// reason appended as upstream's responsewriters.Forbidden does:
//
//	pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"
//	deployments.apps "web" is forbidden: User "jane" cannot get resource ...
//	forbidden: User "jane" cannot get path "/metrics"
func Forbidden(a *Attributes, reason string) *apierrors.StatusError {
	msg := ForbiddenMessage(a)
	if reason != "" {
		msg += ": " + reason
	}
	gr := schema.GroupResource{Group: a.APIGroup, Resource: a.Resource}
	return apierrors.NewForbidden(gr, a.Name, errors.New(msg))
}
