package statefulset

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func withClaims(set *appsv1.StatefulSet, names ...string) *appsv1.StatefulSet {
	for _, n := range names {
		set.Spec.VolumeClaimTemplates = append(set.Spec.VolumeClaimTemplates, corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"tier": "data"}},
		})
	}
	return set
}

func TestParentNameAndOrdinal(t *testing.T) {
	tests := []struct {
		name       string
		wantParent string
		wantOrd    int
	}{
		{name: "web-0", wantParent: "web", wantOrd: 0},
		{name: "web-12", wantParent: "web", wantOrd: 12},
		{name: "my-web-3", wantParent: "my-web", wantOrd: 3},
		{name: "web", wantParent: "", wantOrd: -1},
		{name: "web-", wantParent: "", wantOrd: -1},
		{name: "web-x1", wantParent: "", wantOrd: -1},
		{name: "web-99999999999", wantParent: "web", wantOrd: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, ord := parentNameAndOrdinal(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tt.name}})
			if parent != tt.wantParent || ord != tt.wantOrd {
				t.Fatalf("got %q %d, want %q %d", parent, ord, tt.wantParent, tt.wantOrd)
			}
		})
	}
}

func TestNewStatefulSetPodHasItsOrdinalsIdentityAndClaims(t *testing.T) {
	set := withClaims(newSet("web", 3, appsv1.OrderedReadyPodManagement), "www", "logs")
	set.UID = "set-uid"
	set.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "www"}, {Name: "config"}}
	pod := newStatefulSetPod(set, 2)

	if pod.Name != "web-2" || pod.GenerateName != "web-" || pod.Spec.Hostname != "web-2" || pod.Spec.Subdomain != "web" {
		t.Errorf("name %q generateName %q hostname %q subdomain %q", pod.Name, pod.GenerateName, pod.Spec.Hostname, pod.Spec.Subdomain)
	}
	if pod.Labels[appsv1.StatefulSetPodNameLabel] != "web-2" || pod.Labels[appsv1.PodIndexLabel] != "2" || pod.Labels["app"] != "web" {
		t.Errorf("labels %v", pod.Labels)
	}
	var volumes []string
	for _, v := range pod.Spec.Volumes {
		claim := ""
		if v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
		volumes = append(volumes, v.Name+"="+claim)
	}
	if got, want := volumes, []string{"www=www-web-2", "logs=logs-web-2", "config="}; !slices.Equal(got, want) {
		t.Errorf("volumes %v, want %v (the template's www replaced by its claim)", got, want)
	}
	if ref := metav1.GetControllerOf(pod); ref == nil || ref.UID != set.UID || !*ref.BlockOwnerDeletion {
		t.Errorf("controller reference %+v", ref)
	}
	if !identityMatches(set, pod) || !storageMatches(set, pod) {
		t.Error("a new pod does not match its own set")
	}
	if set.Spec.Template.Labels[appsv1.StatefulSetPodNameLabel] != "" {
		t.Error("the set's template was changed")
	}
}

func TestUpdateIdentityAndStorageRepairAPod(t *testing.T) {
	set := withClaims(newSet("web", 3, appsv1.OrderedReadyPodManagement), "www")
	pod := newStatefulSetPod(set, 1)
	delete(pod.Labels, appsv1.StatefulSetPodNameLabel)
	pod.Spec.Volumes = nil
	if identityMatches(set, pod) || storageMatches(set, pod) {
		t.Fatal("a damaged pod matches")
	}
	updateIdentity(set, pod)
	updateStorage(set, pod)
	if !identityMatches(set, pod) || !storageMatches(set, pod) {
		t.Fatalf("repaired pod does not match: labels %v volumes %+v", pod.Labels, pod.Spec.Volumes)
	}
}

func TestPersistentVolumeClaimsAreNamedAndLabelledForThePod(t *testing.T) {
	set := withClaims(newSet("web", 3, appsv1.OrderedReadyPodManagement), "www")
	claims := persistentVolumeClaims(set, newStatefulSetPod(set, 4))
	c, ok := claims["www"]
	if !ok || c.Name != "www-web-4" || c.Namespace != "default" || c.Labels["app"] != "web" || c.Labels["tier"] != "data" {
		t.Fatalf("claim %+v", c)
	}
	if set.Spec.VolumeClaimTemplates[0].Labels["app"] != "" {
		t.Error("the set's claim template was changed")
	}
}

func TestNewVersionedStatefulSetPodHonoursThePartition(t *testing.T) {
	partition := func(p int32) *appsv1.StatefulSet {
		set := newSet("web", 4, appsv1.OrderedReadyPodManagement)
		set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{
			Type:          appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: &p},
		}
		return set
	}
	onDelete := newSet("web", 4, appsv1.OrderedReadyPodManagement)
	onDelete.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType
	tests := []struct {
		name    string
		set     *appsv1.StatefulSet
		ordinal int
		want    string
	}{
		{name: "below the partition stays current", set: partition(2), ordinal: 1, want: "current"},
		{name: "at the partition is updated", set: partition(2), ordinal: 2, want: "update"},
		{name: "partition 0 updates all", set: partition(0), ordinal: 0, want: "update"},
		{name: "OnDelete recreates at the update revision", set: onDelete, ordinal: 0, want: "update"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := newVersionedStatefulSetPod(tt.set, tt.set, "current", "update", tt.ordinal)
			if got := getPodRevision(pod); got != tt.want {
				t.Fatalf("revision %q, want %q", got, tt.want)
			}
		})
	}
}

func TestApplyRevisionRestoresTheTemplateOnly(t *testing.T) {
	v1 := newSet("web", 3, appsv1.OrderedReadyPodManagement)
	rev, err := newRevision(v1, 1, new(int32))
	if err != nil {
		t.Fatal(err)
	}
	v2 := newSet("web", 5, appsv1.OrderedReadyPodManagement)
	v2.Spec.Template.Spec.Containers[0].Image = "web:v2"
	restored, err := ApplyRevision(v2, rev)
	if err != nil {
		t.Fatal(err)
	}
	if restored.Spec.Template.Spec.Containers[0].Image != "web:v1" || *restored.Spec.Replicas != 5 {
		t.Fatalf("restored image %s replicas %d, want web:v1 and 5", restored.Spec.Template.Spec.Containers[0].Image, *restored.Spec.Replicas)
	}
	if v2.Spec.Template.Spec.Containers[0].Image != "web:v2" {
		t.Error("the set itself was changed")
	}
}
