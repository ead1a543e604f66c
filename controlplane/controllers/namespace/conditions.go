package namespace

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// conditionTypes are the namespace conditions the controller owns, in
// upstream's order.
var conditionTypes = []corev1.NamespaceConditionType{
	corev1.NamespaceDeletionDiscoveryFailure,
	corev1.NamespaceDeletionGVParsingFailure,
	corev1.NamespaceDeletionContentFailure,
	corev1.NamespaceContentRemaining,
	corev1.NamespaceFinalizersRemaining,
}

// okConditions are upstream's condition when nothing went wrong (status
// False): reason and message.
var okConditions = map[corev1.NamespaceConditionType]struct{ reason, message string }{
	corev1.NamespaceDeletionDiscoveryFailure: {"ResourcesDiscovered", "All resources successfully discovered"},
	corev1.NamespaceDeletionGVParsingFailure: {"ParsedGroupVersions", "All legacy kube types successfully parsed"},
	corev1.NamespaceDeletionContentFailure:   {"ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
	corev1.NamespaceContentRemaining:         {"ContentRemoved", "All content successfully removed"},
	corev1.NamespaceFinalizersRemaining:      {"ContentHasNoFinalizers", "All content-preserving finalizers finished"},
}

// contentTotals is what one pass found left in the namespace.
type contentTotals struct {
	// remaining counts the objects left per resource.
	remaining map[schema.GroupVersionResource]int
	// finalizers counts the objects left per finalizer they carry.
	finalizers map[string]int
}

func newContentTotals() contentTotals {
	return contentTotals{remaining: map[schema.GroupVersionResource]int{}, finalizers: map[string]int{}}
}

func (t contentTotals) add(gvr schema.GroupVersionResource, left gvrLeft) {
	if left.count == 0 {
		return
	}
	t.remaining[gvr] += left.count
	for f, n := range left.finalizers {
		t.finalizers[f] += n
	}
}

// conditionUpdater turns one deletion pass's failures and leftovers into
// the namespace's conditions, as upstream's namespaceConditionUpdater.
type conditionUpdater struct {
	failed        []corev1.NamespaceCondition
	contentErrors []error
}

func (u *conditionUpdater) discoveryFailed(err error) {
	msg := err.Error()
	var derr *discovery.ErrGroupDiscoveryFailed
	if errors.As(err, &derr) {
		msg = fmt.Sprintf("Discovery failed for some groups, %d failing: %v", len(derr.Groups), err)
	}
	u.failed = append(u.failed, trueCondition(corev1.NamespaceDeletionDiscoveryFailure, "DiscoveryFailed", msg))
}

func (u *conditionUpdater) groupVersionParsingFailed(err error) {
	u.failed = append(u.failed, trueCondition(corev1.NamespaceDeletionGVParsingFailure, "GroupVersionParsingFailed", err.Error()))
}

func (u *conditionUpdater) contentDeletionFailed(err error) {
	u.contentErrors = append(u.contentErrors, err)
}

func (u *conditionUpdater) contentLeft(totals contentTotals) {
	if len(totals.remaining) > 0 {
		var parts []string
		for gvr, n := range totals.remaining {
			parts = append(parts, fmt.Sprintf("%s.%s has %d resource instances", gvr.Resource, gvr.Group, n))
		}
		sort.Strings(parts)
		u.failed = append(u.failed, trueCondition(corev1.NamespaceContentRemaining, "SomeResourcesRemain",
			"Some resources are remaining: "+strings.Join(parts, ", ")))
	}
	if len(totals.finalizers) > 0 {
		var parts []string
		for f, n := range totals.finalizers {
			parts = append(parts, fmt.Sprintf("%s in %d resource instances", f, n))
		}
		sort.Strings(parts)
		u.failed = append(u.failed, trueCondition(corev1.NamespaceFinalizersRemaining, "SomeFinalizersRemain",
			"Some content in the namespace has finalizers remaining: "+strings.Join(parts, ", ")))
	}
}

// apply writes the conditions into status and reports whether anything
// changed. A condition type with no failure gets its ok variant; an
// existing condition's transition time moves only when its status does.
func (u *conditionUpdater) apply(status *corev1.NamespaceStatus, now metav1.Time) bool {
	failed := u.failed
	if len(u.contentErrors) > 0 && findCondition(failed, corev1.NamespaceDeletionContentFailure) == nil {
		msgs := make([]string, 0, len(u.contentErrors))
		for _, err := range u.contentErrors {
			msgs = append(msgs, err.Error())
		}
		sort.Strings(msgs)
		failed = append(failed, trueCondition(corev1.NamespaceDeletionContentFailure, "ContentDeletionFailed",
			fmt.Sprintf("Failed to delete all resource types, %d remaining: %v", len(u.contentErrors), strings.Join(msgs, ", "))))
	}
	changed := false
	for _, t := range conditionTypes {
		want := findCondition(failed, t)
		if want == nil {
			ok := okConditions[t]
			want = &corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: ok.reason, Message: ok.message}
		}
		have := findCondition(status.Conditions, t)
		switch {
		case have == nil:
			c := *want
			c.LastTransitionTime = now
			status.Conditions = append(status.Conditions, c)
			changed = true
		case have.Status != want.Status || have.Reason != want.Reason || have.Message != want.Message:
			if have.Status != want.Status {
				have.LastTransitionTime = now
			}
			have.Status, have.Reason, have.Message = want.Status, want.Reason, want.Message
			changed = true
		}
	}
	return changed
}

func trueCondition(t corev1.NamespaceConditionType, reason, message string) corev1.NamespaceCondition {
	return corev1.NamespaceCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message}
}

func findCondition(conditions []corev1.NamespaceCondition, t corev1.NamespaceConditionType) *corev1.NamespaceCondition {
	for i := range conditions {
		if conditions[i].Type == t {
			return &conditions[i]
		}
	}
	return nil
}
