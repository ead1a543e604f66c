package apiserver

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/kindish/kindish/controlplane/apiserver/admission"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

// systemNamespaces exist in every cluster, as upstream's system namespaces
// controller makes them.
var systemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// Bootstrap creates what the cluster needs before any client: the system
// namespaces and the system priority classes. It is idempotent, so every API server start runs it.
func (s *Server) Bootstrap(ctx context.Context) error {
	namespaces := corev1.SchemeGroupVersion.WithResource("namespaces")
	store := s.stores[namespaces]
	var errs []error
	for _, name := range systemNamespaces {
		ns := &corev1.Namespace{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{
				Name:              name,
				UID:               types.UID(uuid.NewUUID()),
				CreationTimestamp: metav1.Now(),
				Labels:            map[string]string{corev1.LabelMetadataName: name},
			},
			Spec:   corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
			Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
		}
		err := store.Create(ctx, s.key(namespaces, "", name), ns, &corev1.Namespace{})
		if err != nil && !storage.IsExist(err) {
			errs = append(errs, fmt.Errorf("create namespace %s: %w", name, err))
		}
	}
	priorityClasses := schedulingv1.SchemeGroupVersion.WithResource("priorityclasses")
	classes := s.stores[priorityClasses]
	for _, pc := range admission.SystemPriorityClasses() {
		pc.TypeMeta = metav1.TypeMeta{APIVersion: "scheduling.k8s.io/v1", Kind: "PriorityClass"}
		pc.UID = types.UID(uuid.NewUUID())
		pc.CreationTimestamp = metav1.Now()
		err := classes.Create(ctx, s.key(priorityClasses, "", pc.Name), &pc, &schedulingv1.PriorityClass{})
		if err != nil && !storage.IsExist(err) {
			errs = append(errs, fmt.Errorf("create priority class %s: %w", pc.Name, err))
		}
	}
	return errors.Join(errs...)
}
