package printers

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

func TestClusterResourceCells(t *testing.T) {
	created := metav1.ObjectMeta{Name: "x", CreationTimestamp: ago(2 * time.Minute)}
	subjects := []rbacv1.Subject{
		{Kind: rbacv1.UserKind, Name: "alice"},
		{Kind: rbacv1.GroupKind, Name: "system:masters"},
		{Kind: rbacv1.ServiceAccountKind, Namespace: "kube-system", Name: "coredns"},
		{Kind: rbacv1.UserKind, Name: "bob"},
		{Kind: rbacv1.ServiceAccountKind, Namespace: "default", Name: "ci"},
	}
	retain := corev1.PersistentVolumeReclaimRetain
	waitForConsumer := storagev1.VolumeBindingWaitForFirstConsumer
	never := corev1.PreemptNever
	port := func(p int32) discoveryv1.EndpointPort { return discoveryv1.EndpointPort{Port: ptr(p)} }

	for _, tc := range []struct {
		name string
		gvr  schema.GroupVersionResource
		obj  runtime.Object
		want []any
	}{
		{"lease held", registry.CoordinationV1.WithResource("leases"), &coordinationv1.Lease{
			ObjectMeta: created, Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("kind-control-plane_3f2a")},
		}, []any{"kind-control-plane_3f2a", "2m"}},
		{"lease free", registry.CoordinationV1.WithResource("leases"), &coordinationv1.Lease{ObjectMeta: created}, []any{"", "2m"}},
		{"endpoint slice", registry.DiscoveryV1.WithResource("endpointslices"), &discoveryv1.EndpointSlice{
			ObjectMeta:  created,
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{port(80), {Name: ptr("metrics")}, {}, port(9000)},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.244.0.5"}}, {Addresses: []string{"10.244.0.6", "10.244.0.7"}}, {Addresses: []string{"10.244.0.8"}},
			},
		}, []any{"IPv4", "80,metrics,* + 1 more...", "10.244.0.5,10.244.0.6,10.244.0.7 + 1 more...", "2m"}},
		{"empty endpoint slice", registry.DiscoveryV1.WithResource("endpointslices"), &discoveryv1.EndpointSlice{
			ObjectMeta: created, AddressType: discoveryv1.AddressTypeIPv6,
		}, []any{"IPv6", "<unset>", "<unset>", "2m"}},
		{"role binding", registry.RBACV1.WithResource("rolebindings"), &rbacv1.RoleBinding{
			ObjectMeta: created, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"}, Subjects: subjects,
		}, []any{"Role/reader", "2m", "alice, bob", "system:masters", "kube-system/coredns, default/ci"}},
		{"cluster role binding", registry.RBACV1.WithResource("clusterrolebindings"), &rbacv1.ClusterRoleBinding{
			ObjectMeta: created, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: "kubeadm:cluster-admins"}},
		}, []any{"ClusterRole/cluster-admin", "2m", "", "kubeadm:cluster-admins", ""}},
		{"disruption budget by count", registry.PolicyV1.WithResource("poddisruptionbudgets"), &policyv1.PodDisruptionBudget{
			ObjectMeta: created, Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr(intstr.FromInt32(2))},
			Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1},
		}, []any{"2", "N/A", int64(1), "2m"}},
		{"disruption budget by share", registry.PolicyV1.WithResource("poddisruptionbudgets"), &policyv1.PodDisruptionBudget{
			ObjectMeta: created, Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr(intstr.FromString("25%"))},
		}, []any{"N/A", "25%", int64(0), "2m"}},
		{"priority class", registry.SchedulingV1.WithResource("priorityclasses"), &schedulingv1.PriorityClass{
			ObjectMeta: created, Value: 2000001000, PreemptionPolicy: ptr(corev1.PreemptLowerPriority),
		}, []any{int64(2000001000), false, "2m", "PreemptLowerPriority"}},
		{"global default priority class", registry.SchedulingV1.WithResource("priorityclasses"), &schedulingv1.PriorityClass{
			ObjectMeta: created, Value: -5, GlobalDefault: true, PreemptionPolicy: &never,
		}, []any{int64(-5), true, "2m", "Never"}},
		{"priority class without policy", registry.SchedulingV1.WithResource("priorityclasses"), &schedulingv1.PriorityClass{ObjectMeta: created},
			[]any{int64(0), false, "2m", ""}},
		{"kind's storage class", registry.StorageV1.WithResource("storageclasses"), &storagev1.StorageClass{
			ObjectMeta:        metav1.ObjectMeta{Name: "standard", CreationTimestamp: ago(2 * time.Minute), Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
			Provisioner:       "rancher.io/local-path",
			ReclaimPolicy:     ptr(corev1.PersistentVolumeReclaimDelete),
			VolumeBindingMode: &waitForConsumer,
		}, []any{"standard (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", false, "2m"}},
		{"default by the beta annotation", registry.StorageV1.WithResource("storageclasses"), &storagev1.StorageClass{
			ObjectMeta:  metav1.ObjectMeta{Name: "old", CreationTimestamp: ago(2 * time.Minute), Annotations: map[string]string{"storageclass.beta.kubernetes.io/is-default-class": "true"}},
			Provisioner: "example.com/nfs",
		}, []any{"old (default)", "example.com/nfs", "Delete", "Immediate", false, "2m"}},
		{"storage class defaults", registry.StorageV1.WithResource("storageclasses"), &storagev1.StorageClass{ObjectMeta: created, Provisioner: "example.com/nfs"},
			[]any{"x", "example.com/nfs", "Delete", "Immediate", false, "2m"}},
		{"expandable storage class", registry.StorageV1.WithResource("storageclasses"), &storagev1.StorageClass{
			ObjectMeta: created, Provisioner: "ebs.csi.aws.com", ReclaimPolicy: &retain, AllowVolumeExpansion: ptr(true),
		}, []any{"x", "ebs.csi.aws.com", "Retain", "Immediate", true, "2m"}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCells(t, tc.gvr, tc.obj, tc.want) })
	}
}

// An events.k8s.io event prints as its core/v1 twin: note is the message,
// regarding the object, the deprecated fields the old ones.
func TestEventsV1EventsPrintLikeCoreEvents(t *testing.T) {
	gvr := registry.EventsV1.WithResource("events")
	for _, tc := range []struct {
		name  string
		event *eventsv1.Event
		want  []any
	}{
		{"new style", &eventsv1.Event{
			ObjectMeta: metav1.ObjectMeta{Name: "web.1"},
			EventTime:  metav1.NewMicroTime(testNow.Add(-4 * time.Minute)),
			Series:     &eventsv1.EventSeries{Count: 3, LastObservedTime: metav1.NewMicroTime(testNow.Add(-20 * time.Second))},
			Regarding:  corev1.ObjectReference{Kind: "Pod", Name: "web-0", FieldPath: "spec.containers{web}"},
			Reason:     "BackOff", Note: "Back-off restarting failed container", Type: corev1.EventTypeWarning,
			ReportingController: "kubelet", ReportingInstance: "kind-worker",
		}, []any{"20s", "Warning", "BackOff", "pod/web-0", "spec.containers{web}", "kubelet, kind-worker", "Back-off restarting failed container", "4m", int64(3), "web.1"}},
		{"carried over from core/v1", &eventsv1.Event{
			ObjectMeta: metav1.ObjectMeta{Name: "web.2"},
			Regarding:  corev1.ObjectReference{Kind: "Node", Name: "kind-worker"},
			Reason:     "NodeReady", Note: "  Node kind-worker status is now: NodeReady ", Type: corev1.EventTypeNormal,
			DeprecatedSource:         corev1.EventSource{Component: "kubelet", Host: "kind-worker"},
			DeprecatedFirstTimestamp: ago(time.Hour), DeprecatedLastTimestamp: ago(50 * time.Minute), DeprecatedCount: 2,
		}, []any{"50m", "Normal", "NodeReady", "node/kind-worker", "", "kubelet, kind-worker", "Node kind-worker status is now: NodeReady", "60m", int64(2), "web.2"}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCells(t, gvr, tc.event, tc.want) })
	}
}
