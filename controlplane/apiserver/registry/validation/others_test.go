package validation

import (
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestRoles(t *testing.T) {
	runCases(t, validRole, []errCase[*rbacv1.Role]{
		{"rules have verbs", func(r *rbacv1.Role) { r.Rules[0].Verbs = nil },
			[]string{"rules[0].verbs: Required value: verbs must contain at least one value"}},
		{"resource rules name groups and resources", func(r *rbacv1.Role) { r.Rules[0].APIGroups, r.Rules[0].Resources = nil, nil },
			[]string{
				"rules[0].apiGroups: Required value: resource rules must supply at least one api group",
				"rules[0].resources: Required value: resource rules must supply at least one resource",
			}},
		{"namespaced rules have no URLs", func(r *rbacv1.Role) {
			r.Rules[0] = rbacv1.PolicyRule{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}
		}, []string{`rules[0].nonResourceURLs: Invalid value: ["/metrics"]: namespaced rules cannot apply to non-resource URLs`}},
		{"resource names are for one resource", func(r *rbacv1.Role) {
			r.Rules[0].Resources, r.Rules[0].ResourceNames = []string{"pods", "services"}, []string{"web"}
		}, []string{"rules[0].resourceNames: Required value: resource names cannot apply to multiple resources"}},
	})
	runCases(t, validClusterRole, []errCase[*rbacv1.ClusterRole]{
		{"URLs or resources", func(r *rbacv1.ClusterRole) { r.Rules[0].Resources = []string{"pods"} },
			[]string{`rules[0].nonResourceURLs: Invalid value: ["/metrics"]: rules cannot apply to both regular resources and non-resource URLs`}},
		{"aggregation selects roles", func(r *rbacv1.ClusterRole) { r.AggregationRule = &rbacv1.AggregationRule{} },
			[]string{"aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil"}},
	})
}

func TestRoleBindings(t *testing.T) {
	runCases(t, validRoleBinding, []errCase[*rbacv1.RoleBinding]{
		{"roles are RBAC's", func(b *rbacv1.RoleBinding) { b.RoleRef.APIGroup = "" },
			[]string{`roleRef.apiGroup: Unsupported value: "": supported values: "rbac.authorization.k8s.io"`}},
		{"role kinds", func(b *rbacv1.RoleBinding) { b.RoleRef.Kind = "Pod" },
			[]string{`roleRef.kind: Unsupported value: "Pod": supported values: "Role", "ClusterRole"`}},
		{"roles are named", func(b *rbacv1.RoleBinding) { b.RoleRef.Name = "" },
			[]string{"roleRef.name: Required value"}},
		{"subject kinds", func(b *rbacv1.RoleBinding) { b.Subjects[0].Kind = "Robot" },
			[]string{`subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"`}},
		{"service accounts are core", func(b *rbacv1.RoleBinding) { b.Subjects[0].APIGroup = rbacv1.GroupName },
			[]string{`subjects[0].apiGroup: Unsupported value: "rbac.authorization.k8s.io": supported values: ""`}},
		{"users are named", func(b *rbacv1.RoleBinding) { b.Subjects[1].Name = "" },
			[]string{"subjects[1].name: Required value", `subjects[1].name: Invalid value: "": user name cannot be empty`}},
		{"users are RBAC's", func(b *rbacv1.RoleBinding) { b.Subjects[1].APIGroup = "example.com" },
			[]string{`subjects[1].apiGroup: Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io"`}},
	})
	runCases(t, validClusterRoleBinding, []errCase[*rbacv1.ClusterRoleBinding]{
		{"cluster bindings bind cluster roles", func(b *rbacv1.ClusterRoleBinding) { b.RoleRef.Kind = "Role" },
			[]string{`roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"`}},
		{"service accounts have a namespace", func(b *rbacv1.ClusterRoleBinding) { b.Subjects[0].Namespace = "" },
			[]string{"subjects[0].namespace: Required value"}},
	})
	runUpdateCases(t, validRoleBinding, []updateCase[*rbacv1.RoleBinding]{
		{name: "subjects may change", mutate: func(b *rbacv1.RoleBinding) { b.Subjects = b.Subjects[:1] }},
		{name: "roles are fixed", mutate: func(b *rbacv1.RoleBinding) { b.RoleRef.Name = "writer" },
			want: []string{`roleRef: Invalid value: {"APIGroup":"rbac.authorization.k8s.io","Kind":"Role","Name":"writer"}: cannot change roleRef`}},
	})
}

func TestLease(t *testing.T) {
	runCases(t, validLease, []errCase[*coordinationv1.Lease]{
		{"durations", func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = ptr(int32(0)) },
			[]string{"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"}},
		{"transitions", func(l *coordinationv1.Lease) { l.Spec.LeaseTransitions = ptr(int32(-1)) },
			[]string{"spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"}},
		{"preferred holders need a strategy", func(l *coordinationv1.Lease) { l.Spec.PreferredHolder = ptr("other") },
			[]string{"spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"}},
	})
}

func TestEndpointSlice(t *testing.T) {
	runCases(t, validEndpointSlice, []errCase[*discoveryv1.EndpointSlice]{
		{"address types", func(e *discoveryv1.EndpointSlice) { e.AddressType = "IP" },
			[]string{`addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"`}},
		{"endpoints have addresses", func(e *discoveryv1.EndpointSlice) { e.Endpoints[0].Addresses = nil },
			[]string{"endpoints[0].addresses: Required value: must contain at least 1 address"}},
		{"addresses are of the slice's type", func(e *discoveryv1.EndpointSlice) { e.Endpoints[0].Addresses[0] = "fd00::1" },
			[]string{`endpoints[0].addresses[0]: Invalid value: "fd00::1": must be an IPv4 address`}},
		{"at most 1000 endpoints", func(e *discoveryv1.EndpointSlice) {
			e.Endpoints = make([]discoveryv1.Endpoint, 1001)
		}, []string{"endpoints: Too many: 1001: must have at most 1000 items"}},
		{"port names are unique", func(e *discoveryv1.EndpointSlice) { e.Ports = append(e.Ports, e.Ports[0]) },
			[]string{`ports[1].name: Duplicate value: "http"`}},
		{"protocols", func(e *discoveryv1.EndpointSlice) { e.Ports[0].Protocol = ptr(corev1.Protocol("QUIC")) },
			[]string{`ports[0].protocol: Unsupported value: "QUIC": ` + protocolValues}},
	})
	runUpdateCases(t, validEndpointSlice, []updateCase[*discoveryv1.EndpointSlice]{
		{name: "address types are fixed", mutate: func(e *discoveryv1.EndpointSlice) {
			e.AddressType, e.Endpoints[0].Addresses = discoveryv1.AddressTypeIPv6, []string{"fd00::1"}
		}, want: []string{`addressType: Invalid value: "IPv6": field is immutable`}},
	})
}

func TestEventsEvent(t *testing.T) {
	runCases(t, validEventsEvent, []errCase[*eventsv1.Event]{
		{"types", func(e *eventsv1.Event) { e.Type = "Info" },
			[]string{`type: Invalid value: "": has invalid value: Info`}},
		{"event times", func(e *eventsv1.Event) { e.EventTime = metav1.MicroTime{} },
			[]string{"eventTime: Required value"}},
		{"reporting controllers", func(e *eventsv1.Event) { e.ReportingController = "" },
			[]string{
				"reportingController: Required value",
				`reportingController: Invalid value: "": name part must be non-empty`,
				`reportingController: Invalid value: "": ` + labelKeyName,
			}},
		{"deprecated fields are unset", func(e *eventsv1.Event) { e.DeprecatedCount = 3 },
			[]string{`count: Invalid value: "": needs to be unset`}},
		{"series", func(e *eventsv1.Event) { e.Series = &eventsv1.EventSeries{Count: 1} },
			[]string{`series.count: Invalid value: "": should be at least 2`, "series.lastObservedTime: Required value"}},
	})
	runUpdateCases(t, validEventsEvent, []updateCase[*eventsv1.Event]{
		{name: "notes are fixed", mutate: func(e *eventsv1.Event) { e.Note = "changed" },
			want: []string{`message: Invalid value: "changed": field is immutable`}},
	})
}

func TestPodDisruptionBudget(t *testing.T) {
	runCases(t, validPDB, []errCase[*policyv1.PodDisruptionBudget]{
		{"min or max", func(p *policyv1.PodDisruptionBudget) {
			p.Spec.MinAvailable, p.Spec.MaxUnavailable = ptr(intstr.FromInt32(1)), ptr(intstr.FromInt32(1))
		}, []string{`spec: Invalid value: {"MinAvailable":1,"Selector":{"matchLabels":{"app":"web"}},"MaxUnavailable":1,"UnhealthyPodEvictionPolicy":null}: minAvailable and maxUnavailable cannot be both set`}},
		{"at most everything", func(p *policyv1.PodDisruptionBudget) { p.Spec.MinAvailable = ptr(intstr.FromString("150%")) },
			[]string{`spec.minAvailable: Invalid value: "150%": must not be greater than 100%`}},
		{"counts", func(p *policyv1.PodDisruptionBudget) { p.Spec.MinAvailable = ptr(intstr.FromInt32(-1)) },
			[]string{"spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"}},
		{"eviction policies", func(p *policyv1.PodDisruptionBudget) {
			p.Spec.UnhealthyPodEvictionPolicy = ptr(policyv1.UnhealthyPodEvictionPolicyType("Never"))
		}, []string{`spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget"`}},
		{"selectors", func(p *policyv1.PodDisruptionBudget) { p.Spec.Selector.MatchLabels["-app"] = "web" },
			[]string{`spec.selector.matchLabels: Invalid value: "-app": ` + labelKeyName}},
	})
}

func TestPriorityClass(t *testing.T) {
	runCases(t, validPriorityClass, []errCase[*schedulingv1.PriorityClass]{
		{"user priorities", func(p *schedulingv1.PriorityClass) { p.Value = 2000000000 },
			[]string{"value: Forbidden: maximum allowed value of a user defined priority is 1000000000"}},
		{"system names are reserved", func(p *schedulingv1.PriorityClass) { p.Name = "system-important" },
			[]string{"metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-important is not a known system priority class"}},
		{"system classes", func(p *schedulingv1.PriorityClass) { p.Name, p.Value = "system-cluster-critical", 2000000000 }, nil},
		{"preemption policies", func(p *schedulingv1.PriorityClass) { p.PreemptionPolicy = ptr(corev1.PreemptionPolicy("Always")) },
			[]string{`preemptionPolicy: Unsupported value: "Always": supported values: "PreemptLowerPriority", "Never"`}},
	})
	runUpdateCases(t, validPriorityClass, []updateCase[*schedulingv1.PriorityClass]{
		{name: "values are fixed", mutate: func(p *schedulingv1.PriorityClass) { p.Value = 2000 },
			want: []string{"value: Forbidden: may not be changed in an update."}},
		{name: "preemption is fixed", mutate: func(p *schedulingv1.PriorityClass) { p.PreemptionPolicy = ptr(corev1.PreemptNever) },
			want: []string{`preemptionPolicy: Invalid value: "Never": field is immutable`}},
		{name: "descriptions may change", mutate: func(p *schedulingv1.PriorityClass) { p.Description = "for web" }},
	})
}

func TestStorageClass(t *testing.T) {
	runCases(t, validStorageClass, []errCase[*storagev1.StorageClass]{
		{"provisioners are required", func(s *storagev1.StorageClass) { s.Provisioner = "" },
			[]string{"provisioner: Required value"}},
		{"reclaim policies", func(s *storagev1.StorageClass) { s.ReclaimPolicy = ptr(corev1.PersistentVolumeReclaimRecycle) },
			[]string{`reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"`}},
		{"binding modes", func(s *storagev1.StorageClass) { s.VolumeBindingMode = ptr(storagev1.VolumeBindingMode("Later")) },
			[]string{`volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"`}},
		{"parameters have keys", func(s *storagev1.StorageClass) { s.Parameters[""] = "x" },
			[]string{`parameters: Invalid value: "": field can not be empty.`}},
	})
	runUpdateCases(t, validStorageClass, []updateCase[*storagev1.StorageClass]{
		{name: "provisioners are fixed", mutate: func(s *storagev1.StorageClass) { s.Provisioner = "example.com/nfs" },
			want: []string{"provisioner: Forbidden: updates to provisioner are forbidden."}},
		{name: "parameters are fixed", mutate: func(s *storagev1.StorageClass) { s.Parameters["nodePath"] = "/data" },
			want: []string{"parameters: Forbidden: updates to parameters are forbidden."}},
		{name: "reclaim policies are fixed", mutate: func(s *storagev1.StorageClass) { s.ReclaimPolicy = ptr(corev1.PersistentVolumeReclaimRetain) },
			want: []string{"reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden."}},
		{name: "defaults are no change", mutate: func(s *storagev1.StorageClass) {
			s.ReclaimPolicy, s.VolumeBindingMode = ptr(corev1.PersistentVolumeReclaimDelete), ptr(storagev1.VolumeBindingImmediate)
		}},
	})
}
