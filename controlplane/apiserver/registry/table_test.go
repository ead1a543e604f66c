package registry

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/kubernetes/scheme"
)

// The table's kinds must be the Go types' own: clients decode by kind.
func TestEveryResourceHasTheKindOfItsGoType(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Resources() {
		gvr := r.GroupVersionResource().String()
		if seen[gvr] {
			t.Errorf("%s listed twice", gvr)
		}
		seen[gvr] = true
		kinds, _, err := scheme.Scheme.ObjectKinds(r.New())
		if err != nil {
			t.Errorf("%s: %v", gvr, err)
			continue
		}
		found := false
		for _, k := range kinds {
			if k == r.GroupVersionKind() {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: Go type is %v, table says %v", gvr, kinds, r.GroupVersionKind())
		}
		if r.Name != "bindings" && len(r.Verbs) > 1 && !meta.IsListType(r.NewList()) {
			t.Errorf("%s: NewList is not a list", gvr)
		}
	}
}
