// Package apiserver is kindish's kube-apiserver: the Kubernetes REST API
// over etcd, for the real kubectl and client-go. The resources are the
// registry's table; each is served by a rest.Handler on storage.Interface.
package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"

	kversion "github.com/kindish/kindish/cluster/version"
	"github.com/kindish/kindish/controlplane/apiserver/auth"
	"github.com/kindish/kindish/controlplane/apiserver/auth/bootstrappolicy"
	"github.com/kindish/kindish/controlplane/apiserver/auth/rbac"
	"github.com/kindish/kindish/controlplane/apiserver/discovery"
	"github.com/kindish/kindish/controlplane/apiserver/openapi"
	"github.com/kindish/kindish/controlplane/apiserver/registry"
	"github.com/kindish/kindish/controlplane/apiserver/rest"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
	"github.com/kindish/kindish/controlplane/apiserver/strategy"
	"github.com/kindish/kindish/controlplane/apiserver/subresource"
)

// Server is the API server's HTTP handler.
type Server struct {
	log      *slog.Logger
	etcd     *clientv3.Client
	handlers map[schema.GroupVersionResource]*rest.Handler
	stores   map[schema.GroupVersionResource]storage.Interface
	mux      *http.ServeMux
	// handler is the whole chain: authentication and authorization, then
	// the mux.
	handler http.Handler
	auth    *auth.Auth
	rbac    *rbac.Store
	metrics *metrics
	// caches serve admission's reads of namespaces, quotas and limit
	// ranges from memory.
	caches map[schema.GroupVersionResource]*listCache
	// serviceCIDR is where ClusterIPs come from.
	serviceCIDR netip.Prefix
	// subresources serves what the resources' handlers do not: scale,
	// binding, eviction, token, finalize, the kubelet's subresources and
	// the reviews.
	subresources *subresource.Handler
}

// Config builds a Server.
type Config struct {
	// Etcd is the connection to etcd; the server is its only client.
	Etcd *clientv3.Client
	// Resources to serve; nil serves strategy.Resources().
	Resources []registry.Resource
	// ServiceCIDR is where ClusterIPs come from (10.96.0.0/16 by default).
	ServiceCIDR netip.Prefix
	// ServerAddress is advertised in discovery (host:port).
	ServerAddress string
	// Auth configures authentication; it is required: nothing but health
	// checks is served to anonymous clients.
	Auth AuthConfig
	// Kubelet reaches the nodes' kubelets for pods/log, exec, attach,
	// portforward and nodes/proxy; without one those answer 503.
	Kubelet subresource.KubeletDialer
	// DeleteCollectionWorkers is how many objects a deletecollection
	// request deletes at once (kube-apiserver's --delete-collection-workers);
	// 0 means DefaultDeleteCollectionWorkers.
	DeleteCollectionWorkers int
	Log                     *slog.Logger
}

// DefaultDeleteCollectionWorkers is kindish's default for
// --delete-collection-workers. Upstream's is 1; concurrent deletes cost
// etcd one commit for many, and the namespace controller's deletes of a
// namespace's pods, the bulk of a test's teardown, end sooner: 10,000
// pods in 25 s one at a time, in 11 s eight at a time (two cores, the
// scheduler watching them all).
const DefaultDeleteCollectionWorkers = 8

// New builds the server: a store and a handler per resource, the
// admission chain, discovery and OpenAPI.
func New(cfg Config) (*Server, error) {
	if cfg.Resources == nil {
		cfg.Resources = strategy.Resources()
	}
	if cfg.DeleteCollectionWorkers == 0 {
		cfg.DeleteCollectionWorkers = DefaultDeleteCollectionWorkers
	}
	if !cfg.ServiceCIDR.IsValid() {
		cfg.ServiceCIDR = netip.MustParsePrefix("10.96.0.0/16")
	}
	s := &Server{
		log:      cfg.Log,
		etcd:     cfg.Etcd,
		handlers: map[schema.GroupVersionResource]*rest.Handler{},
		stores:   map[schema.GroupVersionResource]storage.Interface{},
		caches:   map[schema.GroupVersionResource]*listCache{},
		mux:      http.NewServeMux(),

		serviceCIDR: cfg.ServiceCIDR,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := s.setUpAuth(cfg.Auth); err != nil {
		return nil, err
	}
	for i := range cfg.Resources {
		r := &cfg.Resources[i]
		s.stores[r.GroupVersionResource()] = storage.New(cfg.Etcd, nil, storage.WithNewFunc(r.New))
	}
	for i := range cfg.Resources {
		r := &cfg.Resources[i]
		s.handlers[r.GroupVersionResource()] = &rest.Handler{Resource: r, Store: s.stores[r.GroupVersionResource()], DeleteCollectionWorkers: cfg.DeleteCollectionWorkers}
	}
	admit := s.admissionChain(cfg)
	for gvr, h := range s.handlers {
		h.Admit = admit
		// Writes to cached resources go through their cache.
		if c, ok := s.caches[gvr]; ok {
			h.Store = writeThrough{c}
		}
	}
	s.subresources = subresource.New(subresource.Config{
		Resources: s.handlers, Authorizer: s.auth.Authorizer, Rules: s.auth.Rules, Tokens: s.auth.TokenReviews, Issuer: s.auth.TokenRequests,
		Kubelet: cfg.Kubelet,
	})

	disc, err := discovery.Build(cfg.Resources, cfg.ServerAddress)
	if err != nil {
		return nil, fmt.Errorf("build discovery: %w", err)
	}
	// Built on first request: see openapi.Lazy.
	oapi := openapi.NewLazy(cfg.Resources)
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		s.mux.HandleFunc(p, s.health)
		s.mux.HandleFunc(p+"/", s.health)
	}
	s.mux.HandleFunc("/version", s.version)
	s.mux.HandleFunc("/version/", s.version)
	s.mux.Handle("/openapi/", oapi)
	s.mux.HandleFunc("/api", disc.ServeHTTP)
	s.mux.HandleFunc("/apis", disc.ServeHTTP)
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) { s.resource(w, r, disc) })
	s.mux.HandleFunc("/apis/", func(w http.ResponseWriter, r *http.Request) { s.resource(w, r, disc) })
	s.metrics = newMetrics()
	s.mux.Handle("/metrics", s.metrics.handler())
	s.handler = withRequestInfo(s.metrics.instrument(s.withAuth(s.mux)))
	return s, nil
}

// Start bootstraps the cluster's built-in objects and starts what the
// server keeps in memory (RBAC), returning once it is ready to authorize.
// It runs until ctx ends.
func (s *Server) Start(ctx context.Context) error {
	if err := s.Bootstrap(ctx); err != nil {
		return err
	}
	if err := s.bootstrapRBAC(ctx, bootstrappolicy.Policy()); err != nil {
		return err
	}
	for gvr, c := range s.caches {
		go s.feed(ctx, gvr, c, c.synced)
	}
	var synced []chan struct{}
	for _, resource := range []string{"clusterroles", "clusterrolebindings", "roles", "rolebindings"} {
		ch := make(chan struct{})
		synced = append(synced, ch)
		go s.feed(ctx, rbacv1.SchemeGroupVersion.WithResource(resource), s.rbac, ch)
	}
	for _, ch := range synced {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// key is where an object of the resource lives in etcd; the resource's
// handler owns the layout.
func (s *Server) key(gvr schema.GroupVersionResource, namespace, name string) string {
	return s.handlers[gvr].Key(namespace, name)
}

// ready checks that etcd answers.
func (s *Server) ready(ctx context.Context) error {
	_, err := s.etcd.Get(ctx, "health", clientv3.WithCountOnly())
	return err
}

// Mount adds a handler for a path that is not a resource (discovery,
// OpenAPI, metrics).
func (s *Server) Mount(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ServeHTTP answers a request. A panic in a handler becomes a 500 for that
// request; the server stays up.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			rest.WriteError(w, apierrors.NewInternalError(fmt.Errorf("panic: %v", v)))
		}
	}()
	s.handler.ServeHTTP(w, r)
}

func (s *Server) resource(w http.ResponseWriter, r *http.Request, disc http.Handler) {
	if discovery.IsDiscoveryPath(r.URL.Path) {
		disc.ServeHTTP(w, r)
		return
	}
	info := requestInfo(r)
	if !info.IsResourceRequest {
		rest.WriteError(w, apierrors.NewNotFound(schema.GroupResource{}, info.Path))
		return
	}
	if s.subresources.Serves(info) {
		s.subresources.ServeHTTP(w, r, info)
		return
	}
	gvr := schema.GroupVersionResource{Group: info.APIGroup, Version: info.APIVersion, Resource: info.Resource}
	h, ok := s.handlers[gvr]
	if !ok {
		rest.WriteError(w, notFoundPath(r.URL.Path))
		return
	}
	h.ServeHTTP(w, r, info)
}

// notFoundPath is upstream's answer for a path nothing serves.
func notFoundPath(string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Message: "the server could not find the requested resource",
		Reason:  metav1.StatusReasonNotFound,
		Details: &metav1.StatusDetails{},
		Code:    http.StatusNotFound,
	}}
}

// health answers /healthz, /livez and /readyz (and their per-check
// sub-paths) in upstream's plain-text form. /readyz also checks etcd.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	checkEtcd := strings.HasPrefix(r.URL.Path, "/readyz") || strings.HasPrefix(r.URL.Path, "/healthz")
	var failure error
	if checkEtcd {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		failure = s.ready(ctx)
		cancel()
	}
	verbose := r.URL.Query().Has("verbose")
	if failure != nil {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "[-]etcd failed: reason withheld\n")
		fmt.Fprintf(w, "%s check failed\n", strings.Trim(strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0], "/"))
		s.log.Warn("health check failed", "path", r.URL.Path, "error", failure)
		return
	}
	if verbose {
		fmt.Fprintf(w, "[+]ping ok\n[+]etcd ok\n%s check passed\n", strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0])
		return
	}
	fmt.Fprint(w, "ok")
}

// version answers /version as upstream, with the Kubernetes version kindish
// speaks.
func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	v := kversion.KubernetesVersion
	major, minor := "1", ""
	if parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3); len(parts) >= 2 {
		major, minor = parts[0], parts[1]
	}
	rest.WriteJSON(w, http.StatusOK, &version.Info{
		Major:        major,
		Minor:        minor,
		GitVersion:   v,
		GitTreeState: "clean",
		BuildDate:    "",
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	})
}
