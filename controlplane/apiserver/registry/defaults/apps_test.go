package defaults_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kindish/kindish/controlplane/apiserver/registry/defaults"
)

var webSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}

func TestDeployment(t *testing.T) {
	runCases(t, defaults.Deployment, []defaultingCase[appsv1.Deployment]{
		{
			name: "one replica, 25%/25% rolling update, history 10, deadline 600s, template defaults",
			in:   &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Selector: webSelector, Template: minimalTemplate()}},
			want: &appsv1.Deployment{Spec: appsv1.DeploymentSpec{
				Replicas: new(int32(1)),
				Selector: webSelector,
				Template: defaultedTemplate(),
				Strategy: appsv1.DeploymentStrategy{
					Type: appsv1.RollingUpdateDeploymentStrategyType,
					RollingUpdate: &appsv1.RollingUpdateDeployment{
						MaxUnavailable: new(intstr.FromString("25%")),
						MaxSurge:       new(intstr.FromString("25%")),
					},
				},
				RevisionHistoryLimit:    new(int32(10)),
				ProgressDeadlineSeconds: new(int32(600)),
			}},
		},
		{
			name: "Recreate gets no rolling update",
			in: &appsv1.Deployment{Spec: appsv1.DeploymentSpec{
				Replicas: new(int32(0)),
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
				Template: minimalTemplate(),
			}},
			want: &appsv1.Deployment{Spec: appsv1.DeploymentSpec{
				Replicas:                new(int32(0)),
				Strategy:                appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
				Template:                defaultedTemplate(),
				RevisionHistoryLimit:    new(int32(10)),
				ProgressDeadlineSeconds: new(int32(600)),
			}},
		},
		{
			name: "a rolling update with one bound given",
			in: &appsv1.Deployment{Spec: appsv1.DeploymentSpec{
				Strategy: appsv1.DeploymentStrategy{RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: new(intstr.FromInt32(0))}},
				Template: minimalTemplate(),
			}},
			want: &appsv1.Deployment{Spec: appsv1.DeploymentSpec{
				Replicas: new(int32(1)),
				Strategy: appsv1.DeploymentStrategy{
					Type: appsv1.RollingUpdateDeploymentStrategyType,
					RollingUpdate: &appsv1.RollingUpdateDeployment{
						MaxUnavailable: new(intstr.FromString("25%")),
						MaxSurge:       new(intstr.FromInt32(0)),
					},
				},
				Template:                defaultedTemplate(),
				RevisionHistoryLimit:    new(int32(10)),
				ProgressDeadlineSeconds: new(int32(600)),
			}},
		},
	})
}

func TestReplicaSet(t *testing.T) {
	runCases(t, defaults.ReplicaSet, []defaultingCase[appsv1.ReplicaSet]{{
		name: "one replica and template defaults",
		in:   &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Selector: webSelector, Template: minimalTemplate()}},
		want: &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: new(int32(1)), Selector: webSelector, Template: defaultedTemplate()}},
	}})
}

func TestDaemonSet(t *testing.T) {
	runCases(t, defaults.DaemonSet, []defaultingCase[appsv1.DaemonSet]{
		{
			name: "rolling update one node at a time without surge, history 10",
			in:   &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Selector: webSelector, Template: minimalTemplate()}},
			want: &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{
				Selector: webSelector,
				Template: defaultedTemplate(),
				UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
					Type: appsv1.RollingUpdateDaemonSetStrategyType,
					RollingUpdate: &appsv1.RollingUpdateDaemonSet{
						MaxUnavailable: new(intstr.FromInt32(1)),
						MaxSurge:       new(intstr.FromInt32(0)),
					},
				},
				RevisionHistoryLimit: new(int32(10)),
			}},
		},
		{
			name: "OnDelete gets no rolling update",
			in: &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{
				UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType},
				Template:       minimalTemplate(),
			}},
			want: &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{
				UpdateStrategy:       appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType},
				Template:             defaultedTemplate(),
				RevisionHistoryLimit: new(int32(10)),
			}},
		},
	})
}

func TestStatefulSet(t *testing.T) {
	retain := &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
		WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
	}
	runCases(t, defaults.StatefulSet, []defaultingCase[appsv1.StatefulSet]{
		{
			name: "ordered, rolling from partition 0, claims retained, volume claim templates Pending",
			in: &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{
				Selector:    webSelector,
				ServiceName: "web",
				Template:    minimalTemplate(),
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
					ObjectMeta: metav1.ObjectMeta{Name: "data"},
					Spec: corev1.PersistentVolumeClaimSpec{
						AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q("1Gi")}},
					},
				}},
			}},
			want: &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{
				Replicas:            new(int32(1)),
				Selector:            webSelector,
				ServiceName:         "web",
				Template:            defaultedTemplate(),
				PodManagementPolicy: appsv1.OrderedReadyPodManagement,
				UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
					Type:          appsv1.RollingUpdateStatefulSetStrategyType,
					RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: new(int32(0))},
				},
				RevisionHistoryLimit:                 new(int32(10)),
				PersistentVolumeClaimRetentionPolicy: retain,
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
					ObjectMeta: metav1.ObjectMeta{Name: "data"},
					Spec: corev1.PersistentVolumeClaimSpec{
						AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q("1Gi")}},
						VolumeMode:  new(corev1.PersistentVolumeFilesystem),
					},
					Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
				}},
			}},
		},
		{
			name: "RollingUpdate named without parameters stays without them",
			in: &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{
				UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
				Template:       minimalTemplate(),
			}},
			want: &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{
				Replicas:                             new(int32(1)),
				Template:                             defaultedTemplate(),
				PodManagementPolicy:                  appsv1.OrderedReadyPodManagement,
				UpdateStrategy:                       appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
				RevisionHistoryLimit:                 new(int32(10)),
				PersistentVolumeClaimRetentionPolicy: retain,
			}},
		},
		{
			name: "a given partition, maxUnavailable and half a retention policy",
			in: &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{
				PodManagementPolicy: appsv1.ParallelPodManagement,
				UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
					Type:          appsv1.RollingUpdateStatefulSetStrategyType,
					RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: new(int32(2)), MaxUnavailable: new(intstr.FromInt32(2))},
				},
				PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType},
				Template:                             minimalTemplate(),
			}},
			want: &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{
				Replicas:            new(int32(1)),
				Template:            defaultedTemplate(),
				PodManagementPolicy: appsv1.ParallelPodManagement,
				UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
					Type:          appsv1.RollingUpdateStatefulSetStrategyType,
					RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: new(int32(2)), MaxUnavailable: new(intstr.FromInt32(2))},
				},
				RevisionHistoryLimit: new(int32(10)),
				PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
					WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
					WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
				},
			}},
		},
	})
}
