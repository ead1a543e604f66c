package storage

import (
	"fmt"
	"reflect"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
)

func TestListThroughTheCacheSeesChangesAndHandsOutCopies(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	const n = 100
	for i := range n {
		name := fmt.Sprintf("pod-%03d", i)
		mustCreate(t, s, prefix+name, testPod(name))
	}
	list := func() *corev1.PodList {
		t.Helper()
		out := &corev1.PodList{}
		if err := s.GetList(ctx, prefix, ListOptions{}, out); err != nil {
			t.Fatal(err)
		}
		if len(out.Items) == 0 {
			t.Fatal("empty list")
		}
		return out
	}
	counters := func(l *corev1.PodList) map[string]int {
		m := map[string]int{}
		for i := range l.Items {
			m[l.Items[i].Name] = annotationCounter(t, &l.Items[i])
		}
		return m
	}
	update := func(names ...string) {
		t.Helper()
		for _, name := range names {
			if err := s.GuaranteedUpdate(ctx, prefix+name, &corev1.Pod{}, false, nil, increment); err != nil {
				t.Fatal(err)
			}
		}
	}

	first := list() // fills the cache
	if !s.cache.keysFirst() {
		t.Fatal("the cache is not used for lists")
	}
	// What a caller does to its items stays with it.
	first.Items[0].Labels["app"] = "changed"
	first.Items[0].Spec.Containers[0].Image = "changed"
	second := list()
	if second.Items[0].Labels["app"] != "web" || second.Items[0].Spec.Containers[0].Image != "nginx:1.25" {
		t.Fatalf("a caller's change reached the cache: %v %s", second.Items[0].Labels, second.Items[0].Spec.Containers[0].Image)
	}
	got := &corev1.Pod{}
	if err := s.Get(ctx, prefix+"pod-000", GetOptions{}, got); err != nil || got.Labels["app"] != "web" {
		t.Fatalf("get through the cache: %v %v", err, got.Labels)
	}
	got.Labels["app"] = "changed"
	if err := s.Get(ctx, prefix+"pod-000", GetOptions{}, got); err != nil || got.Labels["app"] != "web" {
		t.Fatalf("get through the cache, again: %v %v", err, got.Labels)
	}

	// A few changes are read by name, many with a range.
	update("pod-007", "pod-050", "pod-099")
	c := counters(list())
	if c["pod-007"] != 1 || c["pod-050"] != 1 || c["pod-099"] != 1 || c["pod-008"] != 0 {
		t.Errorf("after 3 updates: %v", c)
	}
	var many []string
	for i := 10; i < 90; i++ {
		many = append(many, fmt.Sprintf("pod-%03d", i))
	}
	update(many...)
	after := list()
	c = counters(after)
	for i := range n {
		name := fmt.Sprintf("pod-%03d", i)
		want := 0
		if i >= 10 && i < 90 {
			want++
		}
		if i == 7 || i == 50 || i == 99 {
			want++
		}
		if c[name] != want {
			t.Errorf("%s counter %d, want %d", name, c[name], want)
		}
	}
	for _, p := range after.Items {
		if p.ResourceVersion == "" {
			t.Fatalf("%s has no resourceVersion", p.Name)
		}
	}

	if err := s.Delete(ctx, prefix+"pod-001", &corev1.Pod{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if l := list(); len(l.Items) != n-1 || l.Items[1].Name != "pod-002" {
		t.Errorf("after delete: %d items, second %s", len(l.Items), l.Items[1].Name)
	}

	// Without a cache, the same.
	plain := New(testClient, nil, WithObjectCache(nil))
	out := &corev1.PodList{}
	if err := plain.GetList(ctx, prefix, ListOptions{}, out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(counters(out), counters(list())) {
		t.Error("lists with and without the cache differ")
	}
}

func TestObjectCacheBounds(t *testing.T) {
	podType := reflect.TypeOf(&corev1.Pod{})
	pod := func(name string) kruntime.Object { return testPod(name) }

	c := NewObjectCache(10000)
	for i := range 100 {
		c.put("/k/"+strconv.Itoa(i), 5, 1000, pod("p"))
		if c.bytes > c.maxBytes {
			t.Fatalf("holds %d bytes, budget %d", c.bytes, c.maxBytes)
		}
	}
	if len(c.entries) == 0 || len(c.entries) > 10 {
		t.Errorf("%d entries of 1000 bytes in a 10000-byte cache", len(c.entries))
	}

	c = NewObjectCache(1 << 20)
	c.put("/k/a", 7, 100, pod("new"))
	c.put("/k/a", 6, 100, pod("old"))
	if got := c.get([]byte("/k/a"), 7, podType); got == nil || got.(*corev1.Pod).Name != "new" {
		t.Errorf("an older revision replaced a newer one: %v", got)
	}
	if c.get([]byte("/k/a"), 6, podType) != nil {
		t.Error("a hit at another revision")
	}
	if c.get([]byte("/k/a"), 7, reflect.TypeOf(&corev1.ConfigMap{})) != nil {
		t.Error("a hit for another type")
	}
	c.put("/k/big", 8, maxCachedObject+1, pod("big"))
	if c.get([]byte("/k/big"), 8, podType) != nil {
		t.Error("an oversized object was kept")
	}

	// etcd's revision going back means another etcd: forget everything.
	c.observe(100)
	c.observe(120)
	if c.get([]byte("/k/a"), 7, podType) == nil {
		t.Fatal("lost an entry as revisions went forward")
	}
	c.observe(3)
	if c.get([]byte("/k/a"), 7, podType) != nil || c.bytes != 0 {
		t.Error("kept entries from another etcd")
	}

	// A cache that misses goes back to reading values at once.
	c = NewObjectCache(1 << 20)
	for range 3 {
		c.noteHits(0, 100)
	}
	if c.keysFirst() {
		t.Error("keys first after three pages without hits")
	}
	for range 3 {
		c.noteHits(100, 100)
	}
	if !c.keysFirst() {
		t.Error("values first after three pages of hits")
	}
	var none *ObjectCache
	if none.keysFirst() || none.get([]byte("/k"), 1, podType) != nil {
		t.Error("a nil cache answered")
	}
	none.put("/k", 1, 1, pod("x"))
	none.observe(1)
	none.forget("/k")
	none.noteHits(1, 1)
}
