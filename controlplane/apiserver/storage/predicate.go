package storage

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// Empty reports a predicate that selects every object.
func (p SelectionPredicate) Empty() bool {
	return (p.Label == nil || p.Label.Empty()) && (p.Field == nil || p.Field.Empty())
}

// Matches reports whether the predicate selects obj. Without GetAttrs, the
// fields are metadata.name and metadata.namespace.
func (p SelectionPredicate) Matches(obj runtime.Object) (bool, error) {
	if p.Empty() {
		return true, nil
	}
	getAttrs := p.GetAttrs
	if getAttrs == nil {
		getAttrs = DefaultAttrs
	}
	lset, fset, err := getAttrs(obj)
	if err != nil {
		return false, err
	}
	if p.Label != nil && !p.Label.Matches(lset) {
		return false, nil
	}
	if p.Field != nil && !p.Field.Matches(fset) {
		return false, nil
	}
	return true, nil
}

// DefaultAttrs gives an object's labels and the field selectors every
// resource supports: metadata.name and metadata.namespace.
func DefaultAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, err
	}
	return m.GetLabels(), fields.Set{
		"metadata.name":      m.GetName(),
		"metadata.namespace": m.GetNamespace(),
	}, nil
}

// matcher returns nil when the predicate selects everything, so that hot
// loops skip it with one comparison; a predicate that fails on an object
// (GetAttrs errs) does not select it, as in kube-apiserver.
func (p SelectionPredicate) matcher() func(runtime.Object) bool {
	if p.Empty() {
		return nil
	}
	return func(obj runtime.Object) bool {
		ok, err := p.Matches(obj)
		return err == nil && ok
	}
}

// check compares the preconditions with the stored object. The messages are
// kube-apiserver's. A resourceVersion mismatch on an update is the common
// lost race, reported as a conflict; everything else is an invalid-object
// error, which is also answered as 409 Conflict.
func (p *Preconditions) check(key string, obj runtime.Object, rvIsConflict bool) error {
	if p == nil {
		return nil
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return fmt.Errorf("check preconditions on %s: %w", key, err)
	}
	if p.UID != nil && *p.UID != m.GetUID() {
		return newError(ErrCodeInvalidObj, key, 0, fmt.Sprintf(
			"Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID()))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
		if rvIsConflict {
			return newError(ErrCodeResourceVersionConflicts, key, 0, fmt.Sprintf(
				"Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v",
				*p.ResourceVersion, m.GetResourceVersion()))
		}
		return newError(ErrCodeInvalidObj, key, 0, fmt.Sprintf(
			"Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v",
			*p.ResourceVersion, m.GetResourceVersion()))
	}
	return nil
}
