package storage

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	kruntime "k8s.io/apimachinery/pkg/runtime"
)

// Custom resources arrive as unstructured objects, which carry their own
// apiVersion and kind.
func TestUnstructuredObjects(t *testing.T) {
	s, ctx := New(testClient, nil), ctxFor(t)
	prefix := "/registry/example.com/widgets/" + testPrefix(t)[len("/registry/pods/"):]
	widget := func(name, color string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("example.com/v1")
		u.SetKind("Widget")
		u.SetName(name)
		u.SetNamespace("default")
		u.SetLabels(map[string]string{"color": color})
		_ = unstructured.SetNestedField(u.Object, int64(3), "spec", "size")
		return u
	}
	for i, color := range []string{"red", "blue", "red"} {
		name := fmt.Sprintf("w-%d", i)
		if err := s.Create(ctx, prefix+name, widget(name, color), &unstructured.Unstructured{}); err != nil {
			t.Fatal(err)
		}
	}

	got := &unstructured.Unstructured{}
	if err := s.Get(ctx, prefix+"w-1", GetOptions{}, got); err != nil {
		t.Fatal(err)
	}
	if got.GetKind() != "Widget" || got.GetResourceVersion() == "" || got.GetLabels()["color"] != "blue" {
		t.Errorf("got %v", got.Object)
	}

	err := s.GuaranteedUpdate(ctx, prefix+"w-1", &unstructured.Unstructured{}, false, nil, func(obj kruntime.Object) (kruntime.Object, error) {
		u := obj.(*unstructured.Unstructured)
		return u, unstructured.SetNestedField(u.Object, int64(4), "spec", "size")
	})
	if err != nil {
		t.Fatal(err)
	}

	// No GetAttrs: labels and metadata come from the object itself.
	list := &unstructured.UnstructuredList{}
	opts := ListOptions{Predicate: SelectionPredicate{Label: labels.SelectorFromSet(labels.Set{"color": "red"})}}
	if err := s.GetList(ctx, prefix, opts, list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 || list.Items[0].GetName() != "w-0" || list.Items[1].GetName() != "w-2" || list.GetResourceVersion() == "" {
		t.Fatalf("list = %v", list.Items)
	}
	all := &unstructured.UnstructuredList{}
	if err := s.GetList(ctx, prefix, ListOptions{}, all); err != nil {
		t.Fatal(err)
	}
	size, _, _ := unstructured.NestedInt64(all.Items[1].Object, "spec", "size")
	if len(all.Items) != 3 || size != 4 {
		t.Errorf("w-1 size %d in %d items", size, len(all.Items))
	}
}
