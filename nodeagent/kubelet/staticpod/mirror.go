package staticpod

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// MirrorClient creates and deletes the mirror pods of one node's static
// pods in the API server.
type MirrorClient struct {
	client   kubernetes.Interface
	nodeName string
	log      *slog.Logger
}

// NewMirrorClient returns the mirror pod client of node nodeName.
func NewMirrorClient(client kubernetes.Interface, nodeName string, log *slog.Logger) *MirrorClient {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &MirrorClient{client: client, nodeName: nodeName, log: log}
}

// CreateMirrorPod creates the mirror pod of static pod pod: a copy with
// the config.mirror annotation set to pod's config hash, owned by the Node
// (the NodeRestriction admission plugin requires it) and without status,
// which the kubelet reports separately. A mirror pod of the same hash
// already there is success; one of another hash is an AlreadyExists error,
// for the caller to delete it first.
func (c *MirrorClient) CreateMirrorPod(ctx context.Context, pod *corev1.Pod) error {
	node, err := c.client.CoreV1().Nodes().Get(ctx, c.nodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("create mirror pod %s/%s: get node %s: %w", pod.Namespace, pod.Name, c.nodeName, err)
	}
	return c.createMirrorPod(ctx, pod, node)
}

func (c *MirrorClient) createMirrorPod(ctx context.Context, pod *corev1.Pod, node *corev1.Node) error {
	if node.UID == "" {
		return fmt.Errorf("create mirror pod %s/%s: UID unset for node %s", pod.Namespace, pod.Name, c.nodeName)
	}
	mirror := pod.DeepCopy()
	hash := configHash(pod)
	if mirror.Annotations == nil {
		mirror.Annotations = map[string]string{}
	}
	mirror.Annotations[ConfigMirrorAnnotationKey] = hash
	mirror.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: corev1.SchemeGroupVersion.String(),
		Kind:       "Node",
		Name:       c.nodeName,
		UID:        node.UID,
		Controller: new(true),
	}}
	// The API server assigns its own.
	mirror.UID = ""
	mirror.ResourceVersion = ""
	mirror.Status = corev1.PodStatus{}

	_, err := c.client.CoreV1().Pods(mirror.Namespace).Create(ctx, mirror, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, getErr := c.client.CoreV1().Pods(mirror.Namespace).Get(ctx, mirror.Name, metav1.GetOptions{})
		if getErr == nil && existing.Annotations[ConfigMirrorAnnotationKey] == hash && existing.DeletionTimestamp == nil {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("create mirror pod %s/%s: %w", mirror.Namespace, mirror.Name, err)
	}
	return nil
}

// DeleteMirrorPod deletes the mirror pod named by fullName (see FullName)
// at once (grace period 0: there is nothing to stop, the static pod runs
// on), and only if its UID is *uid when uid is not nil. It reports whether
// it deleted the pod: a pod already gone, or with another UID, is not
// deleted and not an error.
func (c *MirrorClient) DeleteMirrorPod(ctx context.Context, fullName string, uid *types.UID) (bool, error) {
	name, namespace, err := ParseFullName(fullName)
	if err != nil {
		return false, fmt.Errorf("delete mirror pod: %w", err)
	}
	c.log.Debug("deleting a mirror pod", "pod", namespace+"/"+name, "podUID", uid)
	err = c.client.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{
		GracePeriodSeconds: new(int64(0)),
		Preconditions:      &metav1.Preconditions{UID: uid},
	})
	// A failed UID precondition is a Conflict.
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete mirror pod %s/%s: %w", namespace, name, err)
	}
	return true, nil
}

// MirrorPlan is what it takes to bring a node's mirror pods in step with
// its static pods.
type MirrorPlan struct {
	// Create are static pods without a mirror pod.
	Create []*corev1.Pod
	// Recreate are static pods whose mirror pod is stale: another hash, or
	// being deleted (by `kubectl delete`, say). The mirror is deleted with
	// a UID precondition, then created again.
	Recreate []MirrorReplacement
	// Delete are mirror pods whose static pod is gone.
	Delete []*corev1.Pod
}

// MirrorReplacement pairs a static pod with its stale mirror pod.
type MirrorReplacement struct {
	Static, Mirror *corev1.Pod
}

// Empty reports whether the plan has nothing to do.
func (p MirrorPlan) Empty() bool {
	return len(p.Create) == 0 && len(p.Recreate) == 0 && len(p.Delete) == 0
}

// PlanMirrorPods compares a node's static pods with the mirror pods the API
// server has for it, matched by FullName, as upstream's
// tryReconcileMirrorPods and deleteOrphanedMirrorPods do. Pods in
// mirrorPods that are not mirror pods are left out.
func PlanMirrorPods(staticPods, mirrorPods []*corev1.Pod) MirrorPlan {
	mirrors := make(map[string]*corev1.Pod, len(mirrorPods))
	for _, m := range mirrorPods {
		if IsMirrorPod(m) {
			mirrors[FullName(m)] = m
		}
	}
	var plan MirrorPlan
	statics := make(map[string]bool, len(staticPods))
	for _, s := range staticPods {
		fullName := FullName(s)
		statics[fullName] = true
		m, ok := mirrors[fullName]
		switch {
		case !ok:
			plan.Create = append(plan.Create, s)
		case m.DeletionTimestamp != nil || !isMirrorPodOf(m, s):
			plan.Recreate = append(plan.Recreate, MirrorReplacement{Static: s, Mirror: m})
		}
	}
	for _, m := range mirrorPods {
		if IsMirrorPod(m) && !statics[FullName(m)] {
			plan.Delete = append(plan.Delete, m)
		}
	}
	return plan
}

// Sync carries out PlanMirrorPods(staticPods, mirrorPods). It creates no
// mirror pod while the node is being deleted, as upstream: the pods would
// outlive their node. It goes through the whole plan and returns every
// failure, for the caller to retry at its next sync.
func (c *MirrorClient) Sync(ctx context.Context, staticPods, mirrorPods []*corev1.Pod) error {
	plan := PlanMirrorPods(staticPods, mirrorPods)
	if plan.Empty() {
		return nil
	}
	var errs []error
	for _, m := range plan.Delete {
		uid := m.UID
		if _, err := c.DeleteMirrorPod(ctx, FullName(m), &uid); err != nil {
			errs = append(errs, err)
			continue
		}
		c.log.Info("deleted orphaned mirror pod", "pod", m.Namespace+"/"+m.Name)
	}

	create := plan.Create
	for _, r := range plan.Recreate {
		uid := r.Mirror.UID
		deleted, err := c.DeleteMirrorPod(ctx, FullName(r.Mirror), &uid)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if deleted {
			c.log.Info("deleted mirror pod as it did not match the static pod", "pod", r.Mirror.Namespace+"/"+r.Mirror.Name)
			create = append(create, r.Static)
		}
	}
	if len(create) == 0 {
		return errors.Join(errs...)
	}

	node, err := c.client.CoreV1().Nodes().Get(ctx, c.nodeName, metav1.GetOptions{})
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("create mirror pods: get node %s: %w", c.nodeName, err))
	case node.DeletionTimestamp != nil:
		c.log.Info("no mirror pods created: the node is being removed from the cluster", "node", c.nodeName)
	default:
		for _, s := range create {
			c.log.Info("creating a mirror pod for static pod", "pod", s.Namespace+"/"+s.Name)
			if err := c.createMirrorPod(ctx, s, node); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
