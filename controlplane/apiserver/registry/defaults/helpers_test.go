package defaults_test

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// quantities compare by value and by the format they print in, so that a
// rounding that changes either shows.
var quantities = cmp.Comparer(func(a, b resource.Quantity) bool {
	return a.Cmp(b) == 0 && a.Format == b.Format
})

// defaultingCase is one object in and the object expected out.
type defaultingCase[T any] struct {
	name string
	in   *T
	want *T
}

// runCases applies f to each case's input, compares it with the expected
// object, then applies f again and checks nothing changed.
func runCases[T any](t *testing.T, f func(*T), cases []defaultingCase[T]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in
			f(got)
			if d := cmp.Diff(tc.want, got, quantities); d != "" {
				t.Fatalf("defaulted object (-want +got):\n%s", d)
			}
			again := deepCopy(got)
			f(again)
			if !reflect.DeepEqual(got, again) {
				t.Errorf("defaulting twice changed the object (-once +twice):\n%s", cmp.Diff(got, again, quantities))
			}
		})
	}
}

// deepCopy copies an API object through its generated DeepCopy.
func deepCopy[T any](obj *T) *T {
	return any(obj).(interface{ DeepCopy() *T }).DeepCopy()
}

// The defaulted form of a minimal pod spec, container and template,
// written out once for the tests of the kinds that embed them.

func minimalPodSpec() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}}}
}

func defaultedContainer() corev1.Container {
	return corev1.Container{
		Name:                     "app",
		Image:                    "nginx:1.27",
		ImagePullPolicy:          corev1.PullIfNotPresent,
		TerminationMessagePath:   "/dev/termination-log",
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
}

func defaultedPodSpec() corev1.PodSpec {
	return corev1.PodSpec{
		Containers:                    []corev1.Container{defaultedContainer()},
		RestartPolicy:                 corev1.RestartPolicyAlways,
		TerminationGracePeriodSeconds: new(int64(30)),
		DNSPolicy:                     corev1.DNSClusterFirst,
		SecurityContext:               &corev1.PodSecurityContext{},
		SchedulerName:                 "default-scheduler",
	}
}

func minimalTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: minimalPodSpec()}
}

// defaultedTemplate is a minimal template defaulted: no enableServiceLinks,
// which only pods get.
func defaultedTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: defaultedPodSpec()}
}

// cmpDiff is cmp.Diff with quantities compared by value.
func cmpDiff(want, got any) string { return cmp.Diff(want, got, quantities) }

func q(s string) resource.Quantity { return resource.MustParse(s) }
