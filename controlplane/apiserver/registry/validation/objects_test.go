package validation

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
)

// Valid objects of every kind, written as a user would: without the
// fields that defaulting fills.

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", UID: "8f1c4f7e-0000-4000-8000-000000000001"}
}

func validPod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: meta("x"), Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "app", Image: "nginx"}},
	}}
}

// richPod uses most of what pods commonly use; it is valid, and what the
// benchmark measures.
func richPod() *corev1.Pod {
	grace := int64(30)
	return &corev1.Pod{ObjectMeta: meta("web-0"), Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{
			Name: "init", Image: "busybox:1.36", Command: []string{"sh", "-c", "true"},
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
		}},
		Containers: []corev1.Container{{
			Name: "web", Image: "nginx:1.27", ImagePullPolicy: corev1.PullIfNotPresent,
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP}, {Name: "metrics", ContainerPort: 9090}},
			Env: []corev1.EnvVar{
				{Name: "MODE", Value: "production"},
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
				{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
			},
			EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
			Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			},
			VolumeMounts: []corev1.VolumeMount{
				{Name: "data", MountPath: "/data"},
				{Name: "config", MountPath: "/etc/web", ReadOnly: true},
				{Name: "token", MountPath: "/var/run/secrets/tokens"},
			},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
				PeriodSeconds: 10, FailureThreshold: 3, SuccessThreshold: 1},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}},
			Lifecycle:      &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}},
			SecurityContext: &corev1.SecurityContext{
				RunAsUser: ptr(int64(1000)), AllowPrivilegeEscalation: ptr(false),
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
		Volumes: []corev1.Volume{
			{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "web"},
				Items:                []corev1.KeyToPath{{Key: "nginx.conf", Path: "nginx.conf"}},
			}}},
			{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
					Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			}}}},
		},
		ServiceAccountName:            "web",
		TerminationGracePeriodSeconds: &grace,
		NodeSelector:                  map[string]string{"kubernetes.io/os": "linux"},
		Tolerations:                   []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))}},
		Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				TopologyKey:   "kubernetes.io/hostname",
			}}}}},
		SecurityContext: &corev1.PodSecurityContext{FSGroup: ptr(int64(2000)), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
	}}
}

func ptr[T any](v T) *T { return &v }

func template(labels map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}
}

// appLabels returns fresh labels each time: tests change them.
func appLabels() map[string]string { return map[string]string{"app": "web"} }

func validDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: meta("web"), Spec: appsv1.DeploymentSpec{
		Replicas: ptr(int32(2)),
		Selector: &metav1.LabelSelector{MatchLabels: appLabels()},
		Template: template(appLabels()),
	}}
}

func validReplicaSet() *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: meta("web"), Spec: appsv1.ReplicaSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: appLabels()},
		Template: template(appLabels()),
	}}
}

func validStatefulSet() *appsv1.StatefulSet {
	return &appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{
		ServiceName: "db",
		Selector:    &metav1.LabelSelector{MatchLabels: appLabels()},
		Template:    template(appLabels()),
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec:       validPVCSpec(),
		}},
	}}
}

func validDaemonSet() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: meta("agent"), Spec: appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: appLabels()},
		Template: template(appLabels()),
	}}
}

func validControllerRevision() *appsv1.ControllerRevision {
	return &appsv1.ControllerRevision{ObjectMeta: meta("web-1"), Revision: 1, Data: runtime.RawExtension{Raw: []byte(`{}`)}}
}

// validJob is a job as upstream's strategy leaves it: with its selector and
// pod labels generated.
func validJob() *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: meta("pi"), Spec: batchv1.JobSpec{Template: template(nil)}}
	uid := string(j.UID)
	j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: uid}}
	j.Spec.Template.Labels = map[string]string{
		"controller-uid": uid, "job-name": j.Name,
		batchv1.ControllerUidLabel: uid, batchv1.JobNameLabel: j.Name,
	}
	j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	return j
}

func validCronJob() *batchv1.CronJob {
	t := template(nil)
	t.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	return &batchv1.CronJob{ObjectMeta: meta("hourly"), Spec: batchv1.CronJobSpec{
		Schedule:    "*/5 * * * *",
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: t}},
	}}
}

func validService() *corev1.Service {
	return &corev1.Service{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{
		Selector:  appLabels(),
		ClusterIP: "10.96.0.10",
		Ports:     []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}, {Name: "https", Port: 443}},
	}}
}

func validPVCSpec() corev1.PersistentVolumeClaimSpec {
	return corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}
}

func validPVC() *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: meta("data"), Spec: validPVCSpec()}
}

func validPV() *corev1.PersistentVolume {
	return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-1"}, Spec: corev1.PersistentVolumeSpec{
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/data"}},
	}}
}

func validNode() *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kindish-worker"}, Spec: corev1.NodeSpec{
		PodCIDR:  "10.244.1.0/24",
		PodCIDRs: []string{"10.244.1.0/24"},
		Taints:   []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}},
	}}
}

func validRC() *corev1.ReplicationController {
	t := template(appLabels())
	return &corev1.ReplicationController{ObjectMeta: meta("web"), Spec: corev1.ReplicationControllerSpec{
		Selector: appLabels(), Template: &t,
	}}
}

func validEndpoints() *corev1.Endpoints {
	return &corev1.Endpoints{ObjectMeta: meta("web"), Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.244.1.5"}},
		Ports:     []corev1.EndpointPort{{Name: "http", Port: 8080}},
	}}}
}

func validEndpointSlice() *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{ObjectMeta: meta("web-abc"), AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.1.5"}}},
		Ports:     []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}},
	}
}

func validCoreEvent() *corev1.Event {
	return &corev1.Event{ObjectMeta: meta("web.1"), InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"},
		Reason: "Started", Message: "Started container web", Type: corev1.EventTypeNormal}
}

func validEventsEvent() *eventsv1.Event {
	return &eventsv1.Event{ObjectMeta: meta("web.2"), EventTime: metav1.NewMicroTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		Regarding: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"},
		Reason:    "Started", Note: "Started container web", Type: corev1.EventTypeNormal, Action: "Start",
		ReportingController: "kindish.dev/kubelet", ReportingInstance: "kindish-worker",
	}
}

func validResourceQuota() *corev1.ResourceQuota {
	return &corev1.ResourceQuota{ObjectMeta: meta("quota"), Spec: corev1.ResourceQuotaSpec{
		Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceRequestsCPU: resource.MustParse("4")},
	}}
}

func validLimitRange() *corev1.LimitRange {
	return &corev1.LimitRange{ObjectMeta: meta("limits"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type:    corev1.LimitTypeContainer,
		Default: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
		Max:     corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
	}}}}
}

func validRole() *rbacv1.Role {
	return &rbacv1.Role{ObjectMeta: meta("reader"), Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"},
	}}}
}

func validClusterRole() *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:metrics"}, Rules: []rbacv1.PolicyRule{
		{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}},
	}}
}

func validRoleBinding() *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{ObjectMeta: meta("read"),
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default"}, {Kind: "User", Name: "alice"}},
	}
}

func validClusterRoleBinding() *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "metrics"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:metrics"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "prometheus", Namespace: "monitoring"}, {Kind: "Group", Name: "system:authenticated", APIGroup: rbacv1.GroupName}},
	}
}

func validLease() *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: meta("kindish-worker"), Spec: coordinationv1.LeaseSpec{
		HolderIdentity: ptr("kindish-worker"), LeaseDurationSeconds: ptr(int32(40)),
	}}
}

func validPDB() *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{ObjectMeta: meta("web"), Spec: policyv1.PodDisruptionBudgetSpec{
		MinAvailable: ptr(intstr.FromString("50%")),
		Selector:     &metav1.LabelSelector{MatchLabels: appLabels()},
	}}
}

func validPriorityClass() *schedulingv1.PriorityClass {
	return &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000}
}

func validStorageClass() *storagev1.StorageClass {
	return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard"}, Provisioner: "rancher.io/local-path",
		Parameters: map[string]string{"nodePath": "/var/local-path-provisioner"}}
}

func validConfigMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: meta("settings"), Data: map[string]string{"app.properties": "mode=dev"},
		BinaryData: map[string][]byte{"logo.png": {0x89, 'P', 'N', 'G'}}}
}

func validSecret() *corev1.Secret {
	return &corev1.Secret{ObjectMeta: meta("tls"), Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: []byte("cert"), corev1.TLSPrivateKeyKey: []byte("key")}}
}

func validNamespace() *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"},
		Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}}
}

// validate runs kind's create validation through For, as the server does.
func validate(t *testing.T, obj runtime.Object) field.ErrorList {
	t.Helper()
	v, _ := For(gvkOf(t, obj))
	if v == nil {
		t.Fatalf("no validation for %T", obj)
	}
	return v(obj)
}

func validateUpdate(t *testing.T, obj, old runtime.Object) field.ErrorList {
	t.Helper()
	_, v := For(gvkOf(t, obj))
	if v == nil {
		t.Fatalf("no update validation for %T", obj)
	}
	return v(obj, old)
}

func gvkOf(t *testing.T, obj runtime.Object) (gvk schema.GroupVersionKind) {
	t.Helper()
	kinds, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil {
		t.Fatal(err)
	}
	return kinds[0]
}

// wantErrors compares errors, rendered as clients see them, with want in
// order.
func wantErrors(t *testing.T, got field.ErrorList, want ...string) {
	t.Helper()
	var rendered []string
	for _, e := range got {
		rendered = append(rendered, e.Error())
	}
	if strings.Join(rendered, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n\t%s\nwant:\n\t%s", strings.Join(rendered, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// errCase is a change to a valid object and the errors it causes.
type errCase[T any] struct {
	name   string
	mutate func(T)
	want   []string
}

func runCases[T runtime.Object](t *testing.T, valid func() T, cases []errCase[T]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := valid()
			tc.mutate(obj)
			wantErrors(t, validate(t, obj), tc.want...)
		})
	}
}

// updateCase is a change from a valid object and the errors updating to it
// causes; old, when set, changes both the old object and the new one first.
type updateCase[T any] struct {
	name   string
	old    func(T)
	mutate func(T)
	want   []string
}

func runUpdateCases[T runtime.Object](t *testing.T, valid func() T, cases []updateCase[T]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old, obj := valid(), valid()
			if tc.old != nil {
				tc.old(old)
				tc.old(obj)
			}
			if tc.mutate != nil {
				tc.mutate(obj)
			}
			wantErrors(t, validateUpdate(t, obj, old), tc.want...)
		})
	}
}
