package rest

import (
	"mime"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// wantsPartialMetadata reports whether the client asked for objects'
// metadata only, as client-go's metadata client and metadata informers do:
// "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1" (or
// PartialObjectMetadataList for lists), possibly after the same in
// protobuf, which is answered in JSON.
func wantsPartialMetadata(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || (mt != "application/json" && mt != protobufType) {
			continue
		}
		switch params["as"] {
		case "PartialObjectMetadata", "PartialObjectMetadataList":
			if params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
				return true
			}
		case "":
			if mt == "application/json" {
				return false // the client prefers whole objects
			}
		}
	}
	return false
}

var (
	partialKind     = metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadata"}
	partialListKind = metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadataList"}
)

// toPartialMetadata keeps an object's, or each list item's, metadata only.
func toPartialMetadata(obj runtime.Object) (runtime.Object, error) {
	if meta.IsListType(obj) {
		listMeta, err := meta.ListAccessor(obj)
		if err != nil {
			return nil, err
		}
		out := &metav1.PartialObjectMetadataList{TypeMeta: partialListKind}
		out.ResourceVersion = listMeta.GetResourceVersion()
		out.Continue = listMeta.GetContinue()
		out.RemainingItemCount = listMeta.GetRemainingItemCount()
		err = meta.EachListItem(obj, func(item runtime.Object) error {
			p, err := partialOf(item)
			if err == nil {
				out.Items = append(out.Items, *p)
			}
			return err
		})
		return out, err
	}
	return partialOf(obj)
}

func partialOf(obj runtime.Object) (*metav1.PartialObjectMetadata, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	p := &metav1.PartialObjectMetadata{TypeMeta: partialKind}
	p.ObjectMeta = metav1.ObjectMeta{
		Name: m.GetName(), GenerateName: m.GetGenerateName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
		ResourceVersion: m.GetResourceVersion(), Generation: m.GetGeneration(),
		CreationTimestamp: m.GetCreationTimestamp(), DeletionTimestamp: m.GetDeletionTimestamp(),
		DeletionGracePeriodSeconds: m.GetDeletionGracePeriodSeconds(),
		Labels:                     m.GetLabels(), Annotations: m.GetAnnotations(),
		OwnerReferences: m.GetOwnerReferences(), Finalizers: m.GetFinalizers(), ManagedFields: m.GetManagedFields(),
	}
	return p, nil
}
