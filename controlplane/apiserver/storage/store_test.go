package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

var podsGR = schema.GroupResource{Resource: "pods"}

func mustCreate(t *testing.T, s *Store, key string, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	out := &corev1.Pod{}
	if err := s.Create(ctxFor(t), key, pod, out); err != nil {
		t.Fatalf("create %s: %v", key, err)
	}
	return out
}

func rvOf(t *testing.T, obj interface{ GetResourceVersion() string }) int64 {
	t.Helper()
	rv, err := strconv.ParseInt(obj.GetResourceVersion(), 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q: %v", obj.GetResourceVersion(), err)
	}
	return rv
}

func TestCreateStoresJSONAndGetReadsItBack(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	key := prefix + "web-1"
	in := testPod("web-1")
	// Sub-second precision does not survive JSON; out must say what
	// was stored.
	in.Status.Conditions[0].LastTransitionTime = metav1.NewTime(time.Unix(1700000000, 123456789))

	out := mustCreate(t, s, key, in)
	if out.ResourceVersion == "" || out.Name != "web-1" {
		t.Fatalf("out = %s/%s rv %q", out.Namespace, out.Name, out.ResourceVersion)
	}
	if in.ResourceVersion != "" {
		t.Errorf("the input object kept resourceVersion %q", in.ResourceVersion)
	}
	if in.APIVersion != "" || in.Kind != "" {
		t.Errorf("the input object kept apiVersion/kind %q/%q", in.APIVersion, in.Kind)
	}
	if got := out.Status.Conditions[0].LastTransitionTime.Nanosecond(); got != 0 {
		t.Errorf("out kept %d ns that etcd does not hold", got)
	}

	raw, err := testClient.Get(ctx, key)
	if err != nil || len(raw.Kvs) != 1 {
		t.Fatalf("raw get: %v %v", raw, err)
	}
	var stored map[string]any
	if err := json.Unmarshal(raw.Kvs[0].Value, &stored); err != nil {
		t.Fatal(err)
	}
	if stored["apiVersion"] != "v1" || stored["kind"] != "Pod" {
		t.Errorf("stored apiVersion/kind = %v/%v", stored["apiVersion"], stored["kind"])
	}
	if _, ok := stored["metadata"].(map[string]any)["resourceVersion"]; ok {
		t.Error("resourceVersion was stored")
	}
	if got := strconv.FormatInt(raw.Kvs[0].ModRevision, 10); got != out.ResourceVersion {
		t.Errorf("out rv %s, etcd mod revision %s", out.ResourceVersion, got)
	}

	got := &corev1.Pod{}
	if err := s.Get(ctx, key, GetOptions{}, got); err != nil {
		t.Fatal(err)
	}
	gotJSON, _ := json.Marshal(got)
	outJSON, _ := json.Marshal(out)
	if string(gotJSON) != string(outJSON) {
		t.Errorf("get differs from create's out:\n%s\n%s", gotJSON, outJSON)
	}
}

func TestCreateRefusals(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	key := prefix + "web-1"
	mustCreate(t, s, key, testPod("web-1"))

	err := s.Create(ctx, key, testPod("web-1"), &corev1.Pod{})
	if !IsExist(err) {
		t.Fatalf("duplicate create: %v, want exists", err)
	}
	if apiErr := ToAPIError(err, podsGR, "web-1"); !apierrors.IsAlreadyExists(apiErr) || apiErr.Error() != `pods "web-1" already exists` {
		t.Errorf("api error = %v", apiErr)
	}

	withRV := testPod("web-2")
	withRV.ResourceVersion = "42"
	if err := s.Create(ctx, prefix+"web-2", withRV, &corev1.Pod{}); !errors.Is(err, ErrResourceVersionSetOnCreate) {
		t.Errorf("create with resourceVersion: %v", err)
	}
	if err := s.Create(ctx, "/registry/pods/../secrets/x", testPod("x"), &corev1.Pod{}); !IsBadRequest(err) {
		t.Errorf("create with ..: %v", err)
	}
}

func TestGetMissingAndResourceVersions(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	err := s.Get(ctx, prefix+"nope", GetOptions{}, &corev1.Pod{})
	if !IsNotFound(err) {
		t.Fatalf("get missing: %v", err)
	}
	if apiErr := ToAPIError(err, podsGR, "nope"); !apierrors.IsNotFound(apiErr) || apiErr.Error() != `pods "nope" not found` {
		t.Errorf("api error = %v", apiErr)
	}

	out := testPod("leftover")
	if err := s.Get(ctx, prefix+"nope", GetOptions{IgnoreNotFound: true}, out); err != nil {
		t.Fatal(err)
	}
	if out.Name != "" || out.Spec.NodeName != "" {
		t.Errorf("ignored not-found left %+v", out.ObjectMeta)
	}

	created := mustCreate(t, s, prefix+"web-1", testPod("web-1"))
	rv := rvOf(t, created)
	for _, tc := range []struct {
		rv      string
		wantErr func(error) bool
	}{
		{"", nil},
		{"0", nil},
		{strconv.FormatInt(rv, 10), nil},
		{strconv.FormatInt(rv+1000000, 10), IsTooLargeResourceVersion},
		{"abc", IsBadRequest},
	} {
		err := s.Get(ctx, prefix+"web-1", GetOptions{ResourceVersion: tc.rv}, &corev1.Pod{})
		if tc.wantErr == nil && err != nil || tc.wantErr != nil && !tc.wantErr(err) {
			t.Errorf("get at rv %q: %v", tc.rv, err)
		}
	}
	err = s.Get(ctx, prefix+"web-1", GetOptions{ResourceVersion: strconv.FormatInt(rv+1000000, 10)}, &corev1.Pod{})
	apiErr := ToAPIError(err, podsGR, "web-1")
	if !apierrors.IsTimeout(apiErr) || !apierrors.HasStatusCause(apiErr, metav1.CauseTypeResourceVersionTooLarge) {
		t.Errorf("too large rv api error = %#v", apiErr)
	}
}

func annotationCounter(t *testing.T, pod *corev1.Pod) int {
	t.Helper()
	n, _ := strconv.Atoi(pod.Annotations["counter"])
	return n
}

func increment(obj runtime.Object) (runtime.Object, error) {
	pod := obj.(*corev1.Pod)
	n, _ := strconv.Atoi(pod.Annotations["counter"])
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations["counter"] = strconv.Itoa(n + 1)
	return pod, nil
}

func TestGuaranteedUpdateConcurrentIncrements(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	key := prefix + "counter"
	mustCreate(t, s, key, testPod("counter"))

	const updaters, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, updaters*each)
	for u := range updaters {
		wg.Go(func() {
			// Half the updaters pass the object they last saw, which is
			// stale most of the time: that must cost retries, not
			// increments.
			last := &corev1.Pod{}
			for range each {
				dest := &corev1.Pod{}
				if u%2 == 1 {
					dest = last.DeepCopy()
				}
				if err := s.GuaranteedUpdate(ctx, key, dest, false, nil, increment); err != nil {
					errs <- err
					return
				}
				last = dest
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := &corev1.Pod{}
	if err := s.Get(ctx, key, GetOptions{}, got); err != nil {
		t.Fatal(err)
	}
	if n := annotationCounter(t, got); n != updaters*each {
		t.Errorf("counter = %d, want %d", n, updaters*each)
	}
}

func TestGuaranteedUpdateSemantics(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	key := prefix + "web-1"
	created := mustCreate(t, s, key, testPod("web-1"))

	t.Run("unchanged object is not written", func(t *testing.T) {
		before, _ := s.CurrentRevision(ctx)
		dest := &corev1.Pod{}
		err := s.GuaranteedUpdate(ctx, key, dest, false, nil, func(obj runtime.Object) (runtime.Object, error) { return obj, nil })
		if err != nil {
			t.Fatal(err)
		}
		after, _ := s.CurrentRevision(ctx)
		if after != before || dest.ResourceVersion != created.ResourceVersion {
			t.Errorf("revision %d -> %d, dest rv %s (created %s)", before, after, dest.ResourceVersion, created.ResourceVersion)
		}
	})

	t.Run("uid precondition", func(t *testing.T) {
		uid := types.UID("someone-else")
		err := s.GuaranteedUpdate(ctx, key, &corev1.Pod{}, false, &Preconditions{UID: &uid}, increment)
		if !IsInvalidObj(err) {
			t.Fatalf("err = %v", err)
		}
		apiErr := ToAPIError(err, podsGR, "web-1")
		want := `Operation cannot be fulfilled on pods "web-1": StorageError: invalid object, Code: 4, Key: ` + key +
			`, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: someone-else, UID in object meta: ` + string(created.UID)
		if !apierrors.IsConflict(apiErr) || apiErr.Error() != want {
			t.Errorf("api error = %v\nwant %s", apiErr, want)
		}
	})

	t.Run("resourceVersion precondition", func(t *testing.T) {
		stale := "1"
		err := s.GuaranteedUpdate(ctx, key, &corev1.Pod{}, false, &Preconditions{ResourceVersion: &stale}, increment)
		if !IsConflict(err) {
			t.Fatalf("err = %v", err)
		}
		apiErr := ToAPIError(err, podsGR, "web-1")
		want := `Operation cannot be fulfilled on pods "web-1": ` + OptimisticLockErrorMsg
		if !apierrors.IsConflict(apiErr) || apiErr.Error() != want {
			t.Errorf("api error = %v", apiErr)
		}
		current := created.ResourceVersion
		dest := &corev1.Pod{}
		if err := s.GuaranteedUpdate(ctx, key, dest, false, &Preconditions{ResourceVersion: &current}, increment); err != nil {
			t.Fatalf("update at the current rv: %v", err)
		}
		if rvOf(t, dest) <= rvOf(t, created) {
			t.Errorf("rv did not move: %s", dest.ResourceVersion)
		}
	})

	t.Run("a stale copy in dest is refreshed", func(t *testing.T) {
		dest := created.DeepCopy() // several updates old by now
		var saw int
		err := s.GuaranteedUpdate(ctx, key, dest, false, nil, func(obj runtime.Object) (runtime.Object, error) {
			saw = annotationCounter(t, obj.(*corev1.Pod))
			return increment(obj)
		})
		if err != nil {
			t.Fatal(err)
		}
		if saw != 1 || annotationCounter(t, dest) != 2 {
			t.Errorf("last tryUpdate saw %d, dest has %d; want 1 and 2", saw, annotationCounter(t, dest))
		}
	})

	t.Run("tryUpdate error from a stale copy is retried, from the current one returned", func(t *testing.T) {
		refuse := errors.New("refused")
		calls := 0
		err := s.GuaranteedUpdate(ctx, key, created.DeepCopy(), false, nil, func(obj runtime.Object) (runtime.Object, error) {
			calls++
			return nil, refuse
		})
		if !errors.Is(err, refuse) || calls != 2 {
			t.Errorf("err %v after %d calls; want refused after 2", err, calls)
		}
	})

	t.Run("tryUpdate error is returned and nothing written", func(t *testing.T) {
		before, _ := s.CurrentRevision(ctx)
		refuse := errors.New("invalid")
		calls := 0
		err := s.GuaranteedUpdate(ctx, key, &corev1.Pod{}, false, nil, func(obj runtime.Object) (runtime.Object, error) {
			calls++
			increment(obj)
			return obj, refuse
		})
		after, _ := s.CurrentRevision(ctx)
		if !errors.Is(err, refuse) || calls != 1 || after != before {
			t.Errorf("err %v after %d calls, revision %d -> %d", err, calls, before, after)
		}
	})

	t.Run("missing object", func(t *testing.T) {
		err := s.GuaranteedUpdate(ctx, prefix+"nope", &corev1.Pod{}, false, nil, increment)
		if !IsNotFound(err) {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("ignoreNotFound creates", func(t *testing.T) {
		dest := &corev1.Pod{}
		err := s.GuaranteedUpdate(ctx, prefix+"web-new", dest, true, nil, func(obj runtime.Object) (runtime.Object, error) {
			if obj.(*corev1.Pod).Name != "" {
				return nil, fmt.Errorf("current is not empty: %v", obj)
			}
			return testPod("web-new"), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if dest.Name != "web-new" || dest.ResourceVersion == "" {
			t.Errorf("dest = %s rv %q", dest.Name, dest.ResourceVersion)
		}
	})
}

func TestDelete(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	key := prefix + "web-1"
	created := mustCreate(t, s, key, testPod("web-1"))

	uid := types.UID("someone-else")
	err := s.Delete(ctx, key, &corev1.Pod{}, &Preconditions{UID: &uid}, nil)
	if !IsInvalidObj(err) || !apierrors.IsConflict(ToAPIError(err, podsGR, "web-1")) {
		t.Fatalf("delete with wrong uid: %v", err)
	}
	stale := "1"
	err = s.Delete(ctx, key, &corev1.Pod{}, &Preconditions{ResourceVersion: &stale}, nil)
	if !IsInvalidObj(err) || !strings.Contains(err.Error(), "Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: "+created.ResourceVersion) {
		t.Fatalf("delete with wrong rv: %v", err)
	}
	refuse := errors.New("has finalizers")
	err = s.Delete(ctx, key, &corev1.Pod{}, nil, func(context.Context, runtime.Object) error { return refuse })
	if !errors.Is(err, refuse) {
		t.Fatalf("refused delete: %v", err)
	}

	// A stale copy in out (the pod changed since) must not be what passes
	// the preconditions.
	updated := &corev1.Pod{}
	if err := s.GuaranteedUpdate(ctx, key, updated, false, nil, increment); err != nil {
		t.Fatal(err)
	}
	out := created.DeepCopy()
	rv, uidOK := updated.ResourceVersion, created.UID
	if err := s.Delete(ctx, key, out, &Preconditions{UID: &uidOK, ResourceVersion: &rv}, nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if annotationCounter(t, out) != 1 || rvOf(t, out) <= rvOf(t, updated) {
		t.Errorf("out is not the last state at the deletion's revision: counter %d rv %s", annotationCounter(t, out), out.ResourceVersion)
	}
	if err := s.Get(ctx, key, GetOptions{}, &corev1.Pod{}); !IsNotFound(err) {
		t.Errorf("get after delete: %v", err)
	}
	if err := s.Delete(ctx, key, &corev1.Pod{}, nil, nil); !IsNotFound(err) {
		t.Errorf("second delete: %v", err)
	}
}

func TestToAPIError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		code   int32
		reason metav1.StatusReason
	}{
		{"not found", newError(ErrCodeKeyNotFound, "/k", 0, ""), http.StatusNotFound, metav1.StatusReasonNotFound},
		{"exists", newError(ErrCodeKeyExists, "/k", 0, ""), http.StatusConflict, metav1.StatusReasonAlreadyExists},
		{"conflict", newError(ErrCodeResourceVersionConflicts, "/k", 0, ""), http.StatusConflict, metav1.StatusReasonConflict},
		{"invalid object", newError(ErrCodeInvalidObj, "/k", 0, "x"), http.StatusConflict, metav1.StatusReasonConflict},
		{"too large rv", tooLargeResourceVersion("/k", 10, 5), http.StatusGatewayTimeout, metav1.StatusReasonTimeout},
		{"expired", &Error{Code: ErrCodeExpired, Message: expiredListMsg}, http.StatusGone, metav1.StatusReasonExpired},
		{"bad request", badRequest("invalid continue token"), http.StatusBadRequest, metav1.StatusReasonBadRequest},
		{"wrapped", fmt.Errorf("outer: %w", newError(ErrCodeKeyNotFound, "/k", 0, "")), http.StatusNotFound, metav1.StatusReasonNotFound},
		{"api status passes", apierrors.NewForbidden(podsGR, "x", errors.New("no")), http.StatusForbidden, metav1.StatusReasonForbidden},
		{"anything else", errors.New("etcdserver: mvcc: database space exceeded"), http.StatusInternalServerError, metav1.StatusReasonUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var status apierrors.APIStatus
			if !errors.As(ToAPIError(tc.err, podsGR, "x"), &status) {
				t.Fatalf("not an API status: %v", ToAPIError(tc.err, podsGR, "x"))
			}
			if got := status.Status(); got.Code != tc.code || got.Reason != tc.reason {
				t.Errorf("status %d %q, want %d %q (%s)", got.Code, got.Reason, tc.code, tc.reason, got.Message)
			}
		})
	}
	if ToAPIError(nil, podsGR, "x") != nil {
		t.Error("nil error became an error")
	}
}
