package defaults_test

import (
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kindish/kindish/controlplane/apiserver/registry/defaults"
)

func TestEndpointSlice(t *testing.T) {
	runCases(t, defaults.EndpointSlice, []defaultingCase[discoveryv1.EndpointSlice]{{
		name: "ports get an empty name and TCP",
		in: &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{
			{Port: new(int32(80))},
			{Name: new("dns"), Port: new(int32(53)), Protocol: new(corev1.ProtocolUDP)},
		}},
		want: &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{
			{Name: new(""), Port: new(int32(80)), Protocol: new(corev1.ProtocolTCP)},
			{Name: new("dns"), Port: new(int32(53)), Protocol: new(corev1.ProtocolUDP)},
		}},
	}})
}

func TestRoleBindings(t *testing.T) {
	in := func() ([]rbacv1.Subject, rbacv1.RoleRef) {
		return []rbacv1.Subject{
				{Kind: rbacv1.UserKind, Name: "alice"},
				{Kind: rbacv1.GroupKind, Name: "devs"},
				{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: "ns"},
				{Kind: rbacv1.UserKind, Name: "bob", APIGroup: "example.com"},
			},
			rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}
	}
	wantSubjects := []rbacv1.Subject{
		{Kind: rbacv1.UserKind, Name: "alice", APIGroup: rbacv1.GroupName},
		{Kind: rbacv1.GroupKind, Name: "devs", APIGroup: rbacv1.GroupName},
		{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: "ns"},
		{Kind: rbacv1.UserKind, Name: "bob", APIGroup: "example.com"},
	}
	wantRef := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}

	subjects, ref := in()
	runCases(t, defaults.RoleBinding, []defaultingCase[rbacv1.RoleBinding]{{
		name: "users and groups in the RBAC group, service accounts in the core group",
		in:   &rbacv1.RoleBinding{Subjects: subjects, RoleRef: ref},
		want: &rbacv1.RoleBinding{Subjects: wantSubjects, RoleRef: wantRef},
	}})
	subjects, ref = in()
	runCases(t, defaults.ClusterRoleBinding, []defaultingCase[rbacv1.ClusterRoleBinding]{{
		name: "users and groups in the RBAC group, service accounts in the core group",
		in:   &rbacv1.ClusterRoleBinding{Subjects: subjects, RoleRef: ref},
		want: &rbacv1.ClusterRoleBinding{Subjects: wantSubjects, RoleRef: wantRef},
	}})
}

func TestPriorityClass(t *testing.T) {
	runCases(t, defaults.PriorityClass, []defaultingCase[schedulingv1.PriorityClass]{
		{
			name: "preempts lower priority",
			in:   &schedulingv1.PriorityClass{Value: 1000},
			want: &schedulingv1.PriorityClass{Value: 1000, PreemptionPolicy: new(corev1.PreemptLowerPriority)},
		},
		{
			name: "Never kept",
			in:   &schedulingv1.PriorityClass{Value: 1000, PreemptionPolicy: new(corev1.PreemptNever)},
			want: &schedulingv1.PriorityClass{Value: 1000, PreemptionPolicy: new(corev1.PreemptNever)},
		},
	})
}

func TestStorageClass(t *testing.T) {
	runCases(t, defaults.StorageClass, []defaultingCase[storagev1.StorageClass]{
		{
			name: "Delete and Immediate",
			in:   &storagev1.StorageClass{Provisioner: "rancher.io/local-path"},
			want: &storagev1.StorageClass{
				Provisioner:       "rancher.io/local-path",
				ReclaimPolicy:     new(corev1.PersistentVolumeReclaimDelete),
				VolumeBindingMode: new(storagev1.VolumeBindingImmediate),
			},
		},
		{
			name: "given values kept",
			in: &storagev1.StorageClass{
				ReclaimPolicy:     new(corev1.PersistentVolumeReclaimRetain),
				VolumeBindingMode: new(storagev1.VolumeBindingWaitForFirstConsumer),
			},
			want: &storagev1.StorageClass{
				ReclaimPolicy:     new(corev1.PersistentVolumeReclaimRetain),
				VolumeBindingMode: new(storagev1.VolumeBindingWaitForFirstConsumer),
			},
		},
	})
}

func TestTokenRequest(t *testing.T) {
	runCases(t, defaults.TokenRequest, []defaultingCase[authenticationv1.TokenRequest]{{
		name: "an hour",
		in:   &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"api"}}},
		want: &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"api"}, ExpirationSeconds: new(int64(3600))}},
	}})
}

func TestNetworkPolicy(t *testing.T) {
	port := intstr.FromInt32(80)
	runCases(t, defaults.NetworkPolicy, []defaultingCase[networkingv1.NetworkPolicy]{
		{
			name: "Ingress only, without egress rules",
			in:   &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: &port}}}}}},
			want: &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{
				Ingress:     []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: &port, Protocol: new(corev1.ProtocolTCP)}}}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			}},
		},
		{
			name: "Ingress and Egress with egress rules",
			in:   &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: &port}}}}}},
			want: &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{
				Egress:      []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: &port, Protocol: new(corev1.ProtocolTCP)}}}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			}},
		},
	})
}

func TestIngressClass(t *testing.T) {
	runCases(t, defaults.IngressClass, []defaultingCase[networkingv1.IngressClass]{
		{
			name: "parameters are cluster-scoped",
			in:   &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Parameters: &networkingv1.IngressClassParametersReference{Kind: "Params", Name: "p"}}},
			want: &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Parameters: &networkingv1.IngressClassParametersReference{Kind: "Params", Name: "p", Scope: new("Cluster")}}},
		},
		{
			name: "no parameters, nothing",
			in:   &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Controller: "example.com/ingress"}},
			want: &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Controller: "example.com/ingress"}},
		},
	})
}
