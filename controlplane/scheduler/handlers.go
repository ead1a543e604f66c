package scheduler

import (
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/kindish/kindish/controlplane/scheduler/plugins"
)

// addEventHandlers routes the informers' events: bound pods to the cache,
// pods that need this scheduler to the queue, and the changes that may
// let waiting pods fit to the queue's retry. It returns the handlers'
// sync checks: an informer's cache can be full before its handlers have
// seen every object, and the first pods must see every node.
func (s *Scheduler) addEventHandlers() ([]toolscache.InformerSynced, error) {
	pods, err := s.informers.Core().V1().Pods().Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    s.onPodAdd,
		UpdateFunc: s.onPodUpdate,
		DeleteFunc: s.onPodDelete,
	})
	if err != nil {
		return nil, fmt.Errorf("pod event handler: %w", err)
	}
	nodes, err := s.informers.Core().V1().Nodes().Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    s.onNodeAdd,
		UpdateFunc: s.onNodeUpdate,
		DeleteFunc: s.onNodeDelete,
	})
	if err != nil {
		return nil, fmt.Errorf("node event handler: %w", err)
	}
	return []toolscache.InformerSynced{pods.HasSynced, nodes.HasSynced}, nil
}

// occupiesNode says whether a pod counts on its node: bound and not
// finished.
func occupiesNode(pod *corev1.Pod) bool {
	return pod.Spec.NodeName != "" && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// needsScheduling says whether the pod waits for this scheduler.
func (s *Scheduler) needsScheduling(pod *corev1.Pod) bool {
	return pod.Spec.NodeName == "" && pod.Spec.SchedulerName == s.name && pod.DeletionTimestamp == nil
}

func (s *Scheduler) onPodAdd(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	switch {
	case occupiesNode(pod):
		s.cache.AddPod(pod)
		s.queue.MoveAll(plugins.AssignedPodAddPlugins()...)
	case s.needsScheduling(pod):
		s.queue.Add(pod)
	}
}

func (s *Scheduler) onPodUpdate(oldObj, newObj any) {
	oldPod, ok1 := oldObj.(*corev1.Pod)
	newPod, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 {
		return
	}
	was, is := occupiesNode(oldPod), occupiesNode(newPod)
	switch {
	case was && is:
		s.cache.UpdatePod(newPod)
		if !reflect.DeepEqual(oldPod.Labels, newPod.Labels) {
			s.queue.MoveAll(plugins.AssignedPodAddPlugins()...)
		}
	case is:
		// Just bound, by this scheduler or another.
		s.queue.Delete(newPod)
		s.cache.AddPod(newPod)
		s.queue.MoveAll(plugins.AssignedPodAddPlugins()...)
	case was:
		// Finished: its room is free.
		s.cache.RemovePod(oldPod)
		s.queue.MoveAll(plugins.AssignedPodDeletePlugins()...)
	case s.needsScheduling(newPod):
		s.queue.Update(oldPod, newPod)
	default:
		s.queue.Delete(newPod)
	}
}

func (s *Scheduler) onPodDelete(obj any) {
	if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.queue.Delete(pod)
	if pod.Spec.NodeName != "" {
		s.cache.RemovePod(pod)
		s.queue.MoveAll(plugins.AssignedPodDeletePlugins()...)
	}
}

func (s *Scheduler) onNodeAdd(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	s.cache.AddNode(node)
	s.queue.MoveAll(plugins.NodeEventPlugins()...)
}

func (s *Scheduler) onNodeUpdate(oldObj, newObj any) {
	oldNode, ok1 := oldObj.(*corev1.Node)
	newNode, ok2 := newObj.(*corev1.Node)
	if !ok1 || !ok2 {
		return
	}
	s.cache.AddNode(newNode)
	if schedulingPropertiesChanged(oldNode, newNode) {
		s.queue.MoveAll(plugins.NodeEventPlugins()...)
	}
}

// schedulingPropertiesChanged says whether a node update can change a
// filter's verdict; the kubelet's status heartbeats cannot.
func schedulingPropertiesChanged(oldNode, newNode *corev1.Node) bool {
	return oldNode.Spec.Unschedulable != newNode.Spec.Unschedulable ||
		!reflect.DeepEqual(oldNode.Labels, newNode.Labels) ||
		!reflect.DeepEqual(oldNode.Spec.Taints, newNode.Spec.Taints) ||
		!apiequality.Semantic.DeepEqual(oldNode.Status.Allocatable, newNode.Status.Allocatable)
}

func (s *Scheduler) onNodeDelete(obj any) {
	if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	if node, ok := obj.(*corev1.Node); ok {
		s.cache.RemoveNode(node)
	}
}
