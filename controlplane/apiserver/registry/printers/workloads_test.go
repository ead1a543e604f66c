package printers

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

func webTemplate(images ...string) corev1.PodTemplateSpec {
	t := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}}
	names := []string{"web", "sidecar", "third"}
	for i, image := range images {
		t.Spec.Containers = append(t.Spec.Containers, corev1.Container{Name: names[i], Image: image})
	}
	return t
}

var webSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}

func TestWorkloadCells(t *testing.T) {
	created := metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(5 * time.Minute)}
	for _, tc := range []struct {
		name string
		gvr  string
		obj  runtime.Object
		want []any
	}{
		{"deployment mid-rollout", "deployments", &appsv1.Deployment{
			ObjectMeta: created,
			Spec:       appsv1.DeploymentSpec{Replicas: ptr(int32(3)), Selector: webSelector, Template: webTemplate("nginx:1.27", "envoy:v1.31")},
			Status:     appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 2, UnavailableReplicas: 2},
		}, []any{"2/3", int64(1), int64(2), "5m", "web,sidecar", "nginx:1.27,envoy:v1.31", "app=web"}},
		{"deployment with an expression selector", "deployments", &appsv1.Deployment{
			ObjectMeta: created,
			Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(0)), Template: webTemplate("nginx"), Selector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "api"}}},
			}},
		}, []any{"0/0", int64(0), int64(0), "5m", "web", "nginx", "tier in (api,web)"}},
		{"deployment with a bad selector", "deployments", &appsv1.Deployment{
			ObjectMeta: created,
			Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(1)), Template: webTemplate("nginx"), Selector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Near"}},
			}},
		}, []any{"0/1", int64(0), int64(0), "5m", "web", "nginx", "<invalid>"}},
		{"replica set", "replicasets", &appsv1.ReplicaSet{
			ObjectMeta: created,
			Spec:       appsv1.ReplicaSetSpec{Replicas: ptr(int32(3)), Selector: webSelector, Template: webTemplate("nginx:1.27")},
			Status:     appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1},
		}, []any{int64(3), int64(3), int64(1), "5m", "web", "nginx:1.27", "app=web"}},
		{"stateful set", "statefulsets", &appsv1.StatefulSet{
			ObjectMeta: created,
			Spec:       appsv1.StatefulSetSpec{Replicas: ptr(int32(3)), Selector: webSelector, Template: webTemplate("postgres:17")},
			Status:     appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 1},
		}, []any{"1/3", "5m", "web", "postgres:17"}},
		{"daemon set", "daemonsets", &appsv1.DaemonSet{
			ObjectMeta: created,
			Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kindnet"}}, Template: func() corev1.PodTemplateSpec {
				t := webTemplate("kindnetd:v20250214")
				t.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
				return t
			}()},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 3, NumberAvailable: 2},
		}, []any{int64(3), int64(3), int64(2), int64(3), int64(2), "kubernetes.io/os=linux", "5m", "web", "kindnetd:v20250214", "k8s-app=kindnet"}},
		{"daemon set without node selector", "daemonsets", &appsv1.DaemonSet{ObjectMeta: created, Spec: appsv1.DaemonSetSpec{Template: webTemplate("kube-proxy")}},
			[]any{int64(0), int64(0), int64(0), int64(0), int64(0), "<none>", "5m", "web", "kube-proxy", "<none>"}},
		{"controller revision of a stateful set", "controllerrevisions", &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(5 * time.Minute), OwnerReferences: []metav1.OwnerReference{
				{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web", Controller: ptr(true)},
			}},
			Revision: 2,
		}, []any{"statefulset.apps/web", int64(2), "5m"}},
		{"controller revision of a core kind", "controllerrevisions", &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(5 * time.Minute), OwnerReferences: []metav1.OwnerReference{
				{APIVersion: "v1", Kind: "Pod", Name: "owner", Controller: ptr(true)},
			}},
			Revision: 1,
		}, []any{"pod/owner", int64(1), "5m"}},
		{"controller revision without controller", "controllerrevisions", &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(5 * time.Minute), OwnerReferences: []metav1.OwnerReference{
				{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web"},
			}},
			Revision: 1,
		}, []any{"<none>", int64(1), "5m"}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCells(t, registry.AppsV1.WithResource(tc.gvr), tc.obj, tc.want) })
	}
}

func TestControllerRevisionWithABadOwnerIsAnError(t *testing.T) {
	cr := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "apps/v1/extra", Kind: "StatefulSet", Name: "web", Controller: ptr(true)},
	}}}
	if _, err := For(registry.AppsV1.WithResource("controllerrevisions")).Cells(cr); err == nil {
		t.Fatal("no error for an unparsable apiVersion")
	}
}

func jobCond(t batchv1.JobConditionType, s corev1.ConditionStatus) batchv1.JobCondition {
	return batchv1.JobCondition{Type: t, Status: s}
}

func TestJobCells(t *testing.T) {
	gvr := registry.BatchV1.WithResource("jobs")
	job := func(completions, parallelism *int32, mutate func(*batchv1.Job)) *batchv1.Job {
		j := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "pi", CreationTimestamp: ago(10 * time.Minute)},
			Spec: batchv1.JobSpec{
				Completions: completions, Parallelism: parallelism,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "1234"}},
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "pi", Image: "perl:5.34"}}}},
			},
		}
		if mutate != nil {
			mutate(j)
		}
		return j
	}
	wide := []any{"10m", "pi", "perl:5.34", "batch.kubernetes.io/controller-uid=1234"}
	row := func(status, completions, duration string) []any {
		return append([]any{status, completions, duration}, wide...)
	}
	for _, tc := range []struct {
		name string
		job  *batchv1.Job
		want []any
	}{
		{"not started", job(ptr(int32(1)), ptr(int32(1)), nil), row("Running", "0/1", "")},
		{"running for 4m", job(ptr(int32(5)), ptr(int32(2)), func(j *batchv1.Job) {
			j.Status.StartTime, j.Status.Succeeded = agoPtr(4*time.Minute), 2
		}), row("Running", "2/5", "4m")},
		{"complete after 37s", job(ptr(int32(1)), ptr(int32(1)), func(j *batchv1.Job) {
			j.Status.StartTime, j.Status.CompletionTime, j.Status.Succeeded = agoPtr(9*time.Minute), agoPtr(9*time.Minute-37*time.Second), 1
			j.Status.Conditions = []batchv1.JobCondition{jobCond(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue), jobCond(batchv1.JobComplete, corev1.ConditionTrue)}
		}), row("Complete", "1/1", "37s")},
		{"failed", job(ptr(int32(1)), nil, func(j *batchv1.Job) {
			j.Status.StartTime = agoPtr(3 * time.Minute)
			j.Status.Conditions = []batchv1.JobCondition{jobCond(batchv1.JobFailureTarget, corev1.ConditionTrue), jobCond(batchv1.JobFailed, corev1.ConditionTrue)}
		}), row("Failed", "0/1", "3m")},
		{"failing", job(ptr(int32(1)), nil, func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{jobCond(batchv1.JobFailureTarget, corev1.ConditionTrue)}
		}), row("FailureTarget", "0/1", "")},
		{"suspended", job(ptr(int32(1)), nil, func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{jobCond(batchv1.JobSuspended, corev1.ConditionTrue)}
		}), row("Suspended", "0/1", "")},
		{"resumed", job(ptr(int32(1)), nil, func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{jobCond(batchv1.JobSuspended, corev1.ConditionFalse)}
		}), row("Running", "0/1", "")},
		{"suspended while deleted", job(ptr(int32(1)), nil, func(j *batchv1.Job) {
			j.DeletionTimestamp = agoPtr(0)
			j.Status.Conditions = []batchv1.JobCondition{jobCond(batchv1.JobSuspended, corev1.ConditionTrue)}
		}), row("Terminating", "0/1", "")},
		{"work queue, parallel", job(nil, ptr(int32(3)), nil), row("Running", "0/1 of 3", "")},
		{"work queue, one at a time", job(nil, nil, nil), row("Running", "0/1", "")},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCells(t, gvr, tc.job, tc.want) })
	}
}

func TestCronJobCells(t *testing.T) {
	gvr := registry.BatchV1.WithResource("cronjobs")
	template := batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "hello", Image: "busybox:1.28"}},
	}}}}
	for _, tc := range []struct {
		name string
		cj   *batchv1.CronJob
		want []any
	}{
		{"fresh", &batchv1.CronJob{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(30 * time.Second)},
			Spec:       batchv1.CronJobSpec{Schedule: "* * * * *", Suspend: ptr(false), JobTemplate: template},
		}, []any{"* * * * *", "<none>", "False", int64(0), "<none>", "30s", "hello", "busybox:1.28", "<none>"}},
		{"scheduled, in a time zone, suspended", &batchv1.CronJob{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(3 * time.Hour)},
			Spec:       batchv1.CronJobSpec{Schedule: "0 3 * * *", TimeZone: ptr("Europe/Paris"), Suspend: ptr(true), JobTemplate: template},
			Status:     batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Name: "a"}, {Name: "b"}}, LastScheduleTime: agoPtr(45 * time.Second)},
		}, []any{"0 3 * * *", "Europe/Paris", "True", int64(2), "45s", "3h", "hello", "busybox:1.28", "<none>"}},
		{"suspend unset", &batchv1.CronJob{Spec: batchv1.CronJobSpec{Schedule: "@hourly", JobTemplate: template}},
			[]any{"@hourly", "<none>", "<unset>", int64(0), "<none>", "<unknown>", "hello", "busybox:1.28", "<none>"}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCells(t, gvr, tc.cj, tc.want) })
	}
}
