package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"

	"github.com/kindish/kindish/controlplane/controllers/endpointslice/managedslices"
	"github.com/kindish/kindish/controlplane/controllers/endpointslice/podendpoint"
)

// reconciler turns a Service's pods and its existing slices into the
// creates, updates and deletes that make the slices list those pods,
// changing as few slices as it can: endpoints are updated in place,
// removed ones leave room that new ones fill, and a slice about to be
// deleted is reused rather than another created.
type reconciler struct {
	client      kubernetes.Interface
	nodeLister  corelisters.NodeLister
	maxPerSlice int
	tracker     *managedslices.Tracker
}

// sliceChanges are the writes one reconcile makes.
type sliceChanges struct {
	create, update, delete []*discoveryv1.EndpointSlice
}

func (c *sliceChanges) add(o sliceChanges) {
	c.create = append(c.create, o.create...)
	c.update = append(c.update, o.update...)
	c.delete = append(c.delete, o.delete...)
}

// reconcile brings existing, svc's slices, in line with pods. Pods on
// nodes the cache does not know are left out and reported in the error,
// so that the Service is retried, while the others are published.
func (r *reconciler) reconcile(ctx context.Context, svc *corev1.Service, pods []*corev1.Pod, existing []*discoveryv1.EndpointSlice, triggerTime time.Time) error {
	var errs []error
	wanted := addressTypes(svc)
	byType := map[discoveryv1.AddressType][]*discoveryv1.EndpointSlice{}
	var unwanted []*discoveryv1.EndpointSlice
	for _, s := range existing {
		if slices.Contains(wanted, s.AddressType) {
			byType[s.AddressType] = append(byType[s.AddressType], s)
		} else {
			unwanted = append(unwanted, s)
		}
	}
	for _, at := range wanted {
		if err := r.reconcileAddressType(ctx, svc, pods, byType[at], at, triggerTime); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range unwanted {
		if err := r.deleteSlice(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *reconciler) reconcileAddressType(ctx context.Context, svc *corev1.Service, pods []*corev1.Pod, existing []*discoveryv1.EndpointSlice, addressType discoveryv1.AddressType, triggerTime time.Time) error {
	var errs []error
	var changes sliceChanges

	existingByPorts := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		if ownedBy(s, svc) {
			k := managedslices.PortsKey(s.Ports)
			existingByPorts[k] = append(existingByPorts[k], s)
		} else {
			// A slice of an older Service of the same name, which the
			// garbage collector has not removed yet.
			changes.delete = append(changes.delete, s)
		}
	}

	desiredByPorts := map[string]managedslices.EndpointSet{}
	portsByKey := map[string][]discoveryv1.EndpointPort{}
	for _, pod := range pods {
		if !podendpoint.Include(pod, true) {
			continue
		}
		ports := endpointPorts(svc, pod)
		k := managedslices.PortsKey(ports)
		if desiredByPorts[k] == nil {
			desiredByPorts[k] = managedslices.EndpointSet{}
			portsByKey[k] = ports
		}
		node, err := r.nodeLister.Get(pod.Spec.NodeName)
		if err != nil {
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("get node %q: %w", pod.Spec.NodeName, err)
			}
			// A pod on a node that is gone would otherwise stay
			// published until the pod garbage collector removes it;
			// unless the Service publishes everything anyway.
			if !svc.Spec.PublishNotReadyAddresses {
				errs = append(errs, fmt.Errorf("skipping pod %s for service %s/%s: node %s not found", pod.Name, svc.Namespace, svc.Name, pod.Spec.NodeName))
				continue
			}
			node = nil
		}
		ep := podToEndpoint(pod, node, svc, addressType)
		if len(ep.Addresses) > 0 {
			desiredByPorts[k].Insert(&ep)
		}
	}

	for _, k := range slices.Sorted(maps.Keys(desiredByPorts)) {
		changes.add(r.reconcileByPorts(svc, existingByPorts[k], desiredByPorts[k], portsByKey[k], addressType))
	}
	for _, k := range slices.Sorted(maps.Keys(existingByPorts)) {
		if _, ok := desiredByPorts[k]; !ok {
			changes.delete = append(changes.delete, existingByPorts[k]...)
		}
	}

	// A Service without endpoints keeps one empty slice, which tells
	// consumers that the controller has seen it.
	if len(existing) == len(changes.delete) && len(changes.create) == 0 {
		placeholder := newSlice(svc, []discoveryv1.EndpointPort{}, addressType)
		if len(changes.delete) == 1 && isPlaceholder(changes.delete[0], placeholder) {
			changes.delete = nil
		} else {
			changes.create = append(changes.create, placeholder)
		}
	}

	if err := r.finalize(ctx, svc, changes, triggerTime); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// reconcileByPorts works on the slices of one set of ports, in upstream's
// three steps: keep the endpoints of existing slices that are still
// desired (updated in place) and drop the others; top up the slices that
// change anyway; then put what is left in the existing slice it fills
// best, or in new slices.
func (r *reconciler) reconcileByPorts(svc *corev1.Service, existing []*discoveryv1.EndpointSlice, desired managedslices.EndpointSet, ports []discoveryv1.EndpointPort, addressType discoveryv1.AddressType) sliceChanges {
	byName := map[string]*discoveryv1.EndpointSlice{}
	var unchanged, toUpdate, toDelete []string

	for _, s := range existing {
		byName[s.Name] = s
		kept := []discoveryv1.Endpoint{}
		endpointChanged := false
		for i := range s.Endpoints {
			ep := &s.Endpoints[i]
			want := desired.Get(ep)
			if want == nil {
				continue
			}
			kept = append(kept, *want)
			if !managedslices.EndpointsEqualBeyondKey(want, ep) {
				endpointChanged = true
			}
			desired.Remove(ep)
		}
		labels, labelsChanged := sliceLabels(s, svc)
		switch {
		case endpointChanged || len(kept) != len(s.Endpoints):
			if len(kept) == 0 {
				toDelete = append(toDelete, s.Name)
				continue
			}
			c := s.DeepCopy()
			c.Endpoints, c.Labels = kept, labels
			byName[s.Name] = c
			toUpdate = append(toUpdate, s.Name)
		case labelsChanged:
			c := s.DeepCopy()
			c.Labels = labels
			byName[s.Name] = c
			toUpdate = append(toUpdate, s.Name)
		default:
			unchanged = append(unchanged, s.Name)
		}
	}

	if len(desired) > 0 && len(toUpdate) > 0 {
		changing := make([]*discoveryv1.EndpointSlice, 0, len(toUpdate))
		for _, name := range toUpdate {
			changing = append(changing, byName[name])
		}
		slices.SortFunc(changing, byFullest)
		for _, s := range changing {
			s.Endpoints = append(s.Endpoints, desired.Take(r.maxPerSlice-len(s.Endpoints))...)
		}
	}

	var toCreate []*discoveryv1.EndpointSlice
	for len(desired) > 0 {
		var fill *discoveryv1.EndpointSlice
		if len(desired) < r.maxPerSlice && len(unchanged) > 0 {
			candidates := make([]*discoveryv1.EndpointSlice, 0, len(unchanged))
			for _, name := range unchanged {
				candidates = append(candidates, byName[name])
			}
			fill = sliceToFill(candidates, len(desired), r.maxPerSlice)
		}
		if fill == nil {
			fill = newSlice(svc, ports, addressType)
		} else {
			fill = fill.DeepCopy()
			byName[fill.Name] = fill
		}
		fill.Endpoints = append(fill.Endpoints, desired.Take(r.maxPerSlice-len(fill.Endpoints))...)
		if fill.Name == "" {
			toCreate = append(toCreate, fill)
			continue
		}
		toUpdate = append(toUpdate, fill.Name)
		unchanged = slices.DeleteFunc(unchanged, func(n string) bool { return n == fill.Name })
	}

	changes := sliceChanges{create: toCreate}
	for _, name := range toUpdate {
		changes.update = append(changes.update, byName[name])
	}
	for _, name := range toDelete {
		changes.delete = append(changes.delete, byName[name])
	}
	return changes
}

// finalize writes changes. A slice to create takes the place of one to
// delete where it can, which saves a delete and a create (and a gap in
// what consumers see).
func (r *reconciler) finalize(ctx context.Context, svc *corev1.Service, changes sliceChanges, triggerTime time.Time) error {
	for i := 0; i < len(changes.delete) && len(changes.create) > 0; {
		old := changes.delete[i]
		s := changes.create[len(changes.create)-1]
		// Only slices of this very Service and of the same (immutable)
		// address type: one of an older Service of the same name is the
		// garbage collector's to delete.
		if old.AddressType != s.AddressType || !ownedBy(old, svc) {
			i++
			continue
		}
		s.Name, s.ResourceVersion = old.Name, old.ResourceVersion
		changes.create = changes.create[:len(changes.create)-1]
		changes.update = append(changes.update, s)
		changes.delete = slices.Delete(changes.delete, i, i+1)
	}

	client := r.client.DiscoveryV1().EndpointSlices(svc.Namespace)
	// New slices for a Service being deleted would race the garbage
	// collector deleting its slices.
	if svc.DeletionTimestamp == nil {
		for _, s := range changes.create {
			setTriggerTime(s, triggerTime)
			created, err := client.Create(ctx, s, metav1.CreateOptions{})
			if err != nil {
				if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					return nil
				}
				return fmt.Errorf("create endpointslice for service %s/%s: %w", svc.Namespace, svc.Name, err)
			}
			r.tracker.Wrote(created, "")
		}
	}
	for _, s := range changes.update {
		setTriggerTime(s, triggerTime)
		updated, err := client.Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update endpointslice %s of service %s/%s: %w", s.Name, svc.Namespace, svc.Name, err)
		}
		r.tracker.Wrote(updated, s.ResourceVersion)
	}
	for _, s := range changes.delete {
		if err := r.deleteSlice(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func (r *reconciler) deleteSlice(ctx context.Context, s *discoveryv1.EndpointSlice) error {
	err := r.client.DiscoveryV1().EndpointSlices(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete endpointslice %s/%s: %w", s.Namespace, s.Name, err)
	}
	if err == nil {
		r.tracker.ExpectDeletion(s)
	}
	return nil
}

// setTriggerTime sets or clears the last-change-trigger-time annotation.
func setTriggerTime(s *discoveryv1.EndpointSlice, at time.Time) {
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	if at.IsZero() {
		delete(s.Annotations, corev1.EndpointsLastChangeTriggerTime)
		return
	}
	s.Annotations[corev1.EndpointsLastChangeTriggerTime] = at.UTC().Format(time.RFC3339Nano)
}
