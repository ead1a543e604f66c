package admission

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kindish/kindish/controlplane/apiserver/rest"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

// System priority classes, as upstream creates them at startup.
const (
	SystemNodeCritical    = "system-node-critical"
	SystemClusterCritical = "system-cluster-critical"
)

// SystemPriorityClasses are upstream's built-in classes.
func SystemPriorityClasses() []schedulingv1.PriorityClass {
	policy := corev1.PreemptLowerPriority
	mk := func(name string, value int32, desc string) schedulingv1.PriorityClass {
		pc := schedulingv1.PriorityClass{Value: value, Description: desc, PreemptionPolicy: &policy}
		pc.Name = name
		return pc
	}
	return []schedulingv1.PriorityClass{
		mk(SystemNodeCritical, 2000001000, "Used for system critical pods that must not be moved from their current node."),
		mk(SystemClusterCritical, 2000000000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
	}
}

// Priority resolves a new pod's priorityClassName into its priority and
// preemption policy, as upstream's Priority plugin: the named class, else
// the class marked globalDefault, else priority 0.
type Priority struct {
	// Store holds the PriorityClasses.
	Store storage.Interface
}

func (Priority) Name() string { return "Priority" }

func (p Priority) Admit(ctx context.Context, a rest.AdmissionAttributes) error {
	pod, ok := a.Object.(*corev1.Pod)
	if !ok || a.Operation != "CREATE" {
		return nil
	}
	var class *schedulingv1.PriorityClass
	if name := pod.Spec.PriorityClassName; name != "" {
		pc := &schedulingv1.PriorityClass{}
		err := p.Store.Get(ctx, "/registry/scheduling.k8s.io/priorityclasses/"+name, storage.GetOptions{}, pc)
		if storage.IsNotFound(err) {
			return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, pod.Name, fmt.Errorf("no PriorityClass with name %s was found", name))
		}
		if err != nil {
			return err
		}
		class = pc
	} else {
		list := &schedulingv1.PriorityClassList{}
		if err := p.Store.GetList(ctx, "/registry/scheduling.k8s.io/priorityclasses/", storage.ListOptions{}, list); err != nil {
			return err
		}
		for i := range list.Items {
			if list.Items[i].GlobalDefault {
				class = &list.Items[i]
				pod.Spec.PriorityClassName = class.Name
				break
			}
		}
	}
	priority := int32(0)
	policy := corev1.PreemptLowerPriority
	if class != nil {
		priority = class.Value
		if class.PreemptionPolicy != nil {
			policy = *class.PreemptionPolicy
		}
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != priority {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, pod.Name, fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *pod.Spec.Priority, priority))
	}
	pod.Spec.Priority = &priority
	if pod.Spec.PreemptionPolicy == nil {
		pod.Spec.PreemptionPolicy = &policy
	}
	return nil
}
