package validation

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const selectorMismatch = "`selector` does not match template `labels`"

func rollingUpdate(maxUnavailable, maxSurge intstr.IntOrString) appsv1.DeploymentStrategy {
	return appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &maxUnavailable, MaxSurge: &maxSurge}}
}

func TestDeployment(t *testing.T) {
	runCases(t, validDeployment, []errCase[*appsv1.Deployment]{
		{"selectors are required", func(d *appsv1.Deployment) { d.Spec.Selector = nil },
			[]string{"spec.selector: Required value", `spec.template.metadata.labels: Invalid value: {"app":"web"}: ` + selectorMismatch}},
		{"selectors are not empty", func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} },
			[]string{"spec.selector: Invalid value: {}: empty selector is invalid for deployment"}},
		{"selectors select the template", func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "api"} },
			[]string{`spec.template.metadata.labels: Invalid value: {"app":"api"}: ` + selectorMismatch}},
		{"selectors with expressions", func(d *appsv1.Deployment) {
			d.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"api"}}}}
		}, []string{`spec.template.metadata.labels: Invalid value: {"app":"web"}: ` + selectorMismatch}},
		{"selector operators", func(d *appsv1.Deployment) {
			d.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Equals", Values: []string{"web"}}}}
		}, []string{
			`spec.selector.matchExpressions[0].operator: Invalid value: "Equals": not a valid selector operator`,
			`spec.selector: Invalid value: {"matchExpressions":[{"key":"app","operator":"Equals","values":["web"]}]}: invalid label selector`,
		}},
		{"replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr(int32(-1)) },
			[]string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"}},
		{"pods restart", func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"`}},
		{"pods run for ever", func(d *appsv1.Deployment) { d.Spec.Template.Spec.ActiveDeadlineSeconds = ptr(int64(60)) },
			[]string{"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported"}},
		{"template pods are validated", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" },
			[]string{"spec.template.spec.containers[0].image: Required value"}},
		{"template labels are labels", func(d *appsv1.Deployment) { d.Spec.Template.Labels["tier"] = "front end" },
			[]string{`spec.template.labels: Invalid value: "front end": ` + labelValueMsg}},
		{"rolling updates make progress", func(d *appsv1.Deployment) {
			d.Spec.Strategy = rollingUpdate(intstr.FromInt32(0), intstr.FromString("0%"))
		},
			[]string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"}},
		{"at most everything is unavailable", func(d *appsv1.Deployment) {
			d.Spec.Strategy = rollingUpdate(intstr.FromString("150%"), intstr.FromInt32(1))
		},
			[]string{`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%`}},
		{"percentages", func(d *appsv1.Deployment) {
			d.Spec.Strategy = rollingUpdate(intstr.FromInt32(1), intstr.FromString("half"))
		},
			[]string{`spec.strategy.rollingUpdate.maxSurge: Invalid value: "half": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`}},
		{"counts", func(d *appsv1.Deployment) { d.Spec.Strategy = rollingUpdate(intstr.FromInt32(-1), intstr.FromInt32(1)) },
			[]string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: -1: must be greater than or equal to 0"}},
		{"recreate has no rolling update", func(d *appsv1.Deployment) {
			d.Spec.Strategy = rollingUpdate(intstr.FromInt32(1), intstr.FromInt32(1))
			d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
		}, []string{"spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"}},
		{"strategy types", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" },
			[]string{`spec.strategy: Unsupported value: {"Type":"BlueGreen","RollingUpdate":null}: supported values: "Recreate", "RollingUpdate"`}},
		{"revision history", func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = ptr(int32(-1)) },
			[]string{"spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0"}},
		{"progress deadline", func(d *appsv1.Deployment) {
			d.Spec.MinReadySeconds, d.Spec.ProgressDeadlineSeconds = 10, ptr(int32(10))
		},
			[]string{"spec.progressDeadlineSeconds: Invalid value: 10: must be greater than minReadySeconds"}},
	})
	runUpdateCases(t, validDeployment, []updateCase[*appsv1.Deployment]{
		{name: "templates may change", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:1.27" }},
		{name: "selectors are fixed", mutate: func(d *appsv1.Deployment) {
			d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}
			d.Spec.Template.Labels = map[string]string{"app": "api"}
		}, want: []string{`spec.selector: Invalid value: {"matchLabels":{"app":"api"}}: field is immutable`}},
	})
}

func TestReplicaSet(t *testing.T) {
	runCases(t, validReplicaSet, []errCase[*appsv1.ReplicaSet]{
		{"selectors are required", func(r *appsv1.ReplicaSet) { r.Spec.Selector = nil },
			[]string{"spec.selector: Required value", `spec.template.metadata.labels: Invalid value: {"app":"web"}: ` + selectorMismatch}},
		{"minReadySeconds", func(r *appsv1.ReplicaSet) { r.Spec.MinReadySeconds = -1 },
			[]string{"spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0"}},
	})
	runUpdateCases(t, validReplicaSet, []updateCase[*appsv1.ReplicaSet]{
		{name: "selectors are fixed", mutate: func(r *appsv1.ReplicaSet) {
			r.Spec.Selector.MatchLabels = map[string]string{"app": "web", "tier": "front"}
			r.Spec.Template.Labels = map[string]string{"app": "web", "tier": "front"}
		}, want: []string{`spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"front"}}: field is immutable`}},
	})
}

func TestStatefulSet(t *testing.T) {
	runCases(t, validStatefulSet, []errCase[*appsv1.StatefulSet]{
		{"names are DNS labels", func(s *appsv1.StatefulSet) { s.Name = "db.v1" },
			[]string{`metadata.name: Invalid value: "db.v1": must not contain dots`}},
		{"pod management policies", func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "Random" },
			[]string{`spec.podManagementPolicy: Invalid value: "Random": must be 'OrderedReady' or 'Parallel'`}},
		{"update strategies", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.Type = "Manual" },
			[]string{`spec.updateStrategy: Invalid value: {"type":"Manual"}: must be 'RollingUpdate' or 'OnDelete'`}},
		{"selectors are not empty", func(s *appsv1.StatefulSet) { s.Spec.Selector = &metav1.LabelSelector{} },
			[]string{"spec.selector: Invalid value: {}: empty selector is invalid for statefulset"}},
		{"selectors select the template", func(s *appsv1.StatefulSet) { s.Spec.Template.Labels = nil },
			[]string{"spec.template.metadata.labels: Invalid value: null: " + selectorMismatch}},
		{"claim templates", func(s *appsv1.StatefulSet) { s.Spec.VolumeClaimTemplates[0].Spec.AccessModes = nil },
			[]string{"spec.volumeClaimTemplates[0].spec.accessModes: Required value: at least 1 access mode is required"}},
		{"retention policies", func(s *appsv1.StatefulSet) {
			s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: "Keep"}
		}, []string{`spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": supported values: "Retain", "Delete"`}},
	})
	const forbidden = "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
	runUpdateCases(t, validStatefulSet, []updateCase[*appsv1.StatefulSet]{
		{name: "replicas and templates may change", mutate: func(s *appsv1.StatefulSet) {
			s.Spec.Replicas = ptr(int32(5))
			s.Spec.Template.Spec.Containers[0].Image = "postgres:17"
		}},
		{name: "the service is fixed", mutate: func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "other" }, want: []string{forbidden}},
		{name: "claim templates are fixed", mutate: func(s *appsv1.StatefulSet) { s.Spec.VolumeClaimTemplates = nil }, want: []string{forbidden}},
		{name: "pod management is fixed", mutate: func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }, want: []string{forbidden}},
	})
}

func TestDaemonSet(t *testing.T) {
	rolling := func(maxUnavailable, maxSurge intstr.IntOrString) appsv1.DaemonSetUpdateStrategy {
		return appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &maxUnavailable, MaxSurge: &maxSurge}}
	}
	runCases(t, validDaemonSet, []errCase[*appsv1.DaemonSet]{
		{"selectors select the template", func(d *appsv1.DaemonSet) { d.Spec.Selector = nil },
			[]string{`spec.template.metadata.labels: Invalid value: {"app":"web"}: ` + selectorMismatch}},
		{"surge or unavailability", func(d *appsv1.DaemonSet) { d.Spec.UpdateStrategy = rolling(intstr.FromInt32(1), intstr.FromInt32(1)) },
			[]string{"spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"}},
		{"one of them", func(d *appsv1.DaemonSet) { d.Spec.UpdateStrategy = rolling(intstr.FromInt32(0), intstr.FromInt32(0)) },
			[]string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"}},
		{"strategy types", func(d *appsv1.DaemonSet) { d.Spec.UpdateStrategy.Type = "Canary" },
			[]string{`spec.updateStrategy: Unsupported value: {"Type":"Canary","RollingUpdate":null}: supported values: "RollingUpdate", "OnDelete"`}},
		{"pods restart", func(d *appsv1.DaemonSet) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`}},
	})
	runUpdateCases(t, validDaemonSet, []updateCase[*appsv1.DaemonSet]{
		{name: "selectors are fixed", mutate: func(d *appsv1.DaemonSet) {
			d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}
			d.Spec.Template.Labels = map[string]string{"app": "agent"}
		}, want: []string{`spec.selector: Invalid value: {"matchLabels":{"app":"agent"}}: field is immutable`}},
	})
}

func TestControllerRevision(t *testing.T) {
	runCases(t, validControllerRevision, []errCase[*appsv1.ControllerRevision]{
		{"revisions", func(r *appsv1.ControllerRevision) { r.Revision = -1 },
			[]string{"revision: Invalid value: -1: must be greater than or equal to 0"}},
		{"data is required", func(r *appsv1.ControllerRevision) { r.Data = runtime.RawExtension{} },
			[]string{"data: Required value: data is mandatory"}},
	})
	runUpdateCases(t, validControllerRevision, []updateCase[*appsv1.ControllerRevision]{
		{name: "data is fixed", mutate: func(r *appsv1.ControllerRevision) { r.Data.Raw = []byte(`{"spec":{}}`) },
			want: []string{`data: Invalid value: {"spec":{}}: field is immutable`}},
	})
}

func TestWorkloadStatus(t *testing.T) {
	d := ForSubresource(appsv1.SchemeGroupVersion.WithKind("Deployment"), "status")
	old := validDeployment()
	old.Status.CollisionCount = ptr(int32(2))
	dep := old.DeepCopy()
	dep.Status.Replicas, dep.Status.ReadyReplicas, dep.Status.CollisionCount = 1, 2, ptr(int32(1))
	wantErrors(t, d(dep, old),
		"status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas",
		"status.collisionCount: Invalid value: 1: cannot be decremented")
}
