package apiserver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kindish/kindish/controlplane/apiserver/auth"
	"github.com/kindish/kindish/controlplane/apiserver/auth/rbac"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

// AuthConfig is what the server needs to know who is calling.
type AuthConfig struct {
	// ServiceAccountKey signs ServiceAccount tokens (PEM); the public keys
	// verify them.
	ServiceAccountKey        []byte
	ServiceAccountPublicKeys []byte
	// Issuer of ServiceAccount tokens; upstream's default when empty.
	Issuer string
}

// DefaultIssuer is kubeadm's --service-account-issuer.
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

func (s *Server) setUpAuth(cfg AuthConfig) error {
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	s.rbac = rbac.NewStore()
	a, err := auth.New(auth.Config{
		ServiceAccountKey:        cfg.ServiceAccountKey,
		ServiceAccountPublicKeys: cfg.ServiceAccountPublicKeys,
		Issuer:                   cfg.Issuer,
		APIAudiences:             []string{cfg.Issuer},
		Getter:                   storeGetter{s},
		RBAC:                     s.rbac,
	})
	if err != nil {
		return err
	}
	s.auth = a
	return nil
}

// storeGetter reads the objects tokens are bound to, for token checks.
type storeGetter struct{ s *Server }

func (g storeGetter) get(resource, namespace, name string, out runtime.Object) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gvr := corev1.SchemeGroupVersion.WithResource(resource)
	err := g.s.stores[gvr].Get(ctx, g.s.key(gvr, namespace, name), storage.GetOptions{}, out)
	return storage.ToAPIError(err, corev1.Resource(resource), name)
}

func (g storeGetter) GetServiceAccount(namespace, name string) (*corev1.ServiceAccount, error) {
	sa := &corev1.ServiceAccount{}
	return sa, g.get("serviceaccounts", namespace, name, sa)
}

func (g storeGetter) GetPod(namespace, name string) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	return pod, g.get("pods", namespace, name, pod)
}

func (g storeGetter) GetSecret(namespace, name string) (*corev1.Secret, error) {
	secret := &corev1.Secret{}
	return secret, g.get("secrets", namespace, name, secret)
}

func (g storeGetter) GetNode(name string) (*corev1.Node, error) {
	node := &corev1.Node{}
	return node, g.get("nodes", "", name, node)
}

// bootstrapWriters is how many bootstrap objects are written at once.
// One after another, the 150 default roles and bindings are 150 etcd
// commits, a fifth of a second of every start on a loaded node; written
// together they share commits.
const bootstrapWriters = 16

// bootstrapRBAC writes upstream's default roles and bindings. Objects
// marked rbac.authorization.kubernetes.io/autoupdate=true are brought back
// to the default on every start, as upstream reconciles them.
func (s *Server) bootstrapRBAC(ctx context.Context, policy rbac.Policy) error {
	var (
		mu   sync.Mutex
		errs []error
		g    errgroup.Group
	)
	g.SetLimit(bootstrapWriters)
	put := func(resource string, namespace, name string, obj runtime.Object) {
		g.Go(func() error {
			if err := s.putBootstrapObject(ctx, resource, namespace, name, obj); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("bootstrap %s %s: %w", resource, name, err))
				mu.Unlock()
			}
			return nil
		})
	}
	for i := range policy.ClusterRoles {
		r := &policy.ClusterRoles[i]
		put("clusterroles", "", r.Name, r)
	}
	for i := range policy.ClusterRoleBindings {
		b := &policy.ClusterRoleBindings[i]
		put("clusterrolebindings", "", b.Name, b)
	}
	for i := range policy.Roles {
		r := &policy.Roles[i]
		put("roles", r.Namespace, r.Name, r)
	}
	for i := range policy.RoleBindings {
		b := &policy.RoleBindings[i]
		put("rolebindings", b.Namespace, b.Name, b)
	}
	g.Wait()
	return errors.Join(errs...)
}

// putBootstrapObject creates one default object, or brings an existing one
// marked for auto-update back to the default.
func (s *Server) putBootstrapObject(ctx context.Context, resource, namespace, name string, obj runtime.Object) error {
	gvr := rbacv1.SchemeGroupVersion.WithResource(resource)
	key := s.key(gvr, namespace, name)
	m := obj.(metav1.ObjectMetaAccessor).GetObjectMeta()
	if created := m.GetCreationTimestamp(); created.IsZero() {
		m.SetCreationTimestamp(metav1.Now())
	}
	store := s.stores[gvr]
	err := store.Create(ctx, key, obj, s.handlers[gvr].Resource.New())
	if storage.IsExist(err) && m.GetAnnotations()[rbacv1.AutoUpdateAnnotationKey] == "true" {
		return store.GuaranteedUpdate(ctx, key, s.handlers[gvr].Resource.New(), false, nil, func(current runtime.Object) (runtime.Object, error) {
			cm := current.(metav1.ObjectMetaAccessor).GetObjectMeta()
			if cm.GetAnnotations()[rbacv1.AutoUpdateAnnotationKey] != "true" {
				return current, nil // the administrator took it over
			}
			m.SetUID(cm.GetUID())
			m.SetCreationTimestamp(cm.GetCreationTimestamp())
			m.SetResourceVersion("")
			return obj, nil
		})
	}
	if storage.IsExist(err) {
		return nil
	}
	return err
}

// apiErrorOf turns a watch error event's object into an error.
func apiErrorOf(obj runtime.Object) error {
	if st, ok := obj.(*metav1.Status); ok {
		return &apierrors.StatusError{ErrStatus: *st}
	}
	return fmt.Errorf("watch error: %v", obj)
}
