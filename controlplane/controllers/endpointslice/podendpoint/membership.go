package podendpoint

import (
	"maps"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// ServicesSelecting returns the keys (namespace/name) of the Services in
// namespace whose selector matches podLabels. A Service without a
// selector selects nothing: its endpoints are written by someone else.
func ServicesSelecting(lister corelisters.ServiceLister, namespace string, podLabels labels.Set) (sets.Set[string], error) {
	services, err := lister.Services(namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	keys := sets.New[string]()
	for _, svc := range services {
		if svc.Spec.Selector == nil {
			continue
		}
		if labels.ValidatedSetSelector(svc.Spec.Selector).Matches(podLabels) {
			keys.Insert(svc.Namespace + "/" + svc.Name)
		}
	}
	return keys, nil
}

// ServicesToSyncOnPodUpdate returns the keys of the Services whose
// endpoints a pod update may change: none for a resync or a change that
// no endpoint shows; those selecting the pod when it changed in a way
// endpoints show; and when its labels changed, also those it left or
// joined.
func ServicesToSyncOnPodUpdate(lister corelisters.ServiceLister, oldObj, newObj any) (sets.Set[string], error) {
	oldPod, newPod := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	if oldPod.ResourceVersion == newPod.ResourceVersion {
		return nil, nil
	}
	podChanged, membershipChanged := endpointsChanged(oldPod, newPod)
	if !podChanged && !membershipChanged {
		return nil, nil
	}
	services, err := ServicesSelecting(lister, newPod.Namespace, newPod.Labels)
	if err != nil || !membershipChanged {
		return services, err
	}
	oldServices, err := ServicesSelecting(lister, oldPod.Namespace, oldPod.Labels)
	if err != nil {
		return nil, err
	}
	if podChanged {
		return services.Union(oldServices), nil
	}
	// Services that select the pod both before and after saw no change.
	return services.SymmetricDifference(oldServices), nil
}

// endpointsChanged reports whether the pod changed in a way its endpoints
// show, and whether it changed in a way that may change which Services
// select it. Name, namespace and uid are immutable, and the node name is
// set before the pod has an IP.
func endpointsChanged(oldPod, newPod *corev1.Pod) (podChanged, membershipChanged bool) {
	membershipChanged = !maps.Equal(oldPod.Labels, newPod.Labels)
	switch {
	case (oldPod.DeletionTimestamp == nil) != (newPod.DeletionTimestamp == nil):
		podChanged = true
	case IsReady(oldPod) != IsReady(newPod):
		podChanged = true
	case oldPod.Status.PodIP != newPod.Status.PodIP || !reflect.DeepEqual(oldPod.Status.PodIPs, newPod.Status.PodIPs):
		podChanged = true
	case oldPod.Status.Phase != newPod.Status.Phase:
		// A pod turning terminal leaves every Service.
		podChanged = true
	case oldPod.Spec.Hostname != newPod.Spec.Hostname || oldPod.Spec.Subdomain != newPod.Spec.Subdomain:
		// The API server keeps both immutable today; endpoints show them.
		podChanged = true
	}
	return podChanged, membershipChanged
}

// PodFromDeleteEvent returns the pod of an informer's delete event, which
// may be the last state the informer saw rather than the pod itself.
func PodFromDeleteEvent(obj any) (*corev1.Pod, bool) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	return pod, ok
}
