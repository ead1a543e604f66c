// Package history is upstream's pkg/controller/history: a workload's
// past pod templates kept as ControllerRevisions, named
// <owner>-<hash>, numbered by Revision, owned by the workload through a
// controller reference. The StatefulSet and DaemonSet controllers record
// their templates here, and `kubectl rollout history` and `rollout undo`
// read them back.
package history

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/dump"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/util/retry"
)

// ControllerRevisionHashLabel holds the hash of a revision's data, so
// that equal revisions are found without comparing their data.
const ControllerRevisionHashLabel = "controller.kubernetes.io/hash"

// maxPrefixLength keeps <prefix>-<hash> within the 253 bytes of a name.
const maxPrefixLength = 223

// ControllerRevisionName is prefix-hash, the prefix cut to 223 bytes.
func ControllerRevisionName(prefix, hash string) string {
	if len(prefix) > maxPrefixLength {
		prefix = prefix[:maxPrefixLength]
	}
	return prefix + "-" + hash
}

// NewControllerRevision returns a revision of parent holding data, with
// templateLabels, the hash label, a controller reference to parent, and
// a name made from parent's name and the hash of data and
// collisionCount.
func NewControllerRevision(parent metav1.Object, parentKind schema.GroupVersionKind, templateLabels map[string]string,
	data runtime.RawExtension, revision int64, collisionCount *int32) *appsv1.ControllerRevision {
	labelMap := make(map[string]string, len(templateLabels)+1)
	for k, v := range templateLabels {
		labelMap[k] = v
	}
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Labels:          labelMap,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(parent, parentKind)},
		},
		Data:     data,
		Revision: revision,
	}
	hash := HashControllerRevision(cr, collisionCount)
	cr.Name = ControllerRevisionName(parent.GetName(), hash)
	cr.Labels[ControllerRevisionHashLabel] = hash
	return cr
}

// HashControllerRevision is upstream's FNV-32 hash of a revision's data
// and probe, encoded without vowels so that no word is spelled. The
// value matches upstream's for the same data, so names do not change
// when a cluster moves between implementations.
func HashControllerRevision(revision *appsv1.ControllerRevision, probe *int32) string {
	hf := fnv.New32()
	if len(revision.Data.Raw) > 0 {
		_, _ = hf.Write(revision.Data.Raw)
	}
	if revision.Data.Object != nil {
		// Upstream's object hash starts the hasher afresh; kept so
		// that hashes agree.
		hf.Reset()
		fmt.Fprintf(hf, "%v", dump.ForHash(revision.Data.Object))
	}
	if probe != nil {
		_, _ = hf.Write([]byte(strconv.FormatInt(int64(*probe), 10)))
	}
	return rand.SafeEncodeString(fmt.Sprint(hf.Sum32()))
}

// SortControllerRevisions sorts revisions by Revision, then creation
// time, then name.
func SortControllerRevisions(revisions []*appsv1.ControllerRevision) {
	sort.SliceStable(revisions, func(i, j int) bool {
		a, b := revisions[i], revisions[j]
		if a.Revision != b.Revision {
			return a.Revision < b.Revision
		}
		if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.Name < b.Name
		}
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	})
}

// EqualRevision reports whether both are nil, or both hold the same data.
// Differing hash labels settle it without comparing the data.
func EqualRevision(lhs, rhs *appsv1.ControllerRevision) bool {
	if lhs == nil || rhs == nil {
		return lhs == rhs
	}
	lh, lok := parseHashLabel(lhs)
	rh, rok := parseHashLabel(rhs)
	if lok && rok && lh != rh {
		return false
	}
	return bytes.Equal(lhs.Data.Raw, rhs.Data.Raw) && equality.Semantic.DeepEqual(lhs.Data.Object, rhs.Data.Object)
}

// parseHashLabel reads the hash label as upstream does: as a decimal
// number, which an encoded hash seldom is, so the shortcut seldom applies.
func parseHashLabel(cr *appsv1.ControllerRevision) (uint32, bool) {
	s, ok := cr.Labels[ControllerRevisionHashLabel]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

// FindEqualRevisions returns the revisions equal to needle, in order.
func FindEqualRevisions(revisions []*appsv1.ControllerRevision, needle *appsv1.ControllerRevision) []*appsv1.ControllerRevision {
	var eq []*appsv1.ControllerRevision
	for _, r := range revisions {
		if EqualRevision(r, needle) {
			eq = append(eq, r)
		}
	}
	return eq
}

// History reads revisions from an informer's cache and writes them
// through the API. It never changes the objects it is given: those of
// the cache are shared.
type History struct {
	client kubernetes.Interface
	lister appslisters.ControllerRevisionLister
}

// New returns a History writing through client and reading lister.
func New(client kubernetes.Interface, lister appslisters.ControllerRevisionLister) *History {
	return &History{client: client, lister: lister}
}

// List returns the revisions in parent's namespace that selector
// matches and that parent controls or no one does.
func (h *History) List(parent metav1.Object, selector labels.Selector) ([]*appsv1.ControllerRevision, error) {
	all, err := h.lister.ControllerRevisions(parent.GetNamespace()).List(selector)
	if err != nil {
		return nil, fmt.Errorf("list controllerrevisions of %s: %w", parent.GetName(), err)
	}
	var owned []*appsv1.ControllerRevision
	for _, r := range all {
		ref := metav1.GetControllerOfNoCopy(r)
		if ref == nil || ref.UID == parent.GetUID() {
			owned = append(owned, r)
		}
	}
	return owned, nil
}

// Create creates revision in parent's namespace, named from parent and
// the hash of the revision's data and *collisionCount. A different
// revision under that name is a collision: *collisionCount grows and the
// next name is tried. The same data under that name is this revision,
// created before.
func (h *History) Create(ctx context.Context, parent metav1.Object, revision *appsv1.ControllerRevision, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	if collisionCount == nil {
		return nil, fmt.Errorf("create controllerrevision of %s: collision count is nil", parent.GetName())
	}
	clone := revision.DeepCopy()
	ns := parent.GetNamespace()
	revisions := h.client.AppsV1().ControllerRevisions(ns)
	for {
		clone.Name = ControllerRevisionName(parent.GetName(), HashControllerRevision(revision, collisionCount))
		created, err := revisions.Create(ctx, clone, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			if err != nil {
				return nil, fmt.Errorf("create controllerrevision %s/%s: %w", ns, clone.Name, err)
			}
			return created, nil
		}
		exists, err := revisions.Get(ctx, clone.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get controllerrevision %s/%s: %w", ns, clone.Name, err)
		}
		if bytes.Equal(exists.Data.Raw, clone.Data.Raw) {
			return exists, nil
		}
		*collisionCount++
	}
}

// UpdateRevision sets revision's number to newRevision, retrying
// conflicts against the cache's newer copy. Rolling back to an old
// template is renumbering its revision, not copying it.
func (h *History) UpdateRevision(ctx context.Context, revision *appsv1.ControllerRevision, newRevision int64) (*appsv1.ControllerRevision, error) {
	clone := revision.DeepCopy()
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if clone.Revision == newRevision {
			return nil
		}
		clone.Revision = newRevision
		updated, err := h.client.AppsV1().ControllerRevisions(clone.Namespace).Update(ctx, clone, metav1.UpdateOptions{})
		if err == nil {
			clone = updated
			return nil
		}
		if cached, getErr := h.lister.ControllerRevisions(clone.Namespace).Get(clone.Name); getErr == nil {
			clone = cached.DeepCopy()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update controllerrevision %s/%s to revision %d: %w", revision.Namespace, revision.Name, newRevision, err)
	}
	return clone, nil
}

// Delete deletes revision.
func (h *History) Delete(ctx context.Context, revision *appsv1.ControllerRevision) error {
	err := h.client.AppsV1().ControllerRevisions(revision.Namespace).Delete(ctx, revision.Name, metav1.DeleteOptions{})
	if err != nil {
		return fmt.Errorf("delete controllerrevision %s/%s: %w", revision.Namespace, revision.Name, err)
	}
	return nil
}

// Adopt makes parent the controller of an orphaned revision. The patch
// names the revision's UID, so a revision deleted and recreated under
// the same name is not adopted by mistake.
func (h *History) Adopt(ctx context.Context, parent metav1.Object, parentKind schema.GroupVersionKind, revision *appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
	if owner := metav1.GetControllerOfNoCopy(revision); owner != nil {
		return nil, fmt.Errorf("adopt controllerrevision %s/%s: already owned by %s %s", revision.Namespace, revision.Name, owner.Kind, owner.Name)
	}
	patch := AdoptPatch(parent, parentKind, revision.UID)
	adopted, err := h.client.AppsV1().ControllerRevisions(parent.GetNamespace()).Patch(ctx, revision.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return nil, fmt.Errorf("adopt controllerrevision %s/%s: %w", revision.Namespace, revision.Name, err)
	}
	return adopted, nil
}

// Release removes parent's reference from revision. A revision gone, or
// no longer parent's (the patch then fails validation), needs no
// release: both return nil and no error.
func (h *History) Release(ctx context.Context, parent metav1.Object, revision *appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
	patch := ReleasePatch(parent.GetUID(), revision.UID)
	released, err := h.client.AppsV1().ControllerRevisions(revision.Namespace).Patch(ctx, revision.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("release controllerrevision %s/%s: %w", revision.Namespace, revision.Name, err)
	}
	return released, nil
}

// AdoptPatch is upstream's strategic merge patch that adds a controller
// reference to owner on the object whose UID is uid.
func AdoptPatch(owner metav1.Object, ownerKind schema.GroupVersionKind, uid types.UID) []byte {
	return fmt.Appendf(nil,
		`{"metadata":{"ownerReferences":[{"apiVersion":%q,"kind":%q,"name":%q,"uid":%q,"controller":true,"blockOwnerDeletion":true}],"uid":%q}}`,
		ownerKind.GroupVersion().String(), ownerKind.Kind, owner.GetName(), owner.GetUID(), uid)
}

// ReleasePatch is upstream's strategic merge patch that removes the
// reference to the owner ownerUID from the object whose UID is uid.
func ReleasePatch(ownerUID, uid types.UID) []byte {
	return fmt.Appendf(nil, `{"metadata":{"ownerReferences":[{"$patch":"delete","uid":%q}],"uid":%q}}`, ownerUID, uid)
}
