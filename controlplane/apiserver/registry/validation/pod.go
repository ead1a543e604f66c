package validation

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	mirrorPodAnnotation      = corev1.MirrorPodAnnotationKey
	podDeletionCost          = "controller.kubernetes.io/pod-deletion-cost"
	tolerationsAnnotation    = "scheduler.alpha.kubernetes.io/tolerations"
	seccompPodAnnotation     = corev1.SeccompPodAnnotationKey
	seccompContainerPrefix   = corev1.SeccompContainerAnnotationKeyPrefix
	appArmorContainerPrefix  = corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix
	appArmorRuntimeDefault   = corev1.DeprecatedAppArmorBetaProfileRuntimeDefault
	appArmorUnconfined       = corev1.DeprecatedAppArmorBetaProfileNameUnconfined
	appArmorLocalhostPrefix  = corev1.DeprecatedAppArmorBetaProfileNamePrefix
	seccompLocalhostPrefix   = corev1.SeccompLocalhostProfileNamePrefix
	seccompRuntimeDefault    = corev1.SeccompProfileRuntimeDefault
	seccompDockerDefault     = corev1.DeprecatedSeccompProfileDockerDefault
	seccompUnconfined        = corev1.SeccompProfileNameUnconfined
	updatablePodSpecFieldMsg = "pod updates may not change fields other than " +
		"`spec.containers[*].image`," +
		"`spec.initContainers[*].image`," +
		"`spec.activeDeadlineSeconds`," +
		"`spec.tolerations` (only additions to existing tolerations)," +
		"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)

func validatePod(pod *corev1.Pod) field.ErrorList {
	errs := validatePodMetadataAndSpec(nil, pod)
	sp := root("spec")
	if len(pod.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(sp.path("ephemeralContainers"), "cannot be set on create"))
	}
	if pod.Spec.NodeName != "" && len(pod.Spec.SchedulingGates) != 0 {
		errs = append(errs, field.Forbidden(sp.path("nodeName"), "cannot be set until all schedulingGates have been cleared"))
	}
	return errs
}

// validatePodMetadataAndSpec is what a pod is checked for on create and
// update alike.
func validatePodMetadataAndSpec(errs field.ErrorList, pod *corev1.Pod) field.ErrorList {
	as := root("metadata.annotations")
	errs = validatePodSpecificAnnotations(errs, pod.Annotations, &pod.Spec, &as)
	sp := root("spec")
	errs = validatePodSpec(errs, &pod.Spec, &sp, podOptions{isPod: true, podName: pod.Name})
	// Only a pod with a service account can be given its token.
	if pod.Spec.ServiceAccountName == "" {
		for vi := range pod.Spec.Volumes {
			if p := pod.Spec.Volumes[vi].Projected; p != nil {
				for si := range p.Sources {
					if p.Sources[si].ServiceAccountToken != nil {
						errs = append(errs, field.Forbidden(sp.path("volumes").Index(vi).Child("projected", "sources").Index(si).Child("serviceAccountToken"),
							"must not be specified when serviceAccountName is not set"))
					}
				}
			}
		}
	}
	cs := sp.child("containers")
	for i := range pod.Spec.Containers {
		ci := cs.index(i)
		errs = validateImageWhitespace(errs, &pod.Spec.Containers[i], &ci)
	}
	ics := sp.child("initContainers")
	for i := range pod.Spec.InitContainers {
		ci := ics.index(i)
		errs = validateImageWhitespace(errs, &pod.Spec.InitContainers[i], &ci)
	}
	return errs
}

// validatePodTemplateSpec checks the pod template of a workload.
func validatePodTemplateSpec(errs field.ErrorList, t *corev1.PodTemplateSpec, s *step) field.ErrorList {
	// Upstream reports the template's labels and annotations without
	// "metadata".
	ls := s.child("labels")
	errs = validateLabels(errs, t.Labels, &ls)
	as := s.child("annotations")
	errs = validateAnnotations(errs, t.Annotations, &as)
	errs = validatePodSpecificAnnotations(errs, t.Annotations, &t.Spec, &as)
	ss := s.child("spec")
	errs = validatePodSpec(errs, &t.Spec, &ss, podOptions{})
	if len(t.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(ss.path("ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return errs
}

func validatePodSpecificAnnotations(errs field.ErrorList, annotations map[string]string, spec *corev1.PodSpec, s *step) field.ErrorList {
	if len(annotations) == 0 {
		return errs
	}
	if v, ok := annotations[mirrorPodAnnotation]; ok && len(spec.NodeName) == 0 {
		errs = append(errs, field.Invalid(s.path().Key(mirrorPodAnnotation), v, "must set spec.nodeName if mirror pod annotation is set"))
	}
	if v := annotations[tolerationsAnnotation]; v != "" {
		var tolerations []corev1.Toleration
		if err := json.Unmarshal([]byte(v), &tolerations); err != nil {
			errs = append(errs, field.Invalid(s.path(), tolerationsAnnotation, err.Error()))
		} else if len(tolerations) > 0 {
			ts := s.child(tolerationsAnnotation)
			errs = validateTolerations(errs, tolerations, &ts)
		}
	}
	if v, ok := annotations[podDeletionCost]; ok && !validDeletionCost(v) {
		errs = append(errs, field.Invalid(s.path().Key(podDeletionCost), v, "must be a 32bit integer"))
	}
	var buf [16]string
	for _, k := range sortedKeys(annotations, buf[:0]) {
		v := annotations[k]
		switch {
		case k == seccompPodAnnotation || strings.HasPrefix(k, seccompContainerPrefix):
			ks := s.child(k)
			errs = validateSeccompAnnotation(errs, v, &ks)
		case strings.HasPrefix(k, appArmorContainerPrefix):
			name := strings.TrimPrefix(k, appArmorContainerPrefix)
			found := false
			visitContainers(spec, func(c *corev1.Container, _ string, _ int) { found = found || c.Name == name })
			if !found {
				errs = append(errs, field.Invalid(s.path().Key(k), name, "container not found"))
			}
			if v != "" && v != appArmorRuntimeDefault && v != appArmorUnconfined && !strings.HasPrefix(v, appArmorLocalhostPrefix) {
				errs = append(errs, field.Invalid(s.path().Key(k), v, fmt.Sprintf("invalid AppArmor profile name: %q", v)))
			}
		}
	}
	return errs
}

// validDeletionCost: a 32-bit integer without a plus sign or leading zeros.
func validDeletionCost(v string) bool {
	if len(v) == 0 || !(v[0] == '-' || v == "0" || v[0] >= '1' && v[0] <= '9') {
		return false
	}
	_, err := strconv.ParseInt(v, 10, 32)
	return err == nil
}

func validateSeccompAnnotation(errs field.ErrorList, p string, s *step) field.ErrorList {
	switch {
	case p == seccompRuntimeDefault || p == seccompDockerDefault || p == seccompUnconfined:
		return errs
	case strings.HasPrefix(p, seccompLocalhostPrefix):
		return validateLocalDescendingPath(errs, strings.TrimPrefix(p, seccompLocalhostPrefix), s)
	}
	return append(errs, field.Invalid(s.path(), p, "must be a valid seccomp profile"))
}

func validatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	errs := validatePodMetadataAndSpec(nil, pod)
	as := root("metadata.annotations")
	errs = validatePodAnnotationUpdates(errs, pod, old, &as)
	sp := root("spec")

	cs := sp.child("containers")
	errs, stop := validateContainerUpdates(errs, pod.Spec.Containers, old.Spec.Containers, &cs)
	if stop {
		return errs
	}
	ics := sp.child("initContainers")
	errs, stop = validateContainerUpdates(errs, pod.Spec.InitContainers, old.Spec.InitContainers, &ics)
	if stop {
		return errs
	}

	// activeDeadlineSeconds may be set, or lowered.
	ads := sp.child("activeDeadlineSeconds")
	if pod.Spec.ActiveDeadlineSeconds != nil {
		v := *pod.Spec.ActiveDeadlineSeconds
		if v < 0 || v > math.MaxInt32 {
			return append(errs, field.Invalid(ads.path(), v, validation.InclusiveRangeError(0, math.MaxInt32)))
		}
		if old.Spec.ActiveDeadlineSeconds != nil && *old.Spec.ActiveDeadlineSeconds < v {
			return append(errs, field.Invalid(ads.path(), v, "must be less than or equal to previous value"))
		}
	} else if old.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(ads.path(), pod.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
	}

	ts := sp.child("tolerations")
	errs = validateOnlyAddedTolerations(errs, pod.Spec.Tolerations, old.Spec.Tolerations, &ts)
	gs := sp.child("schedulingGates")
	errs = validateOnlyDeletedSchedulingGates(errs, pod.Spec.SchedulingGates, old.Spec.SchedulingGates, &gs)

	// Put the old values of the fields that may change in a copy of the
	// new spec: whatever still differs may not change. The copy is shallow
	// and shares what it does not replace.
	spec := pod.Spec
	munged := &spec
	munged.Containers = withImages(pod.Spec.Containers, old.Spec.Containers)
	munged.InitContainers = withImages(pod.Spec.InitContainers, old.Spec.InitContainers)
	munged.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	munged.SchedulingGates = old.Spec.SchedulingGates
	munged.Tolerations = old.Spec.Tolerations
	if g := old.Spec.TerminationGracePeriodSeconds; g != nil && *g < 0 && munged.TerminationGracePeriodSeconds != nil && *munged.TerminationGracePeriodSeconds == 1 {
		munged.TerminationGracePeriodSeconds = g
	}
	// Pods still waiting on scheduling gates may have their node selector
	// narrowed.
	if len(old.Spec.SchedulingGates) > 0 && !semanticEqual(munged.NodeSelector, old.Spec.NodeSelector) {
		for k, v := range old.Spec.NodeSelector {
			if nv, ok := munged.NodeSelector[k]; !ok || nv != v {
				errs = append(errs, field.Invalid(sp.path("nodeSelector"), munged.NodeSelector, "only additions to spec.nodeSelector are allowed (no mutations or deletions)"))
				break
			}
		}
		munged.NodeSelector = old.Spec.NodeSelector
	}
	if !semanticEqual(munged, &old.Spec) {
		errs = append(errs, field.Forbidden(sp.path(), updatablePodSpecFieldMsg+"\n"+cmp.Diff(old.Spec, *munged)))
	}
	return errs
}

func validatePodAnnotationUpdates(errs field.ErrorList, pod, old *corev1.Pod, s *step) field.ErrorList {
	var buf [16]string
	for _, k := range sortedKeys(old.Annotations, buf[:0]) {
		if nv, ok := pod.Annotations[k]; ok && nv == old.Annotations[k] {
			continue
		}
		if strings.HasPrefix(k, appArmorContainerPrefix) {
			errs = append(errs, field.Forbidden(s.path().Key(k), "may not remove or update AppArmor annotations"))
		}
		if k == mirrorPodAnnotation {
			errs = append(errs, field.Forbidden(s.path().Key(k), "may not remove or update mirror pod annotation"))
		}
	}
	for _, k := range sortedKeys(pod.Annotations, buf[:0]) {
		if _, ok := old.Annotations[k]; ok {
			continue
		}
		if strings.HasPrefix(k, appArmorContainerPrefix) {
			errs = append(errs, field.Forbidden(s.path().Key(k), "may not add AppArmor annotations"))
		}
		if k == mirrorPodAnnotation {
			errs = append(errs, field.Forbidden(s.path().Key(k), "may not add mirror pod annotation"))
		}
	}
	return validatePodSpecificAnnotations(errs, pod.Annotations, &pod.Spec, s)
}

// withImages returns a copy of containers with the images of old.
func withImages(containers, old []corev1.Container) []corev1.Container {
	if containers == nil {
		return nil
	}
	out := append([]corev1.Container(nil), containers...)
	for i := range out {
		out[i].Image = old[i].Image
	}
	return out
}

func validateContainerUpdates(errs field.ErrorList, containers, old []corev1.Container, s *step) (field.ErrorList, bool) {
	if len(containers) != len(old) {
		return append(errs, field.Forbidden(s.path(), "pod updates may not add or remove containers")), true
	}
	for i := range containers {
		img := containers[i].Image
		if len(img) == 0 {
			errs = append(errs, field.Required(s.path().Index(i).Child("image"), ""))
		}
		if len(strings.TrimSpace(img)) != len(img) {
			errs = append(errs, field.Invalid(s.path().Index(i).Child("image"), img, "must not have leading or trailing whitespace"))
		}
	}
	return errs, false
}

// validateOnlyAddedTolerations lets a pod gain tolerations, and change how
// long existing ones tolerate, but not lose or change them.
func validateOnlyAddedTolerations(errs field.ErrorList, tolerations, old []corev1.Toleration, s *step) field.ErrorList {
	for _, o := range old {
		found := false
		for _, n := range tolerations {
			if o.Key == n.Key && o.Operator == n.Operator && o.Value == n.Value && o.Effect == n.Effect {
				found = true
				break
			}
		}
		if !found {
			return append(errs, field.Forbidden(s.path(), "existing toleration can not be modified except its tolerationSeconds"))
		}
	}
	return validateTolerations(errs, tolerations, s)
}

func validateOnlyDeletedSchedulingGates(errs field.ErrorList, gates, old []corev1.PodSchedulingGate, s *step) field.ErrorList {
	for i, g := range gates {
		found := false
		for _, o := range old {
			found = found || o.Name == g.Name
		}
		if !found {
			errs = append(errs, field.Forbidden(s.path().Index(i).Child("name"), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return errs
}

// validatePodStatusUpdate is upstream's check of writes to pods/status.
func validatePodStatusUpdate(pod, old *corev1.Pod) field.ErrorList {
	ms := root("metadata")
	as := ms.child("annotations")
	errs := validatePodAnnotationUpdates(nil, pod, old, &as)
	// Upstream reports conditions under metadata.
	cs := ms.child("conditions")
	for i, c := range pod.Status.Conditions {
		switch c.Type {
		case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized:
			continue
		}
		ci := cs.index(i)
		ct := ci.child("Type")
		errs = validateQualifiedName(errs, string(c.Type), &ct)
	}
	ss := root("status")
	if pod.Spec.NodeName != old.Spec.NodeName {
		errs = append(errs, field.Forbidden(ss.path("nodeName"), "may not be changed directly"))
	}
	if n := pod.Status.NominatedNodeName; n != old.Status.NominatedNodeName && len(n) > 0 {
		ns := ss.child("nominatedNodeName")
		errs = validateName(errs, n, nameIsDNSSubdomain, &ns)
	}
	qs := ss.child("qosClass")
	errs = validateImmutable(errs, pod.Status.QOSClass, old.Status.QOSClass, &qs)
	css := ss.child("containerStatuses")
	errs = validateContainerStateTransition(errs, pod.Status.ContainerStatuses, old.Status.ContainerStatuses, old.Spec.RestartPolicy, nil, &css)
	ics := ss.child("initContainerStatuses")
	errs = validateContainerStateTransition(errs, pod.Status.InitContainerStatuses, old.Status.InitContainerStatuses, old.Spec.RestartPolicy, old.Spec.InitContainers, &ics)
	ecs := ss.child("ephemeralContainerStatuses")
	errs = validateContainerStateTransition(errs, pod.Status.EphemeralContainerStatuses, old.Status.EphemeralContainerStatuses, corev1.RestartPolicyNever, nil, &ecs)
	errs = validatePodIPs(errs, pod)
	return validateHostIPs(errs, pod)
}

// validateContainerStateTransition keeps containers that may not restart
// from leaving the terminated state. inits are the pod's init containers,
// whose restartable (sidecar) members may restart.
func validateContainerStateTransition(errs field.ErrorList, statuses, old []corev1.ContainerStatus, policy corev1.RestartPolicy, inits []corev1.Container, s *step) field.ErrorList {
	if policy == corev1.RestartPolicyAlways || policy == "" {
		return errs
	}
	for i, o := range old {
		if o.State.Terminated == nil {
			continue
		}
		if o.State.Terminated.ExitCode != 0 && policy == corev1.RestartPolicyOnFailure {
			continue
		}
		sidecar := false
		for _, c := range inits {
			if c.Name == o.Name {
				sidecar = c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
				break
			}
		}
		if sidecar {
			continue
		}
		for _, n := range statuses {
			if n.Name == o.Name && n.State.Terminated == nil {
				errs = append(errs, field.Forbidden(s.path().Index(i).Child("state"), "may not be transitioned to non-terminated state"))
			}
		}
	}
	return errs
}

func validatePodIPs(errs field.ErrorList, pod *corev1.Pod) field.ErrorList {
	ips := pod.Status.PodIPs
	ps := root("status.podIPs")
	for i, ip := range ips {
		errs = append(errs, validation.IsValidIPForLegacyField(ps.path().Index(i), ip.IP, true, nil)...)
	}
	if len(ips) > 1 {
		if len(ips) > 2 || !dualStack(ips[0].IP, ips[1].IP) {
			errs = append(errs, field.Invalid(ps.path(), ips, "may specify no more than one IP for each IP family"))
		}
		for i := range ips {
			for j := 0; j < i; j++ {
				if ips[j].IP == ips[i].IP {
					errs = append(errs, field.Duplicate(ps.path().Index(i), ips[i]))
					break
				}
			}
		}
	}
	return errs
}

func validateHostIPs(errs field.ErrorList, pod *corev1.Pod) field.ErrorList {
	ips := pod.Status.HostIPs
	if len(ips) == 0 {
		return errs
	}
	hs := root("status.hostIPs")
	if pod.Status.HostIP != ips[0].IP {
		errs = append(errs, field.Invalid(hs.path().Index(0).Child("ip"), ips[0].IP, "must be equal to `hostIP`"))
	}
	for i, ip := range ips {
		errs = append(errs, validation.IsValidIPForLegacyField(hs.path().Index(i), ip.IP, true, nil)...)
	}
	if len(ips) > 1 {
		for i := range ips {
			for j := 0; j < i; j++ {
				if ips[j].IP == ips[i].IP {
					errs = append(errs, field.Duplicate(hs.path().Index(i), ips[i]))
					break
				}
			}
		}
		if len(ips) > 2 || !dualStack(ips[0].IP, ips[1].IP) {
			errs = append(errs, field.Invalid(hs.path(), ips, "may specify no more than one IP for each IP family"))
		}
	}
	return errs
}

// validateBinding checks a binding of a pod to a node.
func validateBinding(b *corev1.Binding) field.ErrorList {
	var errs field.ErrorList
	ts := root("target")
	if len(b.Target.Kind) != 0 && b.Target.Kind != "Node" {
		errs = append(errs, field.NotSupported(ts.path("kind"), b.Target.Kind, []string{"Node", "<empty>"}))
	}
	if len(b.Target.Name) == 0 {
		errs = append(errs, field.Required(ts.path("name"), ""))
	}
	return errs
}
