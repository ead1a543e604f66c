package printers

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

// Node role labels: node-role.kubernetes.io/<role> (kubeadm's, valued "")
// and the older kubernetes.io/role=<role>.
const (
	nodeRoleLabelPrefix = "node-role.kubernetes.io/"
	legacyNodeRoleLabel = "kubernetes.io/role"
)

func (c Convertors) nodes() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Status", typeString, "The status of the node"),
		column("Roles", typeString, "The roles of the node"),
		ageColumn,
		column("Version", typeString, corev1.NodeSystemInfo{}.SwaggerDoc()["kubeletVersion"]),
		wideColumn("Internal-IP", typeString, corev1.NodeStatus{}.SwaggerDoc()["addresses"]),
		wideColumn("External-IP", typeString, corev1.NodeStatus{}.SwaggerDoc()["addresses"]),
		wideColumn("OS-Image", typeString, corev1.NodeSystemInfo{}.SwaggerDoc()["osImage"]),
		wideColumn("Kernel-Version", typeString, corev1.NodeSystemInfo{}.SwaggerDoc()["kernelVersion"]),
		wideColumn("Container-Runtime", typeString, corev1.NodeSystemInfo{}.SwaggerDoc()["containerRuntimeVersion"]),
	}, infallible(func(node *corev1.Node) []any {
		info := node.Status.NodeInfo
		orUnknown := func(s string) string {
			if s == "" {
				return "<unknown>"
			}
			return s
		}
		return []any{
			nodeStatus(node),
			orNone(strings.Join(nodeRoles(node), ",")),
			c.age(node.CreationTimestamp),
			info.KubeletVersion,
			nodeAddress(node, corev1.NodeInternalIP),
			nodeAddress(node, corev1.NodeExternalIP),
			orUnknown(info.OSImage),
			orUnknown(info.KernelVersion),
			orUnknown(info.ContainerRuntimeVersion),
		}
	}))
}

// nodeStatus is "Ready", "NotReady" or "Unknown" (no Ready condition), with
// ",SchedulingDisabled" for a cordoned node.
func nodeStatus(node *corev1.Node) string {
	status := "Unknown"
	// The last Ready condition wins, as upstream's map of conditions does.
	for _, cond := range node.Status.Conditions {
		if cond.Type != corev1.NodeReady {
			continue
		}
		status = "Not" + string(corev1.NodeReady)
		if cond.Status == corev1.ConditionTrue {
			status = string(corev1.NodeReady)
		}
	}
	if node.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

// nodeRoles are the roles a node's labels give it, sorted.
func nodeRoles(node *corev1.Node) []string {
	roles := sets.New[string]()
	for k, v := range node.Labels {
		switch {
		case strings.HasPrefix(k, nodeRoleLabelPrefix):
			if role := strings.TrimPrefix(k, nodeRoleLabelPrefix); role != "" {
				roles.Insert(role)
			}
		case k == legacyNodeRoleLabel && v != "":
			roles.Insert(v)
		}
	}
	return sets.List(roles)
}

// nodeAddress is the node's first address of a type, or "<none>".
func nodeAddress(node *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range node.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

func (c Convertors) services() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Type", typeString, corev1.ServiceSpec{}.SwaggerDoc()["type"]),
		column("Cluster-IP", typeString, corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"]),
		column("External-IP", typeString, corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"]),
		column("Port(s)", typeString, corev1.ServiceSpec{}.SwaggerDoc()["ports"]),
		ageColumn,
		wideColumn("Selector", typeString, corev1.ServiceSpec{}.SwaggerDoc()["selector"]),
	}, infallible(func(svc *corev1.Service) []any {
		return []any{
			string(svc.Spec.Type),
			orNone(clusterIP(svc)),
			serviceExternalIP(svc),
			orNone(servicePorts(svc.Spec.Ports)),
			c.age(svc.CreationTimestamp),
			labels.FormatLabels(svc.Spec.Selector),
		}
	}))
}

// clusterIP is the service's primary cluster IP ("None" when headless).
// When clusterIP and clusterIPs disagree, clusterIP wins, as in upstream's
// conversion from v1.
func clusterIP(svc *corev1.Service) string {
	if svc.Spec.ClusterIP != "" {
		return svc.Spec.ClusterIP
	}
	if len(svc.Spec.ClusterIPs) > 0 {
		return svc.Spec.ClusterIPs[0]
	}
	return ""
}

// serviceExternalIP is the EXTERNAL-IP cell: the external IPs, a load
// balancer's addresses ("<pending>" until it has one), or the external
// name. The server renders wide tables, so the load balancer's list is not
// clipped.
func serviceExternalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		return orNone(strings.Join(svc.Spec.ExternalIPs, ","))
	case corev1.ServiceTypeLoadBalancer:
		ips := sets.New[string]()
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				ips.Insert(in.IP)
			} else if in.Hostname != "" {
				ips.Insert(in.Hostname)
			}
		}
		all := append(sets.List(ips), svc.Spec.ExternalIPs...)
		if len(all) == 0 {
			return "<pending>"
		}
		return strings.Join(all, ",")
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

// servicePorts renders ports as "80/TCP", or "80:30080/TCP" with a node port.
func servicePorts(ports []corev1.ServicePort) string {
	pieces := make([]string, len(ports))
	for i, p := range ports {
		if p.NodePort > 0 {
			pieces[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			pieces[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return strings.Join(pieces, ",")
}

func (c Convertors) endpoints() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Endpoints", typeString, corev1.Endpoints{}.SwaggerDoc()["subsets"]),
		ageColumn,
	}, infallible(func(ep *corev1.Endpoints) []any {
		return []any{formatEndpoints(ep), c.age(ep.CreationTimestamp)}
	}))
}

// formatEndpoints lists up to three address:port pairs ("10.244.0.5:80,...
// + 2 more..."), bare addresses for subsets without ports, or "<none>".
func formatEndpoints(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return "<none>"
	}
	const max = 3
	var list []string
	count := 0
	add := func(s string) {
		if len(list) < max {
			list = append(list, s)
		}
	}
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			// Headless services may have no ports.
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	joined := strings.Join(list, ",")
	if count > max {
		return fmt.Sprintf("%s + %d more...", joined, count-max)
	}
	return joined
}

func (c Convertors) namespaces() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Status", typeString, "The status of the namespace"),
		ageColumn,
	}, infallible(func(ns *corev1.Namespace) []any {
		return []any{string(ns.Status.Phase), c.age(ns.CreationTimestamp)}
	}))
}

func (c Convertors) configMaps() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Data", typeString, corev1.ConfigMap{}.SwaggerDoc()["data"]),
		ageColumn,
	}, infallible(func(cm *corev1.ConfigMap) []any {
		return []any{int64(len(cm.Data) + len(cm.BinaryData)), c.age(cm.CreationTimestamp)}
	}))
}

func (c Convertors) secrets() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Type", typeString, corev1.Secret{}.SwaggerDoc()["type"]),
		column("Data", typeString, corev1.Secret{}.SwaggerDoc()["data"]),
		ageColumn,
	}, infallible(func(s *corev1.Secret) []any {
		return []any{string(s.Type), int64(len(s.Data)), c.age(s.CreationTimestamp)}
	}))
}

func (c Convertors) serviceAccounts() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Secrets", typeString, corev1.ServiceAccount{}.SwaggerDoc()["secrets"]),
		ageColumn,
	}, infallible(func(sa *corev1.ServiceAccount) []any {
		return []any{int64(len(sa.Secrets)), c.age(sa.CreationTimestamp)}
	}))
}

func (c Convertors) replicationControllers() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Desired", typeInteger, corev1.ReplicationControllerSpec{}.SwaggerDoc()["replicas"]),
		column("Current", typeInteger, corev1.ReplicationControllerStatus{}.SwaggerDoc()["replicas"]),
		column("Ready", typeInteger, corev1.ReplicationControllerStatus{}.SwaggerDoc()["readyReplicas"]),
		ageColumn,
		containersColumn,
		imagesColumn,
		wideColumn("Selector", typeString, corev1.ReplicationControllerSpec{}.SwaggerDoc()["selector"]),
	}, infallible(func(rc *corev1.ReplicationController) []any {
		var containers []corev1.Container
		if rc.Spec.Template != nil {
			containers = rc.Spec.Template.Spec.Containers
		}
		names, images := containerCells(containers)
		return []any{
			replicas(rc.Spec.Replicas),
			int64(rc.Status.Replicas),
			int64(rc.Status.ReadyReplicas),
			c.age(rc.CreationTimestamp),
			names, images,
			labels.FormatLabels(rc.Spec.Selector),
		}
	}))
}

func (c Convertors) resourceQuotas() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Request", typeString, "Request represents a minimum amount of cpu/memory that a container may consume."),
		column("Limit", typeString, "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
		ageColumn,
	}, infallible(func(q *corev1.ResourceQuota) []any {
		request, limit := quotaUsage(q)
		return []any{request, limit, c.age(q.CreationTimestamp)}
	}))
}

// quotaUsage renders "used/hard" for each resource of a quota, sorted by
// name: limits.* in the LIMIT cell, everything else in REQUEST.
func quotaUsage(q *corev1.ResourceQuota) (request, limit string) {
	names := make([]string, 0, len(q.Status.Hard))
	for name := range q.Status.Hard {
		names = append(names, string(name))
	}
	sort.Strings(names)
	var requests, limits []string
	for _, name := range names {
		used := q.Status.Used[corev1.ResourceName(name)]
		hard := q.Status.Hard[corev1.ResourceName(name)]
		entry := fmt.Sprintf("%s: %s/%s", name, used.String(), hard.String())
		if pieces := strings.Split(name, "."); len(pieces) > 1 && pieces[0] == "limits" {
			limits = append(limits, entry)
		} else {
			requests = append(requests, entry)
		}
	}
	return strings.Join(requests, ", "), strings.Join(limits, ", ")
}

// betaStorageClassAnnotation names a volume's or claim's class before
// storageClassName existed; upstream still prefers it.
const betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

func (c Convertors) persistentVolumes() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Capacity", typeString, corev1.PersistentVolumeSpec{}.SwaggerDoc()["capacity"]),
		column("Access Modes", typeString, corev1.PersistentVolumeSpec{}.SwaggerDoc()["accessModes"]),
		column("Reclaim Policy", typeString, corev1.PersistentVolumeSpec{}.SwaggerDoc()["persistentVolumeReclaimPolicy"]),
		column("Status", typeString, corev1.PersistentVolumeStatus{}.SwaggerDoc()["phase"]),
		column("Claim", typeString, corev1.PersistentVolumeSpec{}.SwaggerDoc()["claimRef"]),
		column("StorageClass", typeString, "StorageClass of the pv"),
		column("VolumeAttributesClass", typeString, "VolumeAttributesClass of the pv"),
		column("Reason", typeString, corev1.PersistentVolumeStatus{}.SwaggerDoc()["reason"]),
		ageColumn,
		wideColumn("VolumeMode", typeString, corev1.PersistentVolumeSpec{}.SwaggerDoc()["volumeMode"]),
	}, infallible(func(pv *corev1.PersistentVolume) []any {
		claim := ""
		if ref := pv.Spec.ClaimRef; ref != nil {
			claim = ref.Namespace + "/" + ref.Name
		}
		phase := string(pv.Status.Phase)
		if pv.DeletionTimestamp != nil {
			phase = "Terminating"
		}
		class, ok := pv.Annotations[betaStorageClassAnnotation]
		if !ok {
			class = pv.Spec.StorageClassName
		}
		size := pv.Spec.Capacity[corev1.ResourceStorage]
		return []any{
			size.String(),
			accessModes(pv.Spec.AccessModes),
			string(pv.Spec.PersistentVolumeReclaimPolicy),
			phase,
			claim,
			class,
			stringOrUnset(pv.Spec.VolumeAttributesClassName),
			pv.Status.Reason,
			c.age(pv.CreationTimestamp),
			volumeMode(pv.Spec.VolumeMode),
		}
	}))
}

func (c Convertors) persistentVolumeClaims() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Status", typeString, corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["phase"]),
		column("Volume", typeString, corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeName"]),
		column("Capacity", typeString, corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["capacity"]),
		column("Access Modes", typeString, corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["accessModes"]),
		column("StorageClass", typeString, "StorageClass of the pvc"),
		column("VolumeAttributesClass", typeString, "VolumeAttributesClass of the pvc"),
		ageColumn,
		wideColumn("VolumeMode", typeString, corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeMode"]),
	}, infallible(func(pvc *corev1.PersistentVolumeClaim) []any {
		phase := string(pvc.Status.Phase)
		if pvc.DeletionTimestamp != nil {
			phase = "Terminating"
		}
		// Capacity and access modes are the bound volume's: none before
		// binding.
		capacity, modes := "", ""
		if pvc.Spec.VolumeName != "" {
			size := pvc.Status.Capacity[corev1.ResourceStorage]
			capacity, modes = size.String(), accessModes(pvc.Status.AccessModes)
		}
		class, ok := pvc.Annotations[betaStorageClassAnnotation]
		if !ok && pvc.Spec.StorageClassName != nil {
			class = *pvc.Spec.StorageClassName
		}
		return []any{
			phase,
			pvc.Spec.VolumeName,
			capacity,
			modes,
			class,
			stringOrUnset(pvc.Spec.VolumeAttributesClassName),
			c.age(pvc.CreationTimestamp),
			volumeMode(pvc.Spec.VolumeMode),
		}
	}))
}

// accessModes abbreviates access modes, always in the order RWO, ROX, RWX,
// RWOP, each once.
func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	has := sets.New(modes...)
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{
		{corev1.ReadWriteOnce, "RWO"},
		{corev1.ReadOnlyMany, "ROX"},
		{corev1.ReadWriteMany, "RWX"},
		{corev1.ReadWriteOncePod, "RWOP"},
	} {
		if has.Has(m.mode) {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

func volumeMode(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}

func stringOrUnset(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}
