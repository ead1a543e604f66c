package namespace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// finalizerEstimateSeconds is upstream's guess of how long objects held
// by finalizers take to go.
const finalizerEstimateSeconds int64 = 15

var podsResource = corev1.SchemeGroupVersion.WithResource("pods")

// contentRemainingError says that content is left which should go by
// itself: pods in their grace period, objects whose finalizers run.
type contentRemainingError struct {
	estimate int64
}

func (e *contentRemainingError) Error() string {
	return fmt.Sprintf("some content remains in the namespace, estimate %d seconds before it is removed", e.estimate)
}

// gvrLeft is what one resource has left in the namespace after a pass.
type gvrLeft struct {
	count int
	// finalizers counts the objects left per finalizer they carry.
	finalizers map[string]int
	// estimate is how many seconds the rest should take to go; zero
	// does not mean that nothing is left.
	estimate int64
}

// deleteNamespace is upstream's namespacedResourcesDeleter.Delete: it
// reads the namespace from the API server (other controllers edit it
// during termination too), deletes its content, and removes the
// "kubernetes" finalizer once nothing is left.
func (c *Controller) deleteNamespace(ctx context.Context, name string) error {
	namespaces := c.client.CoreV1().Namespaces()
	ns, err := namespaces.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get namespace %q: %w", name, err)
	}
	if ns.DeletionTimestamp == nil {
		return nil
	}
	ns, err = c.retryOnConflict(ctx, ns, c.markTerminating)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mark namespace %q terminating: %w", name, err)
	}
	if ns.DeletionTimestamp.IsZero() || len(ns.Spec.Finalizers) == 0 {
		return nil
	}
	estimate, err := c.deleteAllContent(ctx, ns)
	if err != nil {
		return fmt.Errorf("delete content of namespace %q: %w", name, err)
	}
	if estimate > 0 {
		return &contentRemainingError{estimate: estimate}
	}
	if _, err := c.retryOnConflict(ctx, ns, c.finalize); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("finalize namespace %q: %w", name, err)
	}
	return nil
}

// retryOnConflict runs update on the namespace, reading it again after a
// conflict, as long as it is the same namespace.
func (c *Controller) retryOnConflict(ctx context.Context, ns *corev1.Namespace, update func(context.Context, *corev1.Namespace) (*corev1.Namespace, error)) (*corev1.Namespace, error) {
	for {
		out, err := update(ctx, ns)
		if !apierrors.IsConflict(err) {
			return out, err
		}
		latest, err := c.client.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		if latest.UID != ns.UID {
			return nil, fmt.Errorf("namespace %q was replaced while being deleted", ns.Name)
		}
		ns = latest
	}
}

// markTerminating sets phase Terminating, which the API server sets
// itself on deletion; a namespace deleted by another server may lack it.
func (c *Controller) markTerminating(ctx context.Context, ns *corev1.Namespace) (*corev1.Namespace, error) {
	if ns.DeletionTimestamp.IsZero() || ns.Status.Phase == corev1.NamespaceTerminating {
		return ns, nil
	}
	terminating := ns.DeepCopy()
	terminating.Status.Phase = corev1.NamespaceTerminating
	return c.client.CoreV1().Namespaces().UpdateStatus(ctx, terminating, metav1.UpdateOptions{})
}

// finalize removes the "kubernetes" finalizer through namespaces/finalize;
// with no finalizer left, the API server deletes the namespace.
func (c *Controller) finalize(ctx context.Context, ns *corev1.Namespace) (*corev1.Namespace, error) {
	finalized := ns.DeepCopy()
	finalized.Spec.Finalizers = slices.DeleteFunc(slices.Clone(ns.Spec.Finalizers), func(f corev1.FinalizerName) bool {
		return f == corev1.FinalizerKubernetes
	})
	out, err := c.client.CoreV1().Namespaces().Finalize(ctx, finalized, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return ns, nil // someone finished first
	}
	return out, err
}

// deleteAllContent deletes everything in the namespace and returns the
// estimate of how long what is left takes to go. Pods go first, and
// alone: what they use (secrets, config maps, network policies) stays
// until they are gone, as upstream's OrderedNamespaceDeletion. A failing
// resource does not stop the others; its error is returned with theirs.
func (c *Controller) deleteAllContent(ctx context.Context, ns *corev1.Namespace) (int64, error) {
	var errs []error
	var updater conditionUpdater
	resources, err := c.discover()
	if err != nil {
		// Partial discovery still names most resources: go on with them.
		errs = append(errs, err)
		updater.discoveryFailed(err)
	}
	deletable := discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"delete"}}, resources)
	gvrs, err := discovery.GroupVersionResources(deletable)
	if err != nil {
		errs = append(errs, err)
		updater.groupVersionParsingFailed(err)
	}
	verbs := verbsOf(deletable)

	totals := newContentTotals()
	var estimate int64
	deleteResource := func(gvr schema.GroupVersionResource) {
		left, err := c.deleteResourceContent(ctx, gvr, verbs[gvr], ns.Name, *ns.DeletionTimestamp)
		if err != nil {
			errs = append(errs, err)
			updater.contentDeletionFailed(err)
		}
		estimate = max(estimate, left.estimate)
		totals.add(gvr, left)
	}
	if _, ok := gvrs[podsResource]; ok {
		deleteResource(podsResource)
		delete(gvrs, podsResource)
		if totals.remaining[podsResource] > 0 {
			updater.contentLeft(totals)
			c.writeConditions(ctx, ns, &updater)
			return estimate, errors.Join(errs...)
		}
	}
	for gvr := range gvrs {
		deleteResource(gvr)
	}
	updater.contentLeft(totals)
	// Always written: a condition that failed before may have recovered.
	c.writeConditions(ctx, ns, &updater)
	return estimate, errors.Join(errs...)
}

// writeConditions stores the pass's conditions. A failure is only logged,
// as upstream: the conditions report progress, they do not make it.
func (c *Controller) writeConditions(ctx context.Context, ns *corev1.Namespace, updater *conditionUpdater) {
	if !updater.apply(&ns.Status, metav1.NewTime(c.now())) {
		return
	}
	updated, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{})
	if err != nil {
		c.log.Error("Updating namespace conditions", "namespace", ns.Name, "err", err)
		return
	}
	*ns = *updated
}

// verbsOf indexes discovery's verbs by resource.
func verbsOf(lists []*metav1.APIResourceList) map[schema.GroupVersionResource][]string {
	out := map[schema.GroupVersionResource][]string{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			out[gv.WithResource(r.Name)] = r.Verbs
		}
	}
	return out
}

// deleteResourceContent is upstream's
// deleteAllContentForGroupVersionResource: delete the resource's objects
// in the namespace (deletecollection where served, else one by one), then
// count what is left and how long it should take to go.
func (c *Controller) deleteResourceContent(ctx context.Context, gvr schema.GroupVersionResource, verbs []string, namespace string, deletedAt metav1.Time) (gvrLeft, error) {
	estimate, err := c.estimateGracefulTermination(ctx, gvr, namespace, deletedAt)
	if err != nil {
		return gvrLeft{}, err
	}
	deleted, err := c.deleteCollection(ctx, gvr, verbs, namespace)
	if err != nil {
		return gvrLeft{estimate: estimate}, err
	}
	if !deleted {
		if err := c.deleteEachItem(ctx, gvr, verbs, namespace); err != nil {
			return gvrLeft{estimate: estimate}, err
		}
	}
	items, listed, err := c.listCollection(ctx, gvr, verbs, namespace)
	if err != nil {
		return gvrLeft{estimate: estimate}, err
	}
	if !listed {
		return gvrLeft{estimate: estimate}, nil
	}
	if len(items) == 0 {
		return gvrLeft{}, nil // done: no need to wait out a grace period
	}
	left := gvrLeft{count: len(items), finalizers: map[string]int{}, estimate: estimate}
	for _, item := range items {
		for _, f := range item.Finalizers {
			left.finalizers[f]++
		}
	}
	if estimate != 0 {
		return left, nil
	}
	if len(left.finalizers) > 0 {
		// Finalizers are normal; give them time.
		left.estimate = finalizerEstimateSeconds
		return left, nil
	}
	// Nothing explains what is left: it should have gone.
	return left, fmt.Errorf("unexpected items still remain in namespace: %s for gvr: %v", namespace, gvr)
}

// estimateGracefulTermination is how long the namespace's pods may still
// take: the longest grace period of a running pod, counted from the
// namespace's deletion, as upstream.
func (c *Controller) estimateGracefulTermination(ctx context.Context, gvr schema.GroupVersionResource, namespace string, deletedAt metav1.Time) (int64, error) {
	if gvr.GroupResource() != podsResource.GroupResource() {
		return 0, nil
	}
	pods, err := c.client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("list pods to estimate their termination: %w", err)
	}
	var estimate int64
	for _, pod := range pods.Items {
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		if grace := pod.Spec.TerminationGracePeriodSeconds; grace != nil && *grace > estimate {
			estimate = *grace
		}
	}
	if c.now().Sub(deletedAt.Time) >= time.Duration(estimate)*time.Second {
		return 0, nil
	}
	return estimate, nil
}

// backgroundDeletion is the propagation of every deletion here: the
// namespace goes anyway, so the collector must not orphan anything in it.
func backgroundDeletion() metav1.DeleteOptions {
	background := metav1.DeletePropagationBackground
	return metav1.DeleteOptions{PropagationPolicy: &background}
}

// deleteCollection deletes all of the resource's objects in the namespace
// at once. deleted is false when the resource does not serve
// deletecollection.
func (c *Controller) deleteCollection(ctx context.Context, gvr schema.GroupVersionResource, verbs []string, namespace string) (deleted bool, err error) {
	if !slices.Contains(verbs, "deletecollection") {
		return false, nil
	}
	err = c.metadata.Resource(gvr).Namespace(namespace).DeleteCollection(ctx, backgroundDeletion(), metav1.ListOptions{})
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsMethodNotSupported(err), apierrors.IsNotFound(err):
		return false, nil
	}
	return true, fmt.Errorf("delete collection of %s: %w", gvr.GroupResource(), err)
}

// listCollection lists the resource's objects in the namespace. listed is
// false when the resource cannot be listed.
func (c *Controller) listCollection(ctx context.Context, gvr schema.GroupVersionResource, verbs []string, namespace string) (items []metav1.PartialObjectMetadata, listed bool, err error) {
	if !slices.Contains(verbs, "list") {
		return nil, false, nil
	}
	list, err := c.metadata.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
	switch {
	case err == nil:
		return list.Items, true, nil
	case apierrors.IsMethodNotSupported(err), apierrors.IsNotFound(err):
		return nil, false, nil
	}
	return nil, true, fmt.Errorf("list %s: %w", gvr.GroupResource(), err)
}

// deleteEachItem deletes the resource's objects one by one, for resources
// without deletecollection.
func (c *Controller) deleteEachItem(ctx context.Context, gvr schema.GroupVersionResource, verbs []string, namespace string) error {
	items, listed, err := c.listCollection(ctx, gvr, verbs, namespace)
	if err != nil || !listed {
		return err
	}
	client := c.metadata.Resource(gvr).Namespace(namespace)
	for _, item := range items {
		err := client.Delete(ctx, item.Name, backgroundDeletion())
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
			return fmt.Errorf("delete %s %q: %w", gvr.GroupResource(), item.Name, err)
		}
	}
	return nil
}
