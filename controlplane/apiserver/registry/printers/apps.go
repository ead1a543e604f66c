package printers

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

func (c Convertors) deployments() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Ready", typeString, "Number of the pod with ready state"),
		column("Up-to-date", typeString, extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]),
		column("Available", typeString, extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]),
		ageColumn,
		containersColumn,
		imagesColumn,
		wideColumn("Selector", typeString, extensionsv1beta1.DeploymentSpec{}.SwaggerDoc()["selector"]),
	}, infallible(func(d *appsv1.Deployment) []any {
		selector := "<invalid>"
		if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
			selector = s.String()
		}
		names, images := containerCells(d.Spec.Template.Spec.Containers)
		return []any{
			fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicas(d.Spec.Replicas)),
			int64(d.Status.UpdatedReplicas),
			int64(d.Status.AvailableReplicas),
			c.age(d.CreationTimestamp),
			names, images, selector,
		}
	}))
}

func (c Convertors) replicaSets() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Desired", typeInteger, extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]),
		column("Current", typeInteger, extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]),
		column("Ready", typeInteger, extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]),
		ageColumn,
		containersColumn,
		imagesColumn,
		wideColumn("Selector", typeString, extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()["selector"]),
	}, infallible(func(rs *appsv1.ReplicaSet) []any {
		names, images := containerCells(rs.Spec.Template.Spec.Containers)
		return []any{
			replicas(rs.Spec.Replicas),
			int64(rs.Status.Replicas),
			int64(rs.Status.ReadyReplicas),
			c.age(rs.CreationTimestamp),
			names, images,
			metav1.FormatLabelSelector(rs.Spec.Selector),
		}
	}))
}

func (c Convertors) statefulSets() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Ready", typeString, "Number of the pod with ready state"),
		ageColumn,
		containersColumn,
		imagesColumn,
	}, infallible(func(s *appsv1.StatefulSet) []any {
		names, images := containerCells(s.Spec.Template.Spec.Containers)
		return []any{
			fmt.Sprintf("%d/%d", s.Status.ReadyReplicas, replicas(s.Spec.Replicas)),
			c.age(s.CreationTimestamp),
			names, images,
		}
	}))
}

func (c Convertors) daemonSets() *registry.TableConvertor {
	status := extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()
	return convertor([]metav1.TableColumnDefinition{
		column("Desired", typeInteger, status["desiredNumberScheduled"]),
		column("Current", typeInteger, status["currentNumberScheduled"]),
		column("Ready", typeInteger, status["numberReady"]),
		column("Up-to-date", typeInteger, status["updatedNumberScheduled"]),
		column("Available", typeInteger, status["numberAvailable"]),
		column("Node Selector", typeString, corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
		ageColumn,
		containersColumn,
		imagesColumn,
		wideColumn("Selector", typeString, extensionsv1beta1.DaemonSetSpec{}.SwaggerDoc()["selector"]),
	}, infallible(func(ds *appsv1.DaemonSet) []any {
		names, images := containerCells(ds.Spec.Template.Spec.Containers)
		return []any{
			int64(ds.Status.DesiredNumberScheduled),
			int64(ds.Status.CurrentNumberScheduled),
			int64(ds.Status.NumberReady),
			int64(ds.Status.UpdatedNumberScheduled),
			int64(ds.Status.NumberAvailable),
			labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
			c.age(ds.CreationTimestamp),
			names, images,
			metav1.FormatLabelSelector(ds.Spec.Selector),
		}
	}))
}

func (c Convertors) controllerRevisions() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Controller", typeString, "Controller of the object"),
		column("Revision", typeString, appsv1.ControllerRevision{}.SwaggerDoc()["revision"]),
		ageColumn,
	}, func(cr *appsv1.ControllerRevision) ([]any, error) {
		controller := "<none>"
		if ref := metav1.GetControllerOf(cr); ref != nil {
			gv, err := schema.ParseGroupVersion(ref.APIVersion)
			if err != nil {
				return nil, fmt.Errorf("controller of %s: %w", cr.Name, err)
			}
			controller = kindName(gv.WithKind(ref.Kind).GroupKind(), ref.Name)
		}
		return []any{controller, cr.Revision, c.age(cr.CreationTimestamp)}, nil
	})
}

// kindName is "statefulset.apps/web": the lower-cased group kind and the
// name, or the name alone when there is no kind.
func kindName(gk schema.GroupKind, name string) string {
	if gk.Empty() {
		return name
	}
	return strings.ToLower(gk.String()) + "/" + name
}
