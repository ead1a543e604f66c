package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// listerObjects answers the plugins' questions about namespaces and
// services from the informers' caches.
type listerObjects struct {
	namespaces corelisters.NamespaceLister
	services   corelisters.ServiceLister
}

func (o listerObjects) NamespaceLabels(namespace string) labels.Set {
	ns, err := o.namespaces.Get(namespace)
	if err != nil {
		return nil
	}
	return ns.Labels
}

// ServiceSelector merges the selectors of the services in the pod's
// namespace that select it, as upstream's DefaultSelector does; services
// that match each other's pods cannot disagree.
func (o listerObjects) ServiceSelector(pod *corev1.Pod) labels.Selector {
	services, err := o.services.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var merged labels.Set
	for _, svc := range services {
		// A service without a selector selects nothing, not everything.
		if svc.Spec.Selector == nil || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			continue
		}
		if merged == nil {
			merged = labels.Set{}
		}
		for k, v := range svc.Spec.Selector {
			merged[k] = v
		}
	}
	if merged == nil {
		return nil
	}
	return labels.SelectorFromSet(merged)
}
