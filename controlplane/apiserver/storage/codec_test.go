package storage

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
)

// The codec decodes with json-iterator for speed: it must read exactly what
// encoding/json reads, for every built-in type it will meet.
func TestCodecDecodesLikeEncodingJSON(t *testing.T) {
	prototypes := []runtime.Object{
		&corev1.Pod{}, &corev1.Service{}, &corev1.Node{}, &corev1.Secret{}, &corev1.ConfigMap{},
		&corev1.Endpoints{}, &corev1.Event{}, &corev1.Namespace{}, &corev1.ServiceAccount{},
		&corev1.PersistentVolume{}, &corev1.PersistentVolumeClaim{}, &corev1.ResourceQuota{},
		&appsv1.Deployment{}, &appsv1.DaemonSet{}, &appsv1.StatefulSet{}, &appsv1.ReplicaSet{},
		&batchv1.Job{}, &batchv1.CronJob{}, &coordinationv1.Lease{}, &discoveryv1.EndpointSlice{},
		&eventsv1.Event{}, &networkingv1.Ingress{}, &networkingv1.NetworkPolicy{},
		&rbacv1.ClusterRole{}, &rbacv1.RoleBinding{}, &autoscalingv2.HorizontalPodAutoscaler{},
	}
	codec := DefaultCodec()
	filler := fuzzer.FuzzerFor(metafuzzer.Funcs, rand.NewSource(20261122), serializer.NewCodecFactory(scheme.Scheme)).
		NilChance(0.2).NumElements(0, 2)
	for _, proto := range prototypes {
		typ := reflect.TypeOf(proto).Elem()
		t.Run(typ.Name(), func(t *testing.T) {
			compared := 0
			for i := range 40 {
				in := reflect.New(typ).Interface().(runtime.Object)
				filler.Fill(in)
				var buf bytes.Buffer
				if err := codec.Encode(in, &buf); err != nil {
					continue // random values JSON cannot hold
				}
				want := reflect.New(typ).Interface().(runtime.Object)
				if err := json.Unmarshal(buf.Bytes(), want); err != nil {
					t.Fatalf("encoding/json cannot read it back: %v", err)
				}
				got := reflect.New(typ).Interface().(runtime.Object)
				if err := codec.Decode(buf.Bytes(), got); err != nil {
					t.Fatalf("#%d: %v\n%s", i, err, buf.Bytes())
				}
				if !reflect.DeepEqual(got, want) {
					gotJSON, _ := json.Marshal(got)
					wantJSON, _ := json.Marshal(want)
					t.Fatalf("#%d decodes differently:\ngot  %s\nwant %s", i, gotJSON, wantJSON)
				}
				compared++
			}
			if compared < 20 {
				t.Errorf("only %d of 40 random objects could be encoded", compared)
			}
		})
	}
}
