package replicaset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// managedKind is what the controller needs of the API kind it manages.
// ReplicaSets are used as they are; ReplicationControllers are converted
// to ReplicaSets on the way in and back on the way out, as upstream's
// replication package does: to the controller, a ReplicationController
// is an older version of ReplicaSet with a map for a selector.
type managedKind interface {
	gvk() schema.GroupVersionKind
	informer() cache.SharedIndexInformer
	// fromObject converts an object of the informer's.
	fromObject(obj any) (*appsv1.ReplicaSet, bool)
	// get reads the cache.
	get(namespace, name string) (*appsv1.ReplicaSet, error)
	// selecting lists, from the cache, those whose selector matches pod.
	selecting(pod *corev1.Pod) []*appsv1.ReplicaSet
	// getFresh reads the API server, bypassing the cache.
	getFresh(ctx context.Context, namespace, name string) (*appsv1.ReplicaSet, error)
	updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error)
	// countsTerminating says whether the kind's status has
	// terminatingReplicas: ReplicaSet's does, ReplicationController's
	// does not.
	countsTerminating() bool
}

var (
	replicaSetKind            = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
	replicationControllerKind = corev1.SchemeGroupVersion.WithKind("ReplicationController")
)

type replicaSets struct {
	client kubernetes.Interface
	inf    cache.SharedIndexInformer
	lister appslisters.ReplicaSetLister
}

func newReplicaSets(client kubernetes.Interface, factory informers.SharedInformerFactory) *replicaSets {
	i := factory.Apps().V1().ReplicaSets()
	return &replicaSets{client: client, inf: i.Informer(), lister: i.Lister()}
}

func (k *replicaSets) gvk() schema.GroupVersionKind        { return replicaSetKind }
func (k *replicaSets) informer() cache.SharedIndexInformer { return k.inf }
func (k *replicaSets) countsTerminating() bool             { return true }

func (k *replicaSets) fromObject(obj any) (*appsv1.ReplicaSet, bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	rs, ok := obj.(*appsv1.ReplicaSet)
	return rs, ok
}

func (k *replicaSets) get(namespace, name string) (*appsv1.ReplicaSet, error) {
	return k.lister.ReplicaSets(namespace).Get(name)
}

func (k *replicaSets) selecting(pod *corev1.Pod) []*appsv1.ReplicaSet {
	rss, err := k.lister.GetPodReplicaSets(pod)
	if err != nil {
		return nil
	}
	return rss
}

func (k *replicaSets) getFresh(ctx context.Context, namespace, name string) (*appsv1.ReplicaSet, error) {
	return k.client.AppsV1().ReplicaSets(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (k *replicaSets) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	return k.client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{})
}

type replicationControllers struct {
	client kubernetes.Interface
	inf    cache.SharedIndexInformer
	lister corelisters.ReplicationControllerLister
}

func newReplicationControllers(client kubernetes.Interface, factory informers.SharedInformerFactory) *replicationControllers {
	i := factory.Core().V1().ReplicationControllers()
	return &replicationControllers{client: client, inf: i.Informer(), lister: i.Lister()}
}

func (k *replicationControllers) gvk() schema.GroupVersionKind        { return replicationControllerKind }
func (k *replicationControllers) informer() cache.SharedIndexInformer { return k.inf }
func (k *replicationControllers) countsTerminating() bool             { return false }

func (k *replicationControllers) fromObject(obj any) (*appsv1.ReplicaSet, bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	rc, ok := obj.(*corev1.ReplicationController)
	if !ok {
		return nil, false
	}
	return rcToRS(rc), true
}

func (k *replicationControllers) get(namespace, name string) (*appsv1.ReplicaSet, error) {
	rc, err := k.lister.ReplicationControllers(namespace).Get(name)
	if err != nil {
		return nil, err
	}
	return rcToRS(rc), nil
}

func (k *replicationControllers) selecting(pod *corev1.Pod) []*appsv1.ReplicaSet {
	rcs, err := k.lister.GetPodControllers(pod)
	if err != nil {
		return nil
	}
	out := make([]*appsv1.ReplicaSet, 0, len(rcs))
	for _, rc := range rcs {
		out = append(out, rcToRS(rc))
	}
	return out
}

func (k *replicationControllers) getFresh(ctx context.Context, namespace, name string) (*appsv1.ReplicaSet, error) {
	rc, err := k.client.CoreV1().ReplicationControllers(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return rcToRS(rc), nil
}

func (k *replicationControllers) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	rc, err := k.client.CoreV1().ReplicationControllers(rs.Namespace).UpdateStatus(ctx, rsToRC(rs), metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	return rcToRS(rc), nil
}

// rcToRS is a ReplicationController as the ReplicaSet it would be. The
// result shares nothing with rc.
func rcToRS(rc *corev1.ReplicationController) *appsv1.ReplicaSet {
	rc = rc.DeepCopy()
	rs := &appsv1.ReplicaSet{
		ObjectMeta: rc.ObjectMeta,
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        rc.Spec.Replicas,
			MinReadySeconds: rc.Spec.MinReadySeconds,
			Selector:        &metav1.LabelSelector{MatchLabels: rc.Spec.Selector},
		},
		Status: appsv1.ReplicaSetStatus{
			Replicas:             rc.Status.Replicas,
			FullyLabeledReplicas: rc.Status.FullyLabeledReplicas,
			ReadyReplicas:        rc.Status.ReadyReplicas,
			AvailableReplicas:    rc.Status.AvailableReplicas,
			ObservedGeneration:   rc.Status.ObservedGeneration,
		},
	}
	if rc.Spec.Template != nil {
		rs.Spec.Template = *rc.Spec.Template
	}
	for _, c := range rc.Status.Conditions {
		rs.Status.Conditions = append(rs.Status.Conditions, appsv1.ReplicaSetCondition{
			Type:               appsv1.ReplicaSetConditionType(c.Type),
			Status:             c.Status,
			LastTransitionTime: c.LastTransitionTime,
			Reason:             c.Reason,
			Message:            c.Message,
		})
	}
	return rs
}

// rsToRC is the way back of rcToRS.
func rsToRC(rs *appsv1.ReplicaSet) *corev1.ReplicationController {
	rs = rs.DeepCopy()
	template := rs.Spec.Template
	rc := &corev1.ReplicationController{
		ObjectMeta: rs.ObjectMeta,
		Spec: corev1.ReplicationControllerSpec{
			Replicas:        rs.Spec.Replicas,
			MinReadySeconds: rs.Spec.MinReadySeconds,
			Template:        &template,
		},
		Status: corev1.ReplicationControllerStatus{
			Replicas:             rs.Status.Replicas,
			FullyLabeledReplicas: rs.Status.FullyLabeledReplicas,
			ReadyReplicas:        rs.Status.ReadyReplicas,
			AvailableReplicas:    rs.Status.AvailableReplicas,
			ObservedGeneration:   rs.Status.ObservedGeneration,
		},
	}
	if rs.Spec.Selector != nil {
		rc.Spec.Selector = rs.Spec.Selector.MatchLabels
	}
	for _, c := range rs.Status.Conditions {
		rc.Status.Conditions = append(rc.Status.Conditions, corev1.ReplicationControllerCondition{
			Type:               corev1.ReplicationControllerConditionType(c.Type),
			Status:             c.Status,
			LastTransitionTime: c.LastTransitionTime,
			Reason:             c.Reason,
			Message:            c.Message,
		})
	}
	return rc
}

// Informer indexes, named for this package so that other controllers'
// indexes on the shared informers cannot clash with them.
const (
	podsByControllerIndex = "replicaset.kindish.io/pods-by-controller"
	byControllerIndex     = "replicaset.kindish.io/by-controller"
)

// orphanKey indexes the pods of a namespace that no controller owns,
// those a controller there may adopt.
func orphanKey(namespace string) string { return "orphan/" + namespace }

// addPodIndex indexes pods by their controller's UID, orphans by
// namespace, so that a sync looks only at the pods it may own (upstream's
// FilterPodsByOwner). The ReplicaSet and ReplicationController
// controllers share the one index.
func addPodIndex(inf cache.SharedIndexInformer) error {
	if _, ok := inf.GetIndexer().GetIndexers()[podsByControllerIndex]; ok {
		return nil
	}
	return inf.AddIndexers(cache.Indexers{podsByControllerIndex: func(obj any) ([]string, error) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return nil, nil
		}
		if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
			return []string{string(ref.UID)}, nil
		}
		return []string{orphanKey(pod.Namespace)}, nil
	}})
}

// addControllerIndex indexes the managed objects by their own
// controller's UID, to find a ReplicaSet's siblings under one
// Deployment.
func addControllerIndex(inf cache.SharedIndexInformer) error {
	if _, ok := inf.GetIndexer().GetIndexers()[byControllerIndex]; ok {
		return nil
	}
	return inf.AddIndexers(cache.Indexers{byControllerIndex: func(obj any) ([]string, error) {
		m, ok := obj.(metav1.Object)
		if !ok {
			return nil, nil
		}
		if ref := metav1.GetControllerOfNoCopy(m); ref != nil {
			return []string{string(ref.UID)}, nil
		}
		return nil, nil
	}})
}

// podsOwnedOrOrphaned are the pods the controller with uid in namespace
// owns, and those it could adopt.
func podsOwnedOrOrphaned(indexer cache.Indexer, namespace string, uid types.UID) ([]*corev1.Pod, error) {
	var pods []*corev1.Pod
	for _, key := range []string{string(uid), orphanKey(namespace)} {
		objs, err := indexer.ByIndex(podsByControllerIndex, key)
		if err != nil {
			return nil, fmt.Errorf("list pods by controller: %w", err)
		}
		for _, obj := range objs {
			if pod, ok := obj.(*corev1.Pod); ok && pod.Namespace == namespace {
				pods = append(pods, pod)
			}
		}
	}
	return pods, nil
}

// selectorOf is the ReplicaSet's selector; an invalid one selects
// nothing.
func selectorOf(rs *appsv1.ReplicaSet) (labels.Selector, error) {
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return labels.Nothing(), fmt.Errorf("selector of %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	return sel, nil
}
