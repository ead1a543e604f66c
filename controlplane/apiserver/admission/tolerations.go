package admission

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/kindish/kindish/controlplane/apiserver/rest"
)

// DefaultTolerationSeconds gives every new pod upstream's default
// tolerations of not-ready and unreachable nodes (300 s), so that the node
// lifecycle controller evicts pods five minutes after their node fails.
type DefaultTolerationSeconds struct {
	Seconds int64
}

func (DefaultTolerationSeconds) Name() string { return "DefaultTolerationSeconds" }

func (p DefaultTolerationSeconds) Admit(_ context.Context, a rest.AdmissionAttributes) error {
	pod, ok := a.Object.(*corev1.Pod)
	if !ok || a.Operation != "CREATE" {
		return nil
	}
	seconds := p.Seconds
	if seconds == 0 {
		seconds = 300
	}
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		if toleratesNoExecute(pod.Spec.Tolerations, key) {
			continue
		}
		s := seconds
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
			Key:               key,
			Operator:          corev1.TolerationOpExists,
			Effect:            corev1.TaintEffectNoExecute,
			TolerationSeconds: &s,
		})
	}
	return nil
}

// toleratesNoExecute reports a toleration that already covers the taint
// (by key, or every key), as upstream checks before adding its own.
func toleratesNoExecute(tolerations []corev1.Toleration, key string) bool {
	for _, t := range tolerations {
		if (t.Key == key || (t.Key == "" && t.Operator == corev1.TolerationOpExists)) &&
			(t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
			return true
		}
	}
	return false
}
