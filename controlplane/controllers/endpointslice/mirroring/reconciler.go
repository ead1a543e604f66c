package mirroring

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/kindish/kindish/controlplane/controllers/endpoints"
	"github.com/kindish/kindish/controlplane/controllers/endpointslice/managedslices"
)

// reconciler turns an Endpoints object and its mirrored slices into the
// writes that make the slices mirror it: one slice per subset (per set
// of ports and address type), updated in place.
type reconciler struct {
	client       kubernetes.Interface
	recorder     record.EventRecorder
	maxPerSubset int
	tracker      *managedslices.Tracker
}

// group is the desired mirror of one set of ports of one address type.
type group struct {
	addressType discoveryv1.AddressType
	ports       []discoveryv1.EndpointPort
	endpoints   managedslices.EndpointSet
}

func groupKey(addressType discoveryv1.AddressType, ports []discoveryv1.EndpointPort) string {
	return string(addressType) + "|" + managedslices.PortsKey(ports)
}

type sliceChanges struct {
	create, update, delete []*discoveryv1.EndpointSlice
}

func (r *reconciler) reconcile(ctx context.Context, ep *corev1.Endpoints, existing []*discoveryv1.EndpointSlice) error {
	desired := map[string]*group{}
	invalid, skipped := 0, 0
	for _, subset := range endpoints.RepackSubsets(ep.Subsets) {
		ports := slicePorts(subset.Ports)
		added := 0
		add := func(addrs []corev1.EndpointAddress, ready bool) {
			for _, a := range addrs {
				// One slice per subset: beyond that, addresses are not
				// mirrored.
				if added >= r.maxPerSubset {
					skipped++
					continue
				}
				endpoint, addressType, ok := addressToEndpoint(a, ready)
				if !ok {
					invalid++
					skipped++
					continue
				}
				k := groupKey(addressType, ports)
				g := desired[k]
				if g == nil {
					g = &group{addressType: addressType, ports: ports, endpoints: managedslices.EndpointSet{}}
					desired[k] = g
				}
				g.endpoints.Insert(endpoint)
				added++
			}
		}
		add(subset.Addresses, true)
		add(subset.NotReadyAddresses, false)
	}
	if invalid > 0 {
		r.recorder.Eventf(ep, corev1.EventTypeWarning, ReasonInvalidIPAddress,
			"Skipped %d invalid IP addresses when mirroring to EndpointSlices", invalid)
	}
	if skipped > invalid {
		r.recorder.Eventf(ep, corev1.EventTypeWarning, ReasonTooManyAddressesToMirror,
			"A max of %d addresses can be mirrored to EndpointSlices per Endpoints subset. %d addresses were skipped", r.maxPerSubset, skipped)
	}

	existingByKey := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		k := groupKey(s.AddressType, s.Ports)
		existingByKey[k] = append(existingByKey[k], s)
	}
	var changes sliceChanges
	for _, k := range slices.Sorted(maps.Keys(desired)) {
		r.reconcileGroup(ep, existingByKey[k], desired[k], &changes)
	}
	for _, k := range slices.Sorted(maps.Keys(existingByKey)) {
		if _, ok := desired[k]; !ok {
			changes.delete = append(changes.delete, existingByKey[k]...)
		}
	}
	return r.finalize(ctx, ep, changes)
}

// reconcileGroup keeps the first existing slice of a group, rewritten if
// anything in it differs, and deletes the others.
func (r *reconciler) reconcileGroup(ep *corev1.Endpoints, existing []*discoveryv1.EndpointSlice, g *group, changes *sliceChanges) {
	if len(existing) > 0 {
		changes.delete = append(changes.delete, existing[1:]...)
		first := existing[0]
		want := newSlice(ep, g.ports, g.addressType, first.Name)
		if sameEndpoints(first, g.endpoints) && maps.Equal(first.Labels, want.Labels) && maps.Equal(first.Annotations, want.Annotations) {
			return
		}
		want.ResourceVersion = first.ResourceVersion
		want.Endpoints = g.endpoints.Take(r.maxPerSubset)
		changes.update = append(changes.update, want)
		return
	}
	s := newSlice(ep, g.ports, g.addressType, "")
	s.Endpoints = g.endpoints.Take(r.maxPerSubset)
	changes.create = append(changes.create, s)
}

// sameEndpoints reports whether slice holds exactly the desired endpoints.
func sameEndpoints(slice *discoveryv1.EndpointSlice, desired managedslices.EndpointSet) bool {
	if len(slice.Endpoints) != len(desired) {
		return false
	}
	for i := range slice.Endpoints {
		want := desired.Get(&slice.Endpoints[i])
		if want == nil || !managedslices.EndpointsEqualBeyondKey(want, &slice.Endpoints[i]) {
			return false
		}
	}
	return true
}

func (r *reconciler) finalize(ctx context.Context, ep *corev1.Endpoints, changes sliceChanges) error {
	// A slice to create takes the place of one of the same (immutable)
	// address type that is to be deleted.
	for i := 0; i < len(changes.create); {
		s := changes.create[i]
		j := slices.IndexFunc(changes.delete, func(d *discoveryv1.EndpointSlice) bool { return d.AddressType == s.AddressType })
		if j < 0 {
			i++
			continue
		}
		old := changes.delete[j]
		s.Name, s.ResourceVersion = old.Name, old.ResourceVersion
		changes.update = append(changes.update, s)
		changes.create = slices.Delete(changes.create, i, i+1)
		changes.delete = slices.Delete(changes.delete, j, j+1)
	}

	client := r.client.DiscoveryV1().EndpointSlices(ep.Namespace)
	if ep.DeletionTimestamp == nil {
		for _, s := range changes.create {
			created, err := client.Create(ctx, s, metav1.CreateOptions{})
			if err != nil {
				if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					return nil
				}
				return fmt.Errorf("create endpointslice for endpoints %s/%s: %w", ep.Namespace, ep.Name, err)
			}
			r.tracker.Wrote(created, "")
		}
	}
	for _, s := range changes.update {
		updated, err := client.Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update endpointslice %s of endpoints %s/%s: %w", s.Name, ep.Namespace, ep.Name, err)
		}
		r.tracker.Wrote(updated, s.ResourceVersion)
	}
	return r.deleteSlices(ctx, changes.delete)
}

func (r *reconciler) deleteSlices(ctx context.Context, toDelete []*discoveryv1.EndpointSlice) error {
	var errs []error
	for _, s := range toDelete {
		err := r.client.DiscoveryV1().EndpointSlices(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{})
		switch {
		case err == nil:
			r.tracker.ExpectDeletion(s)
		case !apierrors.IsNotFound(err):
			errs = append(errs, fmt.Errorf("delete endpointslice %s/%s: %w", s.Namespace, s.Name, err))
		}
	}
	return errors.Join(errs...)
}

// newSlice is the mirror of ep for ports and addressType, without its
// endpoints: ep's labels and annotations (but the trigger time and
// kubectl's last applied configuration), owned by ep.
func newSlice(ep *corev1.Endpoints, ports []discoveryv1.EndpointPort, addressType discoveryv1.AddressType, name string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       ep.Namespace,
			Name:            name,
			Labels:          maps.Clone(ep.Labels),
			Annotations:     maps.Clone(ep.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ep, corev1.SchemeGroupVersion.WithKind("Endpoints"))},
		},
		AddressType: addressType,
		Ports:       ports,
		Endpoints:   []discoveryv1.Endpoint{},
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Labels[discoveryv1.LabelServiceName] = ep.Name
	s.Labels[discoveryv1.LabelManagedBy] = ManagedBy
	delete(s.Annotations, corev1.EndpointsLastChangeTriggerTime)
	delete(s.Annotations, corev1.LastAppliedConfigAnnotation)
	if len(s.Annotations) == 0 {
		s.Annotations = nil
	}
	if name == "" {
		s.GenerateName = ep.Name + "-"
		if len(validation.NameIsDNSSubdomain(s.GenerateName, true)) != 0 {
			s.GenerateName = ep.Name
		}
	}
	return s
}

func slicePorts(ports []corev1.EndpointPort) []discoveryv1.EndpointPort {
	out := make([]discoveryv1.EndpointPort, 0, len(ports))
	for _, p := range ports {
		name, port, protocol := p.Name, p.Port, p.Protocol
		if protocol == "" {
			protocol = corev1.ProtocolTCP
		}
		out = append(out, discoveryv1.EndpointPort{Name: &name, Port: &port, Protocol: &protocol, AppProtocol: p.AppProtocol})
	}
	return out
}

// addressToEndpoint mirrors an address; false if its IP is not one.
func addressToEndpoint(a corev1.EndpointAddress, ready bool) (*discoveryv1.Endpoint, discoveryv1.AddressType, bool) {
	ip, err := netip.ParseAddr(a.IP)
	if err != nil {
		return nil, "", false
	}
	ip = ip.Unmap()
	addressType := discoveryv1.AddressTypeIPv4
	if ip.Is6() {
		addressType = discoveryv1.AddressTypeIPv6
	}
	ep := &discoveryv1.Endpoint{
		// Written back in canonical form, as upstream does.
		Addresses:  []string{ip.String()},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready},
	}
	if a.TargetRef != nil {
		ref := *a.TargetRef
		ep.TargetRef = &ref
	}
	if a.NodeName != nil {
		nodeName := *a.NodeName
		ep.NodeName = &nodeName
	}
	if a.Hostname != "" {
		hostname := a.Hostname
		ep.Hostname = &hostname
	}
	return ep, addressType, true
}
