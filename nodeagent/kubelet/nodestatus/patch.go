package nodestatus

import (
	"encoding/json"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// nodeStatusPatch is the strategic merge patch from old to updated that
// upstream's kubelet sends to nodes/status: status and metadata only, the
// spec being others' to change.
func nodeStatusPatch(old, updated *corev1.Node) ([]byte, error) {
	oldData, err := json.Marshal(old)
	if err != nil {
		return nil, err
	}
	// NodeStatus.Addresses is declared patchStrategy=merge on the type but
	// keyed by type alone, so a merge of a changed list would keep stale
	// entries; upstream replaces the whole list instead.
	replaceAddresses := len(old.Status.Addresses) > 0 &&
		!equality.Semantic.DeepEqual(old.Status.Addresses, updated.Status.Addresses)
	diff := updated.DeepCopy()
	diff.Spec = old.Spec
	if replaceAddresses {
		diff.Status.Addresses = old.Status.Addresses
	}
	newData, err := json.Marshal(diff)
	if err != nil {
		return nil, err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, corev1.Node{})
	if err != nil {
		return nil, err
	}
	if replaceAddresses {
		return withReplacedAddresses(patch, updated.Status.Addresses)
	}
	return patch, nil
}

// withReplacedAddresses adds status.addresses to patch with the
// "$patch: replace" directive.
func withReplacedAddresses(patch []byte, addresses []corev1.NodeAddress) ([]byte, error) {
	var patchMap map[string]any
	if err := json.Unmarshal(patch, &patchMap); err != nil {
		return nil, err
	}
	addrJSON, err := json.Marshal(addresses)
	if err != nil {
		return nil, err
	}
	var addrList []any
	if err := json.Unmarshal(addrJSON, &addrList); err != nil {
		return nil, err
	}
	addrList = append(addrList, map[string]any{"$patch": "replace"})
	status, _ := patchMap["status"].(map[string]any)
	if status == nil {
		status = map[string]any{}
		patchMap["status"] = status
	}
	status["addresses"] = addrList
	return json.Marshal(patchMap)
}

// metadataPatch is the patch setting labels and annotations on an existing
// Node, or nil when it has them already. Keys it does not name are left
// alone.
func metadataPatch(existing *corev1.Node, labels, annotations map[string]string) ([]byte, error) {
	meta := map[string]map[string]string{}
	if d := differingEntries(existing.Labels, labels); len(d) > 0 {
		meta["labels"] = d
	}
	if d := differingEntries(existing.Annotations, annotations); len(d) > 0 {
		meta["annotations"] = d
	}
	if len(meta) == 0 {
		return nil, nil
	}
	return json.Marshal(map[string]any{"metadata": meta})
}

// differingEntries is the entries of want that have lacks or holds with
// another value.
func differingEntries(have, want map[string]string) map[string]string {
	d := map[string]string{}
	for k, v := range want {
		if cur, ok := have[k]; !ok || cur != v {
			d[k] = v
		}
	}
	return d
}

// nodeStatusHasChanged compares statuses as upstream does: heartbeats alone
// are no change.
func nodeStatusHasChanged(old, updated *corev1.NodeStatus) bool {
	if nodeConditionsHaveChanged(old.Conditions, updated.Conditions) {
		return true
	}
	oldCopy := old.DeepCopy()
	updatedCopy := updated.DeepCopy()
	oldCopy.Conditions = nil
	updatedCopy.Conditions = nil
	return !equality.Semantic.DeepEqual(oldCopy, updatedCopy)
}

func nodeConditionsHaveChanged(old, updated []corev1.NodeCondition) bool {
	if len(old) != len(updated) {
		return true
	}
	byType := func(a, b corev1.NodeCondition) int { return strings.Compare(string(a.Type), string(b.Type)) }
	old = slices.SortedFunc(slices.Values(old), byType)
	updated = slices.SortedFunc(slices.Values(updated), byType)
	for i := range old {
		a, b := old[i], updated[i]
		a.LastHeartbeatTime = metav1.Time{}
		b.LastHeartbeatTime = metav1.Time{}
		if !equality.Semantic.DeepEqual(a, b) {
			return true
		}
	}
	return false
}
