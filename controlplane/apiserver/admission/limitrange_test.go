package admission_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

func createLimitRange(t *testing.T, client kubernetes.Interface, ns string, items ...corev1.LimitRangeItem) {
	t.Helper()
	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits"}, Spec: corev1.LimitRangeSpec{Limits: items}}
	if _, err := client.CoreV1().LimitRanges(ns).Create(testContext(t), lr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestLimitRangeDefaultsAppearOnCreatedPod(t *testing.T) {
	env := apiservertest.Start(t)
	namespace(t, env.Client, "team")
	createLimitRange(t, env.Client, "team", corev1.LimitRangeItem{
		Type:           corev1.LimitTypeContainer,
		Default:        list("cpu", "500m", "memory", "256Mi"),
		DefaultRequest: list("cpu", "100m"),
	})
	p := pod("web", nil, nil)
	p.Spec.Containers[0].Name = "app"
	p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox:1", Resources: corev1.ResourceRequirements{Limits: list("memory", "128Mi")}}}
	created, err := env.Client.CoreV1().Pods("team").Create(testContext(t), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		got                 corev1.ResourceRequirements
		requests, limits    corev1.ResourceList
		container, describe string
	}{
		// defaultRequest has no memory: the LimitRange's own defaulting
		// took it from default.
		{created.Spec.Containers[0].Resources, list("cpu", "100m", "memory", "256Mi"), list("cpu", "500m", "memory", "256Mi"), "app", "container without resources"},
		// The container's own limit stays, and its request followed it.
		{created.Spec.InitContainers[0].Resources, list("cpu", "100m", "memory", "128Mi"), list("cpu", "500m", "memory", "128Mi"), "init", "init container with a memory limit"},
	} {
		if !equalLists(c.got.Requests, c.requests) || !equalLists(c.got.Limits, c.limits) {
			t.Errorf("%s: requests %v limits %v, want %v and %v", c.describe, c.got.Requests, c.got.Limits, c.requests, c.limits)
		}
	}
	wantNote := "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app; cpu request for init container init; cpu limit for init container init"
	if got := created.Annotations["kubernetes.io/limit-ranger"]; got != wantNote {
		t.Errorf("annotation %q, want %q", got, wantNote)
	}
	if created.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("QoS class %q, want Burstable: the defaults count", created.Status.QOSClass)
	}

	// Without a LimitRange, nothing is added.
	plain, err := env.Client.CoreV1().Pods("default").Create(testContext(t), pod("plain", nil, nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plain.Spec.Containers[0].Resources.Limits) != 0 || plain.Annotations["kubernetes.io/limit-ranger"] != "" || plain.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("pod without LimitRange changed: %+v %v %s", plain.Spec.Containers[0].Resources, plain.Annotations, plain.Status.QOSClass)
	}
}

func TestLimitRangeRefusals(t *testing.T) {
	env := apiservertest.Start(t)
	for i, tc := range []struct {
		name    string
		limits  []corev1.LimitRangeItem
		pod     *corev1.Pod
		message string
	}{{
		name:    "container min and max",
		limits:  []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Min: list("cpu", "100m"), Max: list("memory", "1Gi")}},
		pod:     pod("x", list("cpu", "50m"), list("memory", "2Gi")),
		message: `pods "x" is forbidden: [minimum cpu usage per Container is 100m, but request is 50m, maximum memory usage per Container is 1Gi, but limit is 2Gi]`,
	}, {
		name:    "one violation is not bracketed",
		limits:  []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Min: list("memory", "64Mi")}},
		pod:     pod("x", list("memory", "32Mi"), nil),
		message: `pods "x" is forbidden: minimum memory usage per Container is 64Mi, but request is 32Mi`,
	}, {
		name: "ratio per container and max per pod",
		limits: []corev1.LimitRangeItem{
			{Type: corev1.LimitTypeContainer, MaxLimitRequestRatio: list("cpu", "2")},
			{Type: corev1.LimitTypePod, Max: list("cpu", "1")},
		},
		pod: func() *corev1.Pod {
			p := pod("y", list("cpu", "200m"), list("cpu", "800m"))
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "d", Image: "busybox:1", Resources: corev1.ResourceRequirements{
				Requests: list("cpu", "600m"), Limits: list("cpu", "600m"),
			}})
			return p
		}(),
		message: `pods "y" is forbidden: [cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000, maximum cpu usage per Pod is 1, but limit is 1400m]`,
	}, {
		name:   "init containers are held to the container limits",
		limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Max: list("cpu", "1")}},
		pod: func() *corev1.Pod {
			p := pod("z", nil, list("cpu", "1"))
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox:1", Resources: corev1.ResourceRequirements{Limits: list("cpu", "2")}}}
			return p
		}(),
		message: `pods "z" is forbidden: maximum cpu usage per Container is 1, but limit is 2`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ns := fmt.Sprintf("case-%d", i)
			namespace(t, env.Client, ns)
			createLimitRange(t, env.Client, ns, tc.limits...)
			_, err := env.Client.CoreV1().Pods(ns).Create(testContext(t), tc.pod, metav1.CreateOptions{})
			wantForbidden(t, err, tc.message)
		})
	}
}

func TestLimitRangeClaimStorage(t *testing.T) {
	env := apiservertest.Start(t)
	namespace(t, env.Client, "team")
	createLimitRange(t, env.Client, "team", corev1.LimitRangeItem{
		Type: corev1.LimitTypePersistentVolumeClaim, Min: list("storage", "1Gi"), Max: list("storage", "10Gi"),
	})
	claims := env.Client.CoreV1().PersistentVolumeClaims("team")
	claim := func(name, size string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: list("storage", size)},
			},
		}
	}
	_, err := claims.Create(testContext(t), claim("small", "500Mi"), metav1.CreateOptions{})
	wantForbidden(t, err, `persistentvolumeclaims "small" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi`)
	_, err = claims.Create(testContext(t), claim("big", "20Gi"), metav1.CreateOptions{})
	wantForbidden(t, err, `persistentvolumeclaims "big" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi`)

	ok, err := claims.Create(testContext(t), claim("ok", "5Gi"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ok.Spec.Resources.Requests = list("storage", "20Gi")
	_, err = claims.Update(testContext(t), ok, metav1.UpdateOptions{})
	wantForbidden(t, err, `persistentvolumeclaims "ok" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi`)
}

// LimitRanger runs before quota: a pod that says nothing about its
// resources is given the defaults, and charged for them.
func TestLimitRangeDefaultsSatisfyQuota(t *testing.T) {
	env := apiservertest.Start(t)
	namespace(t, env.Client, "team")
	createLimitRange(t, env.Client, "team", corev1.LimitRangeItem{
		Type: corev1.LimitTypeContainer, Default: list("cpu", "500m", "memory", "128Mi"), DefaultRequest: list("cpu", "250m"),
	})
	createQuota(t, env.Client, "team", quota("q", list("requests.cpu", "1", "limits.cpu", "1", "limits.memory", "1Gi")))
	mustCreatePod(t, env.Client, "team", pod("a", nil, nil))
	mustCreatePod(t, env.Client, "team", pod("b", nil, nil))
	_, err := env.Client.CoreV1().Pods("team").Create(testContext(t), pod("c", nil, nil), metav1.CreateOptions{})
	wantForbidden(t, err, `pods "c" is forbidden: exceeded quota: q, requested: limits.cpu=500m, used: limits.cpu=1, limited: limits.cpu=1`)
	wantUsed(t, env.Client, "team", "q", list("requests.cpu", "500m", "limits.cpu", "1", "limits.memory", "256Mi"))
}
