// Package subresource serves what the generic verbs of package rest do
// not: the subresources that act on their parent object (scale, binding,
// eviction, serviceaccounts/token, namespaces/finalize), the ones the
// kubelet answers (pods/log, exec, attach, portforward, nodes/proxy) and
// services/proxy, and the resources that are answered rather than stored
// (bindings, tokenreviews, selfsubjectreviews and the access and rules
// reviews), each as kube-apiserver's registry does.
//
// The handlers read and write their parents through the parents'
// rest.Handler, so that a scale or an eviction goes through the same
// strategy, admission, validation and storage as any other write.
//
// The requesting user comes from the request's context
// (request.UserFrom). A request without one (the server's own tests,
// which call the handlers without authentication) is taken as upstream's
// loopback identity, system:apiserver in system:masters; the server's
// authentication filter always sets a user.
package subresource

import (
	"context"
	"net/http"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kindish/kindish/controlplane/apiserver/auth/authz"
	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/rest"
)

// TokenReviewer answers TokenReviews (authn.TokenReviewer).
type TokenReviewer interface {
	Review(ctx context.Context, namespace string, review *authenticationv1.TokenReview) (*authenticationv1.TokenReview, error)
}

// TokenIssuer issues ServiceAccount tokens (serviceaccount.TokenRequests).
type TokenIssuer interface {
	Create(namespace, name string, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, []string, error)
}

// Config is what the handlers need from the server.
type Config struct {
	// Resources are the server's handlers, by group, version and
	// resource: the parents the subresources read and write. A
	// subresource whose parent is missing is not served.
	Resources map[schema.GroupVersionResource]*rest.Handler
	// Authorizer answers access reviews and Rules rules reviews.
	Authorizer authz.Authorizer
	Rules      authz.RuleResolver
	// Tokens answers tokenreviews; Issuer serviceaccounts/token.
	Tokens TokenReviewer
	Issuer TokenIssuer
	// Kubelet reaches the nodes' kubelets. Without one, the subresources
	// the kubelet serves answer 503.
	Kubelet KubeletDialer
	// PodTransport reaches pods for services/proxy; nil is
	// http.DefaultTransport, which reaches them from a control-plane node
	// as upstream's does.
	PodTransport http.RoundTripper
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Handler serves the subresources and virtual resources.
type Handler struct {
	cfg    Config
	routes map[route]verbs
}

// route is a resource, or one of its subresources, that Handler serves.
type route struct {
	gvr         schema.GroupVersionResource
	subresource string
}

// verbs are a route's handlers by request verb.
type verbs map[string]func(w http.ResponseWriter, r *http.Request, info *request.Info)

// New returns a Handler for what cfg's resources support.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, routes: map[route]verbs{}}
	h.addScale()
	h.addPods()
	h.addServiceAccounts()
	h.addNamespaces()
	h.addNodesAndServices()
	h.addReviews()
	return h
}

// add serves a resource's subresource ("" for the resource itself), if
// the server serves the resource.
func (h *Handler) add(gvr schema.GroupVersionResource, subresource string, v verbs) {
	if _, ok := h.cfg.Resources[gvr]; ok {
		h.routes[route{gvr, subresource}] = v
	}
}

// Serves reports whether the request is for something Handler answers.
func (h *Handler) Serves(info *request.Info) bool {
	_, ok := h.routes[routeOf(info)]
	return ok
}

func routeOf(info *request.Info) route {
	return route{schema.GroupVersionResource{Group: info.APIGroup, Version: info.APIVersion, Resource: info.Resource}, info.Subresource}
}

// ServeHTTP answers a request that Serves accepted.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, info *request.Info) {
	rt := routeOf(info)
	v, ok := h.routes[rt]
	if !ok {
		rest.WriteError(w, apierrors.NewNotFound(rt.groupResource(), info.Name))
		return
	}
	serve, ok := v[info.Verb]
	if !ok {
		rest.WriteError(w, apierrors.NewMethodNotSupported(rt.groupResource(), info.Verb))
		return
	}
	serve(w, r, info)
}

// groupResource names the route in errors: "deployments.apps/scale".
func (rt route) groupResource() schema.GroupResource {
	gr := rt.gvr.GroupResource()
	if rt.subresource != "" {
		gr.Resource += "/" + rt.subresource
	}
	return gr
}

// parent is the handler of the resource the request names.
func (h *Handler) parent(info *request.Info) *rest.Handler {
	return h.cfg.Resources[routeOf(info).gvr]
}

// resource is the handler of another resource.
func (h *Handler) resource(gvr schema.GroupVersionResource) *rest.Handler {
	return h.cfg.Resources[gvr]
}

func (h *Handler) now() time.Time {
	if h.cfg.Now != nil {
		return h.cfg.Now()
	}
	return time.Now()
}

// loopbackUser is who a request without a user is taken for: upstream's
// identity for the API server's own clients.
var loopbackUser = &user.User{Name: user.APIServer, Groups: []string{user.SystemPrivilegedGroup, user.AllAuthenticated}}

// userOf is the requesting user.
func userOf(ctx context.Context) *user.User {
	if u, ok := request.UserFrom(ctx); ok {
		return u
	}
	return loopbackUser
}

// writeObject answers with obj, whose kind is set, as JSON.
func writeObject(w http.ResponseWriter, code int, obj runtime.Object, gvk schema.GroupVersionKind) {
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	rest.WriteJSON(w, code, obj)
}

// writeSuccess is upstream's answer to a create that returns no object
// (binding, eviction): a Status carrying the HTTP code.
func writeSuccess(w http.ResponseWriter, code int) {
	rest.WriteJSON(w, code, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Code:     int32(code),
	})
}

// decode reads the request's body into obj, of kind gvk, and reconciles
// its namespace with namespace, the one the URL gives it ("" for a
// cluster-scoped kind), as upstream's create handler does: an empty one
// is the URL's, a cluster-scoped object has none, and a different one is
// refused.
func decode(w http.ResponseWriter, r *http.Request, namespace string, obj runtime.Object, gvk schema.GroupVersionKind) error {
	warnings, err := rest.DecodeBody(w, r, obj, gvk)
	if err != nil {
		return err
	}
	rest.AddWarnings(w, warnings)
	om, ok := obj.(metav1.Object)
	if !ok {
		return nil
	}
	switch {
	case om.GetNamespace() == namespace:
	case om.GetNamespace() == "", namespace == "":
		om.SetNamespace(namespace)
	default:
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	return nil
}

// unavailable is the answer for what the server was built without.
func unavailable(what string) error {
	return apierrors.NewServiceUnavailable(what + " is not available on this server")
}
