package apiserver

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/utils/ptr"

	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

// ReconcileKubernetesService makes the default/kubernetes service, with
// the first address of the service range, and its Endpoints and
// EndpointSlice point at this API server, as upstream's endpoint reconciler
// does: pods reach the API through it.
func (s *Server) ReconcileKubernetesService(ctx context.Context, advertise netip.Addr, port int) error {
	clusterIP := s.serviceCIDR.Masked().Addr().Next()
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault, Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeClusterIP,
			ClusterIP:             clusterIP.String(),
			ClusterIPs:            []string{clusterIP.String()},
			IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
			IPFamilyPolicy:        ptr.To(corev1.IPFamilyPolicySingleStack),
			InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyCluster),
			SessionAffinity:       corev1.ServiceAffinityNone,
			Ports:                 []corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, TargetPort: intstr.FromInt32(int32(port))}},
		},
	}
	if err := s.ensure(ctx, corev1.SchemeGroupVersion.WithResource("services"), svc, nil); err != nil {
		return err
	}
	endpoints := &corev1.Endpoints{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Endpoints"},
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault, Labels: map[string]string{discoveryv1.LabelSkipMirror: "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: advertise.String()}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: int32(port), Protocol: corev1.ProtocolTCP}},
		}},
	}
	if err := s.ensure(ctx, corev1.SchemeGroupVersion.WithResource("endpoints"), endpoints, func(current runtime.Object) bool {
		cur := current.(*corev1.Endpoints)
		return len(cur.Subsets) == 1 && len(cur.Subsets[0].Addresses) == 1 && cur.Subsets[0].Addresses[0].IP == advertise.String()
	}); err != nil {
		return err
	}
	slice := &discoveryv1.EndpointSlice{
		TypeMeta:    metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta:  metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault, Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{advertise.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(int32(port)), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	return s.ensure(ctx, discoveryv1.SchemeGroupVersion.WithResource("endpointslices"), slice, func(current runtime.Object) bool {
		cur := current.(*discoveryv1.EndpointSlice)
		return len(cur.Endpoints) == 1 && len(cur.Endpoints[0].Addresses) == 1 && cur.Endpoints[0].Addresses[0] == advertise.String()
	})
}

// ensure creates obj, or replaces the stored object when upToDate says it
// is stale (nil: an existing object is kept as it is).
func (s *Server) ensure(ctx context.Context, gvr schema.GroupVersionResource, obj runtime.Object, upToDate func(runtime.Object) bool) error {
	store, newObj := s.stores[gvr], s.handlers[gvr].Resource.New
	m := obj.(metav1.ObjectMetaAccessor).GetObjectMeta()
	key := s.key(gvr, m.GetNamespace(), m.GetName())
	m.SetUID(types.UID(uuid.NewUUID()))
	m.SetCreationTimestamp(metav1.Now())
	err := store.Create(ctx, key, obj, newObj())
	if !storage.IsExist(err) {
		if err != nil {
			return fmt.Errorf("create %s: %w", key, err)
		}
		return nil
	}
	if upToDate == nil {
		return nil
	}
	return store.GuaranteedUpdate(ctx, key, newObj(), false, nil, func(current runtime.Object) (runtime.Object, error) {
		if upToDate(current) {
			return current, nil
		}
		cm := current.(metav1.ObjectMetaAccessor).GetObjectMeta()
		m.SetUID(cm.GetUID())
		m.SetCreationTimestamp(cm.GetCreationTimestamp())
		m.SetResourceVersion("")
		return obj, nil
	})
}
