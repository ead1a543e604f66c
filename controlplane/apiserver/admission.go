package apiserver

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kindish/kindish/controlplane/apiserver/admission"
	"github.com/kindish/kindish/controlplane/apiserver/rest"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

// cached returns the resource's store behind a listCache, which Start
// keeps fed.
func (s *Server) cached(gvr schema.GroupVersionResource) storage.Interface {
	if c, ok := s.caches[gvr]; ok {
		return c
	}
	h := s.handlers[gvr]
	c := newListCache(s.stores[gvr], rest.KeyPrefix(h.Resource)+"/")
	s.caches[gvr] = c
	return c
}

// admissionChain is the server's admission plugins, in upstream's order.
func (s *Server) admissionChain(cfg Config) rest.Admission {
	namespacesGVR := corev1.SchemeGroupVersion.WithResource("namespaces")
	servicesGVR := corev1.SchemeGroupVersion.WithResource("services")
	namespaces := s.cached(namespacesGVR)
	services := s.stores[servicesGVR]
	quotas := s.cached(corev1.SchemeGroupVersion.WithResource("resourcequotas"))
	return admission.Chain(
		admission.NamespaceLifecycle{Get: func(ctx context.Context, name string) (*corev1.Namespace, error) {
			ns := &corev1.Namespace{}
			if err := namespaces.Get(ctx, s.key(namespacesGVR, "", name), storage.GetOptions{}, ns); err != nil {
				return nil, storage.ToAPIError(err, corev1.Resource("namespaces"), name)
			}
			return ns, nil
		}},
		admission.LimitRanger{Store: s.cached(corev1.SchemeGroupVersion.WithResource("limitranges"))},
		admission.ServiceAccount{},
		admission.Priority{Store: s.cached(schedulingv1.SchemeGroupVersion.WithResource("priorityclasses"))},
		admission.DefaultTolerationSeconds{},
		admission.ServiceIPs{
			Store:    services,
			CIDR:     cfg.ServiceCIDR,
			PortBase: 30000,
			PortSize: 2768,
			ServiceExists: func(ctx context.Context, namespace, name, uid string) (bool, error) {
				svc := &corev1.Service{}
				err := services.Get(ctx, s.key(servicesGVR, namespace, name), storage.GetOptions{IgnoreNotFound: true}, svc)
				return err == nil && svc.Name != "" && string(svc.UID) == uid, err
			},
		},
		// Last, as upstream: quota charges for the object as the plugins
		// before it left it.
		admission.ResourceQuota{Store: quotas, Objects: admission.StoreObjects{Resources: cfg.Resources, Stores: s.stores}},
	)
}
