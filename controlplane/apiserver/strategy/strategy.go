// Package strategy completes the registry's resource table with each
// resource's behaviour: upstream's defaults, validation and table columns,
// the status split, generation counting, field selectors and deletion
// rules. The table says what a resource is; this says how it behaves.
package strategy

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
	"github.com/kindish/kindish/controlplane/apiserver/registry/defaults"
	"github.com/kindish/kindish/controlplane/apiserver/registry/printers"
	"github.com/kindish/kindish/controlplane/apiserver/registry/validation"
)

// generationCounted are the resources whose metadata.generation counts spec
// changes (controllers report observedGeneration against it).
var generationCounted = map[string]bool{
	"deployments": true, "replicasets": true, "statefulsets": true, "daemonsets": true,
	"replicationcontrollers": true, "jobs": true, "cronjobs": true, "poddisruptionbudgets": true,
	"pods": true, "endpointslices": true,
}

var (
	nodesResource       = corev1.SchemeGroupVersion.WithResource("nodes")
	deploymentsResource = appsv1.SchemeGroupVersion.WithResource("deployments")
)

// Resources returns the served resources with their strategies.
func Resources() []registry.Resource {
	resources := registry.Resources()
	for i := range resources {
		r := &resources[i]
		gvk := r.GroupVersionKind()
		s := &r.Strategy
		s.Defaults = defaults.For(gvk)
		s.Validate, s.ValidateUpdate = validation.For(gvk)
		s.ValidateStatusUpdate = validation.ForSubresource(gvk, "status")
		if rule, ok := validation.NameRule(gvk); ok {
			s.NameRule = rule
		}
		s.Table = printers.For(r.GroupVersionResource())
		s.Generation = generationCounted[r.Name]
		for _, sub := range r.Subresources {
			if sub.Name == "status" {
				s.StatusSplit = true
			}
		}
		s.StatusOnCreate = r.GroupVersionResource() == nodesResource
		s.StatusKeepsAnnotations = r.GroupVersionResource() == deploymentsResource
		if f := selectableFields[r.GroupVersionResource()]; f != nil {
			s.SelectableFields = f
		}
		if hooks, ok := kindHooks[r.GroupVersionResource()]; ok {
			s.PrepareForCreate = hooks.prepareForCreate
			s.PrepareForUpdate = hooks.prepareForUpdate
			s.GracePeriod = hooks.gracePeriod
			s.DeletionHeld = hooks.deletionHeld
			s.PrepareForDelete = hooks.prepareForDelete
		}
	}
	return resources
}
