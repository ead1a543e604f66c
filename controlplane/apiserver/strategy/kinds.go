package strategy

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kindish/kindish/controlplane/apiserver/registry/podresources"
)

// hooks are a resource's lifecycle rules beyond the generic ones.
type hooks struct {
	prepareForCreate func(obj runtime.Object)
	prepareForUpdate func(obj, old runtime.Object)
	gracePeriod      func(obj runtime.Object, requested *int64) (int64, bool)
	deletionHeld     func(obj runtime.Object) bool
	prepareForDelete func(obj runtime.Object)
}

var kindHooks = map[schema.GroupVersionResource]hooks{
	// As upstream: annotations count as the deployment's spec (they once
	// carried rollbacks), so changing them bumps the generation.
	appsv1.SchemeGroupVersion.WithResource("deployments"): {
		prepareForUpdate: func(obj, old runtime.Object) {
			d, o := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
			// A status write (its status differs) records revisions in
			// annotations without being a new generation.
			statusWrite := !apiequality.Semantic.DeepEqual(d.Status, o.Status)
			if !statusWrite && !apiequality.Semantic.DeepEqual(d.Annotations, o.Annotations) && d.Generation == o.Generation {
				d.Generation = o.Generation + 1
			}
		},
	},
	// As upstream, a DaemonSet counts its template's changes in the
	// annotation its pods' pod-template-generation label comes from.
	appsv1.SchemeGroupVersion.WithResource("daemonsets"): {
		prepareForCreate: func(obj runtime.Object) {
			setTemplateGeneration(obj.(*appsv1.DaemonSet), 1)
		},
		prepareForUpdate: func(obj, old runtime.Object) {
			ds, o := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
			gen := templateGeneration(o)
			if !apiequality.Semantic.DeepEqual(ds.Spec.Template, o.Spec.Template) {
				gen++
			}
			setTemplateGeneration(ds, gen)
		},
	},
	// EndpointSlices have no spec: any change but metadata's, or of the
	// labels, is a new generation, as upstream.
	discoveryv1.SchemeGroupVersion.WithResource("endpointslices"): {
		prepareForUpdate: func(obj, old runtime.Object) {
			n, o := obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice)
			nc, oc := *n, *o
			nc.ObjectMeta, oc.ObjectMeta = metav1.ObjectMeta{}, metav1.ObjectMeta{}
			nc.TypeMeta, oc.TypeMeta = metav1.TypeMeta{}, metav1.TypeMeta{}
			if !apiequality.Semantic.DeepEqual(nc, oc) || !apiequality.Semantic.DeepEqual(n.Labels, o.Labels) {
				n.Generation = o.Generation + 1
			}
		},
	},
	batchv1.SchemeGroupVersion.WithResource("jobs"): {
		prepareForCreate: func(obj runtime.Object) { generateJobSelector(obj.(*batchv1.Job)) },
	},
	corev1.SchemeGroupVersion.WithResource("services"): {
		prepareForUpdate: func(obj, old runtime.Object) { keepAllocations(obj.(*corev1.Service), old.(*corev1.Service)) },
	},
	corev1.SchemeGroupVersion.WithResource("pods"): {
		prepareForCreate: func(obj runtime.Object) {
			pod := obj.(*corev1.Pod)
			pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: podresources.QOSClass(&pod.Spec)}
		},
		gracePeriod: podGracePeriod,
	},
	corev1.SchemeGroupVersion.WithResource("namespaces"): {
		prepareForCreate: func(obj runtime.Object) {
			ns := obj.(*corev1.Namespace)
			ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
			// The namespace controller removes this once the namespace
			// is empty; only then does the namespace go.
			ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
		},
		// As upstream, a deleted namespace stays, Terminating, until its
		// spec.finalizers are gone (namespaces/finalize).
		deletionHeld: func(obj runtime.Object) bool {
			return len(obj.(*corev1.Namespace).Spec.Finalizers) > 0
		},
		prepareForDelete: func(obj runtime.Object) {
			obj.(*corev1.Namespace).Status.Phase = corev1.NamespaceTerminating
		},
	},
}

// templateGenerationAnnotation is where upstream's apps/v1 DaemonSet keeps
// its internal templateGeneration.
const templateGenerationAnnotation = "deprecated.daemonset.template.generation"

func templateGeneration(ds *appsv1.DaemonSet) int64 {
	gen, err := strconv.ParseInt(ds.Annotations[templateGenerationAnnotation], 10, 64)
	if err != nil || gen < 1 {
		return 1
	}
	return gen
}

func setTemplateGeneration(ds *appsv1.DaemonSet, gen int64) {
	if ds.Annotations == nil {
		ds.Annotations = map[string]string{}
	}
	ds.Annotations[templateGenerationAnnotation] = strconv.FormatInt(gen, 10)
}

// generateJobSelector gives a Job upstream's generated selector: its UID,
// as a label of its pod template too, unless the user chose the selector
// (spec.manualSelector).
func generateJobSelector(job *batchv1.Job) {
	if job.Spec.ManualSelector != nil && *job.Spec.ManualSelector {
		return
	}
	uid := string(job.UID)
	labels := job.Spec.Template.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	labels[batchv1.ControllerUidLabel] = uid
	labels[batchv1.JobNameLabel] = job.Name
	// The legacy names, which upstream still sets for older selectors.
	labels["controller-uid"] = uid
	labels["job-name"] = job.Name
	job.Spec.Template.Labels = labels
	if job.Spec.Selector == nil {
		job.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: uid}}
	}
}

// keepAllocations carries a service's allocated ClusterIPs and NodePorts
// over an update that leaves them out (kubectl apply, a PUT of a file), as
// upstream does before validation.
func keepAllocations(svc, old *corev1.Service) {
	if svc.Spec.ClusterIP == "" && len(svc.Spec.ClusterIPs) == 0 && svc.Spec.Type != corev1.ServiceTypeExternalName {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = old.Spec.ClusterIP, old.Spec.ClusterIPs
	}
	if svc.Spec.IPFamilyPolicy == nil {
		svc.Spec.IPFamilyPolicy = old.Spec.IPFamilyPolicy
	}
	if len(svc.Spec.IPFamilies) == 0 {
		svc.Spec.IPFamilies = old.Spec.IPFamilies
	}
	if svc.Spec.Type != corev1.ServiceTypeNodePort && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.NodePort != 0 {
			continue
		}
		for _, o := range old.Spec.Ports {
			if o.Port == p.Port && o.Protocol == p.Protocol {
				p.NodePort = o.NodePort
			}
		}
	}
}

// podGracePeriod is upstream's: a pod never scheduled, or a deletion asking
// for 0 seconds, goes at once; otherwise the kubelet gets the requested
// period, else the pod's own (30 s by default), to stop the containers.
func podGracePeriod(obj runtime.Object, requested *int64) (int64, bool) {
	pod := obj.(*corev1.Pod)
	if pod.Spec.NodeName == "" {
		return 0, false
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, false
	}
	seconds := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		seconds = *pod.Spec.TerminationGracePeriodSeconds
	}
	if requested != nil {
		seconds = *requested
	}
	if seconds <= 0 {
		return 0, false
	}
	return seconds, true
}
