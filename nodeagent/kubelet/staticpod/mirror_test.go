package staticpod

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

const testNode = "kind-control-plane"

func staticPod(name, hash string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name + "-" + testNode,
			Namespace: "kube-system",
			UID:       types.UID(hash),
			Labels:    map[string]string{"component": name},
			Annotations: map[string]string{
				ConfigHashAnnotationKey:      hash,
				ConfigSourceAnnotationKey:    FileSource,
				ConfigFirstSeenAnnotationKey: "2025-01-01T00:00:00.000000000Z",
			},
		},
		Spec: corev1.PodSpec{
			NodeName:   testNode,
			Containers: []corev1.Container{{Name: name, Image: "kindish/" + name + ":v1"}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
}

func mirrorPod(name, hash, uid string) *corev1.Pod {
	p := staticPod(name, hash)
	p.UID = types.UID(uid)
	p.Annotations[ConfigMirrorAnnotationKey] = hash
	p.Annotations[ConfigSourceAnnotationKey] = APIServerSource
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning}
	return p
}

func deleting(p *corev1.Pod) *corev1.Pod {
	now := metav1.Now()
	p.DeletionTimestamp = &now
	return p
}

func testNodeObject() *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode, UID: "node-uid"}}
}

func names(pods []*corev1.Pod) []string {
	out := []string{}
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestPlanMirrorPods(t *testing.T) {
	apiPod := staticPod("web", "h")
	delete(apiPod.Annotations, ConfigHashAnnotationKey)
	apiPod.Annotations[ConfigSourceAnnotationKey] = APIServerSource

	tests := []struct {
		name         string
		static       []*corev1.Pod
		mirrors      []*corev1.Pod
		wantCreate   []string
		wantRecreate []string
		wantDelete   []string
	}{
		{"nothing to do without pods", nil, nil, nil, nil, nil},
		{"a static pod without mirror gets one", []*corev1.Pod{staticPod("etcd", "h1")}, nil, []string{"etcd-" + testNode}, nil, nil},
		{"a mirror of the same hash is kept", []*corev1.Pod{staticPod("etcd", "h1")}, []*corev1.Pod{mirrorPod("etcd", "h1", "m1")}, nil, nil, nil},
		{"a mirror of another hash is recreated", []*corev1.Pod{staticPod("etcd", "h2")}, []*corev1.Pod{mirrorPod("etcd", "h1", "m1")}, nil, []string{"etcd-" + testNode}, nil},
		{"a mirror being deleted is recreated", []*corev1.Pod{staticPod("etcd", "h1")}, []*corev1.Pod{deleting(mirrorPod("etcd", "h1", "m1"))}, nil, []string{"etcd-" + testNode}, nil},
		{"a mirror without static pod is deleted", nil, []*corev1.Pod{mirrorPod("etcd", "h1", "m1")}, nil, nil, []string{"etcd-" + testNode}},
		{"a mirror in another namespace is another pod", []*corev1.Pod{staticPod("etcd", "h1")},
			[]*corev1.Pod{func() *corev1.Pod { m := mirrorPod("etcd", "h1", "m1"); m.Namespace = "default"; return m }()},
			[]string{"etcd-" + testNode}, nil, []string{"etcd-" + testNode}},
		{"pods from the API that are not mirrors are ignored", nil, []*corev1.Pod{apiPod}, nil, nil, nil},
		{"all at once",
			[]*corev1.Pod{staticPod("etcd", "h1"), staticPod("kube-apiserver", "h2"), staticPod("kube-scheduler", "h3")},
			[]*corev1.Pod{mirrorPod("etcd", "h1", "m1"), mirrorPod("kube-apiserver", "old", "m2"), mirrorPod("kube-proxy", "h4", "m4")},
			[]string{"kube-scheduler-" + testNode}, []string{"kube-apiserver-" + testNode}, []string{"kube-proxy-" + testNode}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := PlanMirrorPods(tt.static, tt.mirrors)
			var recreate []string
			for _, r := range plan.Recreate {
				if r.Static.Name != r.Mirror.Name {
					t.Errorf("replacement pairs %s with %s", r.Static.Name, r.Mirror.Name)
				}
				recreate = append(recreate, r.Static.Name)
			}
			if got := names(plan.Create); !slices.Equal(got, orEmpty(tt.wantCreate)) {
				t.Errorf("create: got %v, want %v", got, tt.wantCreate)
			}
			if !slices.Equal(recreate, tt.wantRecreate) {
				t.Errorf("recreate: got %v, want %v", recreate, tt.wantRecreate)
			}
			if got := names(plan.Delete); !slices.Equal(got, orEmpty(tt.wantDelete)) {
				t.Errorf("delete: got %v, want %v", got, tt.wantDelete)
			}
			if plan.Empty() != (len(tt.wantCreate)+len(tt.wantRecreate)+len(tt.wantDelete) == 0) {
				t.Errorf("Empty() = %v for %+v", plan.Empty(), plan)
			}
		})
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestCreateMirrorPod(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(testNodeObject())
	mc := NewMirrorClient(client, testNode, nil)
	static := staticPod("etcd", "h1")

	if err := mc.CreateMirrorPod(ctx, static); err != nil {
		t.Fatalf("CreateMirrorPod: %v", err)
	}
	got, err := client.CoreV1().Pods("kube-system").Get(ctx, static.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the mirror pod was not created: %v", err)
	}
	owner := metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: testNode, UID: "node-uid", Controller: new(true)}
	checks := []struct {
		name      string
		got, want any
	}{
		{"mirror annotation is the config hash", got.Annotations[ConfigMirrorAnnotationKey], "h1"},
		{"static pod's annotations are kept", got.Annotations[ConfigHashAnnotationKey], "h1"},
		{"one owner reference", len(got.OwnerReferences), 1},
		{"no status", got.Status.Phase, corev1.PodPhase("")},
		{"no UID of the static pod", got.UID, types.UID("")},
		{"same spec", got.Spec.Containers[0].Image, static.Spec.Containers[0].Image},
		{"the static pod is left alone", IsMirrorPod(static), false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if len(got.OwnerReferences) == 1 {
		ref := got.OwnerReferences[0]
		if ref.APIVersion != owner.APIVersion || ref.Kind != owner.Kind || ref.Name != owner.Name || ref.UID != owner.UID ||
			ref.Controller == nil || !*ref.Controller {
			t.Errorf("owner reference: got %+v, want %+v", ref, owner)
		}
	}

	t.Run("the same mirror pod again is no error", func(t *testing.T) {
		if err := mc.CreateMirrorPod(ctx, static); err != nil {
			t.Errorf("got %v", err)
		}
	})
	t.Run("a mirror pod of another hash in the way is AlreadyExists", func(t *testing.T) {
		err := mc.CreateMirrorPod(ctx, staticPod("etcd", "h2"))
		if !apierrors.IsAlreadyExists(err) {
			t.Errorf("got %v, want AlreadyExists", err)
		}
	})
	t.Run("no node, no mirror pod", func(t *testing.T) {
		err := NewMirrorClient(fake.NewClientset(), testNode, nil).CreateMirrorPod(ctx, static)
		if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "get node "+testNode) {
			t.Errorf("got %v, want the node's NotFound", err)
		}
	})
}

func TestDeleteMirrorPod(t *testing.T) {
	ctx := context.Background()
	uid := types.UID("m1")
	tests := []struct {
		name        string
		fullName    string
		uid         *types.UID
		reactErr    error
		wantDeleted bool
		wantErr     bool
	}{
		{"deletes with grace 0 and the UID precondition", "etcd-" + testNode + "_kube-system", &uid, nil, true, false},
		{"deletes without precondition when no UID", "etcd-" + testNode + "_kube-system", nil, nil, true, false},
		{"a pod already gone is not an error", "gone_kube-system", &uid, nil, false, false},
		{"a failed UID precondition is not an error", "etcd-" + testNode + "_kube-system", &uid,
			apierrors.NewConflict(corev1.Resource("pods"), "etcd", errors.New("Precondition failed: UID in precondition: m1, UID in object meta: m2")), false, false},
		{"another failure is an error", "etcd-" + testNode + "_kube-system", &uid, apierrors.NewInternalError(errors.New("etcd down")), false, true},
		{"a full name without namespace is an error", "etcd", &uid, nil, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(mirrorPod("etcd", "h1", "m1"))
			if tt.reactErr != nil {
				client.PrependReactor("delete", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tt.reactErr
				})
			}
			deleted, err := NewMirrorClient(client, testNode, nil).DeleteMirrorPod(ctx, tt.fullName, tt.uid)
			if deleted != tt.wantDeleted || (err != nil) != tt.wantErr {
				t.Fatalf("got (%v, %v), want deleted %v, error %v", deleted, err, tt.wantDeleted, tt.wantErr)
			}
			for _, a := range client.Actions() {
				del, ok := a.(k8stesting.DeleteActionImpl)
				if !ok {
					continue
				}
				opts := del.DeleteOptions
				if opts.GracePeriodSeconds == nil || *opts.GracePeriodSeconds != 0 {
					t.Errorf("grace period: got %v, want 0", opts.GracePeriodSeconds)
				}
				if tt.uid != nil && (opts.Preconditions == nil || opts.Preconditions.UID == nil || *opts.Preconditions.UID != *tt.uid) {
					t.Errorf("preconditions: got %+v, want UID %s", opts.Preconditions, *tt.uid)
				}
				if tt.uid == nil && opts.Preconditions != nil && opts.Preconditions.UID != nil {
					t.Errorf("preconditions: got UID %s, want none", *opts.Preconditions.UID)
				}
			}
		})
	}
}

func TestSync(t *testing.T) {
	ctx := context.Background()
	static := []*corev1.Pod{staticPod("etcd", "h1"), staticPod("kube-apiserver", "new"), staticPod("kube-scheduler", "h3")}
	mirrors := []*corev1.Pod{mirrorPod("etcd", "h1", "m1"), mirrorPod("kube-apiserver", "old", "m2"), mirrorPod("kube-proxy", "h4", "m4")}

	mirrorHashes := func(t *testing.T, client *fake.Clientset) map[string]string {
		t.Helper()
		list, err := client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, p := range list.Items {
			got[p.Name] = p.Annotations[ConfigMirrorAnnotationKey]
		}
		return got
	}

	t.Run("creates, recreates and deletes", func(t *testing.T) {
		objects := []runtime.Object{testNodeObject()}
		for _, m := range mirrors {
			objects = append(objects, m.DeepCopy())
		}
		client := fake.NewClientset(objects...)
		if err := NewMirrorClient(client, testNode, nil).Sync(ctx, static, mirrors); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		want := map[string]string{"etcd-" + testNode: "h1", "kube-apiserver-" + testNode: "new", "kube-scheduler-" + testNode: "h3"}
		if got := mirrorHashes(t, client); !mapsEqual(got, want) {
			t.Errorf("mirror pods after Sync: got %v, want %v", got, want)
		}
	})

	t.Run("a node being deleted gets no new mirror pods", func(t *testing.T) {
		node := testNodeObject()
		node.Finalizers = []string{"test"}
		now := metav1.Now()
		node.DeletionTimestamp = &now
		objects := []runtime.Object{node}
		for _, m := range mirrors {
			objects = append(objects, m.DeepCopy())
		}
		client := fake.NewClientset(objects...)
		if err := NewMirrorClient(client, testNode, nil).Sync(ctx, static, mirrors); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		// The stale and the orphaned mirror pods still go.
		want := map[string]string{"etcd-" + testNode: "h1"}
		if got := mirrorHashes(t, client); !mapsEqual(got, want) {
			t.Errorf("mirror pods after Sync: got %v, want %v", got, want)
		}
	})

	t.Run("failures are returned and the rest is done", func(t *testing.T) {
		client := fake.NewClientset(testNodeObject())
		client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.(k8stesting.CreateAction).GetObject().(*corev1.Pod).Name == "etcd-"+testNode {
				return true, nil, apierrors.NewForbidden(corev1.Resource("pods"), "etcd", errors.New("no"))
			}
			return false, nil, nil
		})
		err := NewMirrorClient(client, testNode, nil).Sync(ctx, static, nil)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "create mirror pod kube-system/etcd-"+testNode) {
			t.Errorf("got %v, want the Forbidden error naming the pod", err)
		}
		want := map[string]string{"kube-apiserver-" + testNode: "new", "kube-scheduler-" + testNode: "h3"}
		if got := mirrorHashes(t, client); !mapsEqual(got, want) {
			t.Errorf("mirror pods after Sync: got %v, want %v", got, want)
		}
	})
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestPodKinds(t *testing.T) {
	noSource := staticPod("x", "h")
	delete(noSource.Annotations, ConfigSourceAnnotationKey)
	tests := []struct {
		name                   string
		pod                    *corev1.Pod
		wantStatic, wantMirror bool
	}{
		{"from a file", staticPod("x", "h"), true, false},
		{"a mirror pod", mirrorPod("x", "h", "u"), false, true},
		{"from the API server", func() *corev1.Pod {
			p := staticPod("x", "h")
			p.Annotations[ConfigSourceAnnotationKey] = APIServerSource
			return p
		}(), false, false},
		{"without a source", noSource, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsStaticPod(tt.pod); got != tt.wantStatic {
				t.Errorf("IsStaticPod = %v, want %v", got, tt.wantStatic)
			}
			if got := IsMirrorPod(tt.pod); got != tt.wantMirror {
				t.Errorf("IsMirrorPod = %v, want %v", got, tt.wantMirror)
			}
		})
	}
}

func TestFullName(t *testing.T) {
	pod := staticPod("etcd", "h")
	full := FullName(pod)
	if full != "etcd-"+testNode+"_kube-system" {
		t.Errorf("FullName = %q", full)
	}
	name, ns, err := ParseFullName(full)
	if err != nil || name != pod.Name || ns != pod.Namespace {
		t.Errorf("ParseFullName(%q) = %q, %q, %v", full, name, ns, err)
	}
	for _, bad := range []string{"", "etcd", "_ns", "name_", "a_b_c"} {
		if _, _, err := ParseFullName(bad); err == nil {
			t.Errorf("ParseFullName(%q): want an error", bad)
		}
	}
}
