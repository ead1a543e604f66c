package storage

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
)

func names(list *corev1.PodList) []string {
	var out []string
	for _, p := range list.Items {
		out = append(out, p.Name)
	}
	return out
}

func TestListSelectors(t *testing.T) {
	for _, cache := range []bool{true, false} {
		t.Run(fmt.Sprint("cache=", cache), func(t *testing.T) {
			s := podStore()
			if !cache {
				s = New(testClient, nil, WithObjectCache(nil))
			}
			testListSelectors(t, s)
		})
	}
}

func testListSelectors(t *testing.T, s *Store) {
	ctx, prefix := ctxFor(t), testPrefix(t)
	for i, spec := range []struct{ app, node, phase string }{
		{"web", "node-a", "Running"},
		{"web", "node-b", "Pending"},
		{"db", "node-a", "Running"},
		{"db", "", "Pending"},
	} {
		pod := testPod(fmt.Sprintf("pod-%d", i))
		pod.Labels = map[string]string{"app": spec.app}
		pod.Spec.NodeName = spec.node
		pod.Status.Phase = corev1.PodPhase(spec.phase)
		mustCreate(t, s, prefix+pod.Name, pod)
	}
	// Outside the prefix, and sharing its first letters: never listed.
	mustCreate(t, s, prefix[:len(prefix)-1]+"x/pod-9", testPod("pod-9"))

	for _, tc := range []struct {
		label, field string
		want         []string
	}{
		{"", "", []string{"pod-0", "pod-1", "pod-2", "pod-3"}},
		{"app=web", "", []string{"pod-0", "pod-1"}},
		{"app in (db),app!=web", "", []string{"pod-2", "pod-3"}},
		{"", "spec.nodeName=node-a", []string{"pod-0", "pod-2"}},
		{"", "spec.nodeName=", []string{"pod-3"}},
		{"", "status.phase!=Running", []string{"pod-1", "pod-3"}},
		{"", "metadata.name=pod-2", []string{"pod-2"}},
		{"app=web", "status.phase=Running", []string{"pod-0"}},
		{"app=none", "", nil},
	} {
		t.Run(tc.label+"|"+tc.field, func(t *testing.T) {
			lsel, err := labels.Parse(tc.label)
			if err != nil {
				t.Fatal(err)
			}
			fsel, err := fields.ParseSelector(tc.field)
			if err != nil {
				t.Fatal(err)
			}
			list := &corev1.PodList{}
			opts := ListOptions{Predicate: SelectionPredicate{Label: lsel, Field: fsel, GetAttrs: podAttrs}}
			if err := s.GetList(ctx, prefix, opts, list); err != nil {
				t.Fatal(err)
			}
			if got := names(list); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if list.ResourceVersion == "" || list.Continue != "" || list.Items == nil {
				t.Errorf("list meta %+v, items nil: %v", list.ListMeta, list.Items == nil)
			}
			for _, p := range list.Items {
				if p.ResourceVersion == "" {
					t.Errorf("%s has no resourceVersion", p.Name)
				}
			}
		})
	}
}

func TestListPagingReadsOneSnapshot(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	var want []string
	for i := range 25 {
		name := fmt.Sprintf("pod-%02d", i)
		want = append(want, name)
		mustCreate(t, s, prefix+name, testPod(name))
	}

	first := &corev1.PodList{}
	if err := s.GetList(ctx, prefix, ListOptions{Predicate: SelectionPredicate{Limit: 10}}, first); err != nil {
		t.Fatal(err)
	}
	if len(first.Items) != 10 || first.Continue == "" || first.RemainingItemCount == nil || *first.RemainingItemCount != 15 {
		t.Fatalf("first page: %d items, continue %q, remaining %v", len(first.Items), first.Continue, first.RemainingItemCount)
	}

	// kube-apiserver's token: base64url JSON naming the revision and
	// the key after the last one returned.
	raw, err := base64.RawURLEncoding.DecodeString(first.Continue)
	if err != nil {
		t.Fatal(err)
	}
	var token map[string]any
	if err := json.Unmarshal(raw, &token); err != nil {
		t.Fatal(err)
	}
	if token["v"] != "meta.k8s.io/v1" || token["start"] != "pod-09\x00" || fmt.Sprint(token["rv"]) != first.ResourceVersion {
		t.Errorf("token = %s", raw)
	}

	// Writes between pages must not show.
	mustCreate(t, s, prefix+"pod-15a", testPod("pod-15a"))
	if err := s.Delete(ctx, prefix+"pod-20", &corev1.Pod{}, nil, nil); err != nil {
		t.Fatal(err)
	}

	got := names(first)
	cont := first.Continue
	for cont != "" {
		page := &corev1.PodList{}
		if err := s.GetList(ctx, prefix, ListOptions{Predicate: SelectionPredicate{Limit: 10, Continue: cont}}, page); err != nil {
			t.Fatal(err)
		}
		if page.ResourceVersion != first.ResourceVersion {
			t.Errorf("page at rv %s, first at %s", page.ResourceVersion, first.ResourceVersion)
		}
		got = append(got, names(page)...)
		cont = page.Continue
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages gave %v\nwant %v", got, want)
	}

	// A new list sees the writes.
	now := &corev1.PodList{}
	if err := s.GetList(ctx, prefix, ListOptions{}, now); err != nil {
		t.Fatal(err)
	}
	if len(now.Items) != 25 || !slices.Contains(names(now), "pod-15a") || slices.Contains(names(now), "pod-20") {
		t.Errorf("latest list = %v", names(now))
	}

	// An exact resourceVersion reads the past.
	past := &corev1.PodList{}
	if err := s.GetList(ctx, prefix, ListOptions{ResourceVersion: first.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact}, past); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names(past), want) || past.ResourceVersion != first.ResourceVersion {
		t.Errorf("exact list at %s = %v (rv %s)", first.ResourceVersion, names(past), past.ResourceVersion)
	}
	// Not older than: the latest state, refused if from the future.
	if err := s.GetList(ctx, prefix, ListOptions{ResourceVersion: first.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan}, past); err != nil || len(past.Items) != 25 || past.ResourceVersion == first.ResourceVersion {
		t.Errorf("not-older-than list: %v, %v at %s", err, names(past), past.ResourceVersion)
	}
	future := strconv.FormatInt(rvOf(t, now)+1000000, 10)
	for _, match := range []metav1.ResourceVersionMatch{metav1.ResourceVersionMatchNotOlderThan, metav1.ResourceVersionMatchExact} {
		err := s.GetList(ctx, prefix, ListOptions{ResourceVersion: future, ResourceVersionMatch: match}, &corev1.PodList{})
		if !IsTooLargeResourceVersion(err) {
			t.Errorf("%s future rv: %v", match, err)
		}
	}
	// Continue and resourceVersion do not mix.
	err = s.GetList(ctx, prefix, ListOptions{ResourceVersion: "5", Predicate: SelectionPredicate{Limit: 10, Continue: first.Continue}}, &corev1.PodList{})
	if !IsBadRequest(err) {
		t.Errorf("continue with rv: %v", err)
	}
	err = s.GetList(ctx, prefix, ListOptions{Predicate: SelectionPredicate{Limit: 10, Continue: "not-a-token"}}, &corev1.PodList{})
	if !IsBadRequest(err) || !apierrors.IsBadRequest(ToAPIError(err, podsGR, "")) {
		t.Errorf("bad token: %v", err)
	}
}

func TestListLimitWithSelectorFillsPages(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	for i := range 40 {
		pod := testPod(fmt.Sprintf("pod-%02d", i))
		if i%4 == 0 {
			pod.Labels = map[string]string{"app": "rare"}
		}
		mustCreate(t, s, prefix+pod.Name, pod)
	}
	sel := labels.SelectorFromSet(labels.Set{"app": "rare"})
	var got []string
	cont := ""
	pages := 0
	for {
		page := &corev1.PodList{}
		opts := ListOptions{Predicate: SelectionPredicate{Label: sel, GetAttrs: podAttrs, Limit: 3, Continue: cont}}
		if err := s.GetList(ctx, prefix, opts, page); err != nil {
			t.Fatal(err)
		}
		pages++
		if page.Continue != "" && len(page.Items) != 3 {
			t.Errorf("page %d has %d items and a continue token", pages, len(page.Items))
		}
		if page.RemainingItemCount != nil {
			t.Errorf("remaining count %d with a selector", *page.RemainingItemCount)
		}
		got = append(got, names(page)...)
		if cont = page.Continue; cont == "" {
			break
		}
	}
	want := []string{"pod-00", "pod-04", "pod-08", "pod-12", "pod-16", "pod-20", "pod-24", "pod-28", "pod-32", "pod-36"}
	if !slices.Equal(got, want) || pages != 4 {
		t.Errorf("got %v in %d pages", got, pages)
	}
}

func TestListAfterCompaction(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	for i := range 5 {
		name := fmt.Sprintf("pod-%d", i)
		mustCreate(t, s, prefix+name, testPod(name))
	}
	first := &corev1.PodList{}
	if err := s.GetList(ctx, prefix, ListOptions{Predicate: SelectionPredicate{Limit: 2}}, first); err != nil {
		t.Fatal(err)
	}
	// Move past the first page's revision, then compact it away.
	mustCreate(t, s, prefix+"pod-9", testPod("pod-9"))
	compact(t)

	err := s.GetList(ctx, prefix, ListOptions{Predicate: SelectionPredicate{Limit: 2, Continue: first.Continue}}, &corev1.PodList{})
	if !IsExpired(err) {
		t.Fatalf("continue after compaction: %v", err)
	}
	apiErr := ToAPIError(err, podsGR, "")
	status, ok := apiErr.(apierrors.APIStatus)
	if !ok || !apierrors.IsResourceExpired(apiErr) || status.Status().Code != 410 || status.Status().ListMeta.Continue == "" {
		t.Fatalf("api error %#v", apiErr)
	}

	// The offered token resumes at the latest revision after the keys
	// already read.
	rest := &corev1.PodList{}
	if err := s.GetList(ctx, prefix, ListOptions{Predicate: SelectionPredicate{Continue: status.Status().ListMeta.Continue}}, rest); err != nil {
		t.Fatal(err)
	}
	if got := names(rest); !slices.Equal(got, []string{"pod-2", "pod-3", "pod-4", "pod-9"}) {
		t.Errorf("resumed list = %v", got)
	}

	err = s.GetList(ctx, prefix, ListOptions{ResourceVersion: first.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact}, &corev1.PodList{})
	if !IsExpired(err) || !apierrors.IsResourceExpired(ToAPIError(err, podsGR, "")) {
		t.Errorf("exact list of a compacted revision: %v", err)
	}
}

func TestListOfConfigMapsAndPointerItems(t *testing.T) {
	s, ctx := New(testClient, nil), ctxFor(t)
	prefix := "/registry/configmaps/" + testPrefix(t)[len("/registry/pods/"):]
	for i := range 3 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i), Namespace: "default"}, Data: map[string]string{"i": strconv.Itoa(i)}}
		if err := s.Create(ctx, prefix+cm.Name, cm, nil); err != nil {
			t.Fatal(err)
		}
	}
	list := &corev1.ConfigMapList{}
	if err := s.GetList(ctx, prefix, ListOptions{}, list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 3 || list.Items[2].Data["i"] != "2" || list.Items[2].Kind != "ConfigMap" {
		t.Errorf("configmaps = %+v", list.Items)
	}
}
