package rest

import (
	"crypto/rand"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kindish/kindish/controlplane/apiserver/request"
)

// metaOf returns the object's metadata. Every type the registry serves
// embeds metav1.ObjectMeta, so this cannot fail for them.
func metaOf(obj runtime.Object) *metav1.ObjectMeta {
	accessor, ok := obj.(metav1.ObjectMetaAccessor)
	if !ok {
		panic(fmt.Sprintf("object %T has no metadata", obj))
	}
	om, ok := accessor.GetObjectMeta().(*metav1.ObjectMeta)
	if !ok {
		panic(fmt.Sprintf("object %T has metadata of type %T", obj, accessor.GetObjectMeta()))
	}
	return om
}

// setKind sets apiVersion and kind, which clients decode objects by.
func (h *Handler) setKind(obj runtime.Object) {
	gvk := h.Resource.GroupVersionKind()
	if meta.IsListType(obj) {
		gvk.Kind += "List"
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
}

// checkNamespaceAndName reconciles the object's namespace and name with
// the URL's, with upstream's messages.
func (h *Handler) checkNamespaceAndName(om *metav1.ObjectMeta, info *request.Info) error {
	if h.Resource.Namespaced {
		switch {
		case om.Namespace == "":
			om.Namespace = info.Namespace
		case om.Namespace != info.Namespace:
			return badRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		om.Namespace = ""
	}
	if info.Name != "" && om.Name != info.Name {
		return badRequest("the name of the object (%s) does not match the name on the URL (%s)", om.Name, info.Name)
	}
	return nil
}

// generateNameSuffix is upstream's: 5 characters without vowels or
// look-alikes, so generated names never spell words.
const generateNameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func generateName(prefix string) string {
	b := make([]byte, 5)
	rand.Read(b)
	for i := range b {
		b[i] = generateNameAlphabet[int(b[i])%len(generateNameAlphabet)]
	}
	maxPrefix := 63 - len(b)
	if len(prefix) > maxPrefix {
		prefix = prefix[:maxPrefix]
	}
	return prefix + string(b)
}

// prepareCreate sets what the server owns in a new object's metadata.
func (h *Handler) prepareCreate(obj runtime.Object) {
	om := metaOf(obj)
	if om.Name == "" && om.GenerateName != "" {
		om.Name = generateName(om.GenerateName)
	}
	om.UID = types.UID(uuid.NewUUID())
	om.CreationTimestamp = metav1.NewTime(h.now().Truncate(1e9))
	om.ResourceVersion = ""
	om.SelfLink = ""
	om.DeletionTimestamp = nil
	om.DeletionGracePeriodSeconds = nil
	om.Generation = 0
	if h.Resource.Strategy.Generation {
		om.Generation = 1
	}
	if h.Resource.Strategy.StatusSplit && !h.Resource.Strategy.StatusOnCreate {
		clearStatus(obj)
	}
	if f := h.Resource.Strategy.PrepareForCreate; f != nil {
		f(obj)
	}
}

// validateCreate runs metadata and resource validation.
func (h *Handler) validateCreate(obj runtime.Object) error {
	errs := apivalidation.ValidateObjectMetaAccessor(metaOf(obj), h.Resource.Namespaced, h.nameRule(), field.NewPath("metadata"))
	if f := h.Resource.Strategy.Validate; f != nil {
		errs = append(errs, f(obj)...)
	}
	return h.invalid(obj, errs)
}

func (h *Handler) validateUpdate(obj, old runtime.Object, subresource string) error {
	errs := apivalidation.ValidateObjectMetaAccessorUpdate(metaOf(obj), metaOf(old), field.NewPath("metadata"))
	errs = append(errs, apivalidation.ValidateObjectMetaAccessor(metaOf(obj), h.Resource.Namespaced, h.nameRule(), field.NewPath("metadata"))...)
	if f := h.Resource.Strategy.ValidateStatusUpdate; subresource == "status" && f != nil {
		errs = append(errs, f(obj, old)...)
	} else if f := h.Resource.Strategy.ValidateUpdate; f != nil {
		errs = append(errs, f(obj, old)...)
	} else if f := h.Resource.Strategy.Validate; f != nil {
		errs = append(errs, f(obj)...)
	}
	return h.invalid(obj, errs)
}

// nameRule is the resource's rule for metadata.name.
func (h *Handler) nameRule() apivalidation.ValidateNameFunc {
	if f := h.Resource.Strategy.NameRule; f != nil {
		return f
	}
	return apivalidation.NameIsDNSSubdomain
}

func (h *Handler) invalid(obj runtime.Object, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return newInvalid(h.Resource.GroupVersionKind().GroupKind(), metaOf(obj).Name, errs)
}

// statusField returns the struct's Status field, if it has one.
func statusField(obj runtime.Object) (reflect.Value, bool) {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	f := v.Elem().FieldByName("Status")
	return f, f.IsValid() && f.CanSet()
}

// clearStatus zeroes a new object's status: clients do not write it.
func clearStatus(obj runtime.Object) {
	if f, ok := statusField(obj); ok {
		f.Set(reflect.Zero(f.Type()))
	}
}

// copyStatus sets dst's status to src's.
func copyStatus(dst, src runtime.Object) {
	d, ok1 := statusField(dst)
	s, ok2 := statusField(src)
	if ok1 && ok2 {
		d.Set(s)
	}
}

// specChanged reports whether the objects' Spec fields differ (objects
// without a Spec count every non-metadata change).
func specChanged(a, b runtime.Object) bool {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	sa, sb := va.FieldByName("Spec"), vb.FieldByName("Spec")
	if sa.IsValid() && sb.IsValid() {
		return !reflect.DeepEqual(sa.Interface(), sb.Interface())
	}
	return false
}

// reflectSet sets *dst to *src; both are pointers to the same struct type.
func reflectSet(dst, src runtime.Object) {
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}
