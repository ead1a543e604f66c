package nodestatus

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// Event reasons on the Node, as upstream's kubelet names them
// (pkg/kubelet/events).
const (
	eventStarting                = "Starting"
	eventNodeReady               = "NodeReady"
	eventNodeNotReady            = "NodeNotReady"
	eventNodeRebooted            = "NodeRebooted"
	eventNodeHasSufficientMemory = "NodeHasSufficientMemory"
	eventNodeHasNoDiskPressure   = "NodeHasNoDiskPressure"
	eventNodeHasSufficientPID    = "NodeHasSufficientPID"
)

// betaLabelOS and betaLabelArch are the deprecated labels upstream's kubelet
// still sets (kubeletapis.LabelOS and LabelArch).
const (
	betaLabelOS   = "beta.kubernetes.io/os"
	betaLabelArch = "beta.kubernetes.io/arch"
)

// controllerManagedAttachAnnotation tells the attach/detach controller that
// it, not the kubelet, attaches this node's volumes; upstream's kubelet sets
// it at registration by default.
const controllerManagedAttachAnnotation = "volumes.kubernetes.io/controller-managed-attach-detach"

// eventFunc records an event on the Node.
type eventFunc func(eventType, reason, message string)

// statusInputs is everything the node's status is computed from at one
// moment.
type statusInputs struct {
	now            time.Time
	nodeName       string
	hostname       string
	internalIP     string
	machine        MachineInfo
	maxPods        int
	reservation    Reservation
	runtimeVersion string
	kubeletVersion string
	kubeletPort    int32
	// readyErr is why the node is not ready; nil when it is.
	readyErr error
}

// setNodeStatus brings node's status up to date, in upstream's order of
// setters, which is also the order of the conditions kubectl prints.
func setNodeStatus(node *corev1.Node, in statusInputs, record eventFunc) {
	setAddresses(node, in.internalIP, in.hostname)
	setMachineInfo(node, in, record)
	setVersionInfo(node, in)
	node.Status.DaemonEndpoints = corev1.NodeDaemonEndpoints{
		KubeletEndpoint: corev1.DaemonEndpoint{Port: in.kubeletPort},
	}
	for _, p := range pressureConditions {
		setPressureCondition(node, p, in.now, record)
	}
	setReadyCondition(node, in.now, readyErrors(node, in.readyErr), record)
}

func setAddresses(node *corev1.Node, internalIP, hostname string) {
	var addrs []corev1.NodeAddress
	if internalIP != "" {
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: internalIP})
	}
	node.Status.Addresses = append(addrs, corev1.NodeAddress{Type: corev1.NodeHostName, Address: hostname})
}

// setMachineInfo sets capacity, allocatable and the machine's identity.
// Capacity is updated in place so that resources others advertise (extended
// resources patched onto the status) survive.
func setMachineInfo(node *corev1.Node, in statusInputs, record eventFunc) {
	m := in.machine
	if node.Status.Capacity == nil {
		node.Status.Capacity = corev1.ResourceList{}
	}
	capacity := node.Status.Capacity
	capacity[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(m.NumCPU)*1000, resource.DecimalSI)
	capacity[corev1.ResourceMemory] = *resource.NewQuantity(m.MemoryBytes, resource.BinarySI)
	capacity[corev1.ResourcePods] = *resource.NewQuantity(int64(in.maxPods), resource.DecimalSI)
	capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(m.EphemeralStorageBytes, resource.BinarySI)
	for size, count := range m.HugePages {
		capacity[hugePageResourceName(size)] = *resource.NewQuantity(size*count, resource.BinarySI)
	}

	node.Status.NodeInfo.MachineID = m.MachineID
	node.Status.NodeInfo.SystemUUID = m.SystemUUID
	if old := node.Status.NodeInfo.BootID; old != "" && old != m.BootID {
		record(corev1.EventTypeWarning, eventNodeRebooted,
			fmt.Sprintf("Node %s has been rebooted, boot id: %s", in.nodeName, m.BootID))
	}
	node.Status.NodeInfo.BootID = m.BootID
	swap := m.SwapBytes
	node.Status.NodeInfo.Swap = &corev1.NodeSwapStatus{Capacity: &swap}

	if node.Status.Allocatable == nil {
		node.Status.Allocatable = corev1.ResourceList{}
	}
	allocatable := node.Status.Allocatable
	for name := range allocatable {
		if _, ok := capacity[name]; !ok && isExtendedResourceName(name) {
			delete(allocatable, name)
		}
	}
	reserved := reservedResources(in.reservation, capacity)
	for name, q := range capacity {
		value := q.DeepCopy()
		if r, ok := reserved[name]; ok {
			value.Sub(r)
		}
		if value.Sign() < 0 {
			value.Set(0)
		}
		allocatable[name] = value
	}
	// Memory held as huge pages is not memory pods can ask for.
	for name, q := range capacity {
		if !strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) {
			continue
		}
		mem := allocatable[corev1.ResourceMemory]
		mem.Sub(q)
		if mem.Sign() < 0 {
			mem.Set(0)
		}
		allocatable[corev1.ResourceMemory] = mem
	}
}

// reservedResources is upstream's hard eviction reservation: a fixed amount
// of memory and a fraction of the ephemeral storage.
func reservedResources(r Reservation, capacity corev1.ResourceList) corev1.ResourceList {
	reserved := corev1.ResourceList{}
	if !r.Memory.IsZero() {
		reserved[corev1.ResourceMemory] = r.Memory
	}
	if r.EphemeralStorageFraction > 0 {
		storage := capacity[corev1.ResourceEphemeralStorage]
		reserved[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(
			int64(float64(storage.Value())*r.EphemeralStorageFraction), resource.BinarySI)
	}
	return reserved
}

// hugePageResourceName is "hugepages-" and the page size as a quantity:
// hugepages-2Mi, hugepages-1Gi.
func hugePageResourceName(size int64) corev1.ResourceName {
	return corev1.ResourceName(corev1.ResourceHugePagesPrefix + resource.NewQuantity(size, resource.BinarySI).String())
}

// isExtendedResourceName tells resources named in a domain other than
// kubernetes.io's (example.com/gpu), which device plugins and users
// advertise.
func isExtendedResourceName(name corev1.ResourceName) bool {
	s := string(name)
	return strings.Contains(s, "/") && !strings.Contains(s, "kubernetes.io/") &&
		!strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix)
}

func setVersionInfo(node *corev1.Node, in statusInputs) {
	info := &node.Status.NodeInfo
	info.KernelVersion = in.machine.KernelVersion
	info.OSImage = in.machine.OSImage
	if in.runtimeVersion != "" {
		info.ContainerRuntimeVersion = in.runtimeVersion
	}
	info.KubeletVersion = in.kubeletVersion
	// Upstream stopped reporting it (DisableNodeKubeProxyVersion, on by
	// default since 1.33) and clears a value left by an older kubelet.
	info.KubeProxyVersion = ""
	info.OperatingSystem = runtime.GOOS
	info.Architecture = in.machine.Architecture
	if info.Architecture == "" {
		info.Architecture = runtime.GOARCH
	}
}

// pressureCondition is one of the eviction conditions. There is no eviction
// manager here, so they always report no pressure, with upstream's words.
type pressureCondition struct {
	conditionType corev1.NodeConditionType
	reason        string
	message       string
	event         string
}

var pressureConditions = []pressureCondition{
	{corev1.NodeMemoryPressure, "KubeletHasSufficientMemory", "kubelet has sufficient memory available", eventNodeHasSufficientMemory},
	{corev1.NodeDiskPressure, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", eventNodeHasNoDiskPressure},
	{corev1.NodePIDPressure, "KubeletHasSufficientPID", "kubelet has sufficient PID available", eventNodeHasSufficientPID},
}

func setPressureCondition(node *corev1.Node, p pressureCondition, now time.Time, record eventFunc) {
	t := metav1.NewTime(now)
	i := slices.IndexFunc(node.Status.Conditions, func(c corev1.NodeCondition) bool { return c.Type == p.conditionType })
	if i < 0 {
		node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{
			Type:   p.conditionType,
			Status: corev1.ConditionUnknown,
		})
		i = len(node.Status.Conditions) - 1
	}
	c := &node.Status.Conditions[i]
	c.LastHeartbeatTime = t
	if c.Status != corev1.ConditionFalse {
		c.Status = corev1.ConditionFalse
		c.Reason = p.reason
		c.Message = p.message
		c.LastTransitionTime = t
		record(corev1.EventTypeNormal, p.event, nodeStatusEventMessage(node.Name, p.event))
	}
}

// readyErrors adds to the runtime's errors the capacity a Ready node must
// report, as upstream's ReadyCondition setter does.
func readyErrors(node *corev1.Node, runtimeErr error) error {
	var missing []string
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage} {
		if _, ok := node.Status.Capacity[name]; !ok {
			missing = append(missing, string(name))
		}
	}
	errs := []error{runtimeErr}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("missing node capacity for resources: %s", strings.Join(missing, ", ")))
	}
	return utilerrors.NewAggregate(errs)
}

// setReadyCondition sets Ready, moving lastTransitionTime and recording
// NodeReady or NodeNotReady only when the status flips.
func setReadyCondition(node *corev1.Node, now time.Time, notReady error, record eventFunc) {
	t := metav1.NewTime(now)
	ready := corev1.NodeCondition{
		Type:              corev1.NodeReady,
		Status:            corev1.ConditionTrue,
		Reason:            "KubeletReady",
		Message:           "kubelet is posting ready status",
		LastHeartbeatTime: t,
	}
	if notReady != nil {
		ready.Status = corev1.ConditionFalse
		ready.Reason = "KubeletNotReady"
		ready.Message = notReady.Error()
	}
	i := slices.IndexFunc(node.Status.Conditions, func(c corev1.NodeCondition) bool { return c.Type == corev1.NodeReady })
	if i < 0 {
		ready.LastTransitionTime = t
		node.Status.Conditions = append(node.Status.Conditions, ready)
		return
	}
	old := node.Status.Conditions[i]
	if old.Status == ready.Status {
		ready.LastTransitionTime = old.LastTransitionTime
	} else {
		ready.LastTransitionTime = t
		event := eventNodeNotReady
		if ready.Status == corev1.ConditionTrue {
			event = eventNodeReady
		}
		record(corev1.EventTypeNormal, event, nodeStatusEventMessage(node.Name, event))
	}
	node.Status.Conditions[i] = ready
}

// nodeStatusEventMessage is upstream's recordNodeStatusEvent wording.
func nodeStatusEventMessage(nodeName, event string) string {
	return fmt.Sprintf("Node %s status is now: %s", nodeName, event)
}
