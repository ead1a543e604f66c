package printers

import (
	"strconv"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	rbacv1beta1 "k8s.io/api/rbac/v1beta1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

func (c Convertors) leases() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Holder", typeString, coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]),
		ageColumn,
	}, infallible(func(l *coordinationv1.Lease) []any {
		holder := ""
		if l.Spec.HolderIdentity != nil {
			holder = *l.Spec.HolderIdentity
		}
		return []any{holder, c.age(l.CreationTimestamp)}
	}))
}

func (c Convertors) endpointSlices() *registry.TableConvertor {
	doc := discoveryv1beta1.EndpointSlice{}.SwaggerDoc()
	return convertor([]metav1.TableColumnDefinition{
		column("AddressType", typeString, doc["addressType"]),
		column("Ports", typeString, doc["ports"]),
		column("Endpoints", typeString, doc["endpoints"]),
		ageColumn,
	}, infallible(func(s *discoveryv1.EndpointSlice) []any {
		return []any{
			string(s.AddressType),
			slicePorts(s.Ports),
			sliceAddresses(s.Endpoints),
			c.age(s.CreationTimestamp),
		}
	}))
}

// slicePorts lists up to three port numbers (the name for a port without a
// number, "*" for neither), or "<unset>".
func slicePorts(ports []discoveryv1.EndpointPort) string {
	const max = 3
	var list []string
	for _, p := range ports {
		if len(list) == max {
			break
		}
		switch {
		case p.Port != nil:
			list = append(list, strconv.Itoa(int(*p.Port)))
		case p.Name != nil:
			list = append(list, *p.Name)
		default:
			list = append(list, "*")
		}
	}
	return listWithMore(list, len(ports), max)
}

// sliceAddresses lists up to three endpoint addresses, or "<unset>".
func sliceAddresses(endpoints []discoveryv1.Endpoint) string {
	const max = 3
	var list []string
	count := 0
	for _, e := range endpoints {
		for _, a := range e.Addresses {
			if len(list) < max {
				list = append(list, a)
			}
			count++
		}
	}
	return listWithMore(list, count, max)
}

func (c Convertors) roleBindings() *registry.TableConvertor {
	return convertor(bindingColumns(rbacv1beta1.RoleBinding{}.SwaggerDoc()["roleRef"], "roleBinding"),
		infallible(func(b *rbacv1.RoleBinding) []any {
			return c.bindingCells(b.RoleRef, b.Subjects, b.CreationTimestamp)
		}))
}

func (c Convertors) clusterRoleBindings() *registry.TableConvertor {
	return convertor(bindingColumns(rbacv1beta1.ClusterRoleBinding{}.SwaggerDoc()["roleRef"], "clusterRoleBinding"),
		infallible(func(b *rbacv1.ClusterRoleBinding) []any {
			return c.bindingCells(b.RoleRef, b.Subjects, b.CreationTimestamp)
		}))
}

func bindingColumns(roleDoc, kind string) []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		column("Role", typeString, roleDoc),
		ageColumn,
		wideColumn("Users", typeString, "Users in the "+kind),
		wideColumn("Groups", typeString, "Groups in the "+kind),
		wideColumn("ServiceAccounts", typeString, "ServiceAccounts in the "+kind),
	}
}

// bindingCells: the role as "Kind/name", then the subjects by kind, service
// accounts as "namespace/name".
func (c Convertors) bindingCells(role rbacv1.RoleRef, subjects []rbacv1.Subject, created metav1.Time) []any {
	var users, groups, serviceAccounts []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			serviceAccounts = append(serviceAccounts, s.Namespace+"/"+s.Name)
		}
	}
	return []any{
		role.Kind + "/" + role.Name,
		c.age(created),
		strings.Join(users, ", "),
		strings.Join(groups, ", "),
		strings.Join(serviceAccounts, ", "),
	}
}

func (c Convertors) podDisruptionBudgets() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Min Available", typeString, "The minimum number of pods that must be available."),
		column("Max Unavailable", typeString, "The maximum number of pods that may be unavailable."),
		column("Allowed Disruptions", typeInteger, "Calculated number of pods that may be disrupted at this time."),
		ageColumn,
	}, infallible(func(pdb *policyv1.PodDisruptionBudget) []any {
		minAvailable, maxUnavailable := "N/A", "N/A"
		if pdb.Spec.MinAvailable != nil {
			minAvailable = pdb.Spec.MinAvailable.String()
		}
		if pdb.Spec.MaxUnavailable != nil {
			maxUnavailable = pdb.Spec.MaxUnavailable.String()
		}
		return []any{minAvailable, maxUnavailable, int64(pdb.Status.DisruptionsAllowed), c.age(pdb.CreationTimestamp)}
	}))
}

func (c Convertors) priorityClasses() *registry.TableConvertor {
	doc := schedulingv1.PriorityClass{}.SwaggerDoc()
	return convertor([]metav1.TableColumnDefinition{
		column("Value", typeInteger, doc["value"]),
		column("Global-Default", typeBoolean, doc["globalDefault"]),
		ageColumn,
		column("PreemptionPolicy", typeString, doc["preemptionPolicy"]),
	}, infallible(func(pc *schedulingv1.PriorityClass) []any {
		policy := ""
		if pc.PreemptionPolicy != nil {
			policy = string(*pc.PreemptionPolicy)
		}
		return []any{int64(pc.Value), pc.GlobalDefault, c.age(pc.CreationTimestamp), policy}
	}))
}

// storageClasses: upstream marks the default class in the NAME cell
// ("standard (default)"), so this table carries its own Name column.
func (c Convertors) storageClasses() *registry.TableConvertor {
	doc := storagev1.StorageClass{}.SwaggerDoc()
	return convertor([]metav1.TableColumnDefinition{
		nameColumn,
		column("Provisioner", typeString, doc["provisioner"]),
		column("ReclaimPolicy", typeString, doc["reclaimPolicy"]),
		column("VolumeBindingMode", typeString, doc["volumeBindingMode"]),
		column("AllowVolumeExpansion", typeString, doc["allowVolumeExpansion"]),
		ageColumn,
	}, infallible(func(sc *storagev1.StorageClass) []any {
		reclaim := string(corev1.PersistentVolumeReclaimDelete)
		if sc.ReclaimPolicy != nil {
			reclaim = string(*sc.ReclaimPolicy)
		}
		binding := string(storagev1.VolumeBindingImmediate)
		if sc.VolumeBindingMode != nil {
			binding = string(*sc.VolumeBindingMode)
		}
		expand := sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
		name := sc.Name
		if isDefaultStorageClass(sc) {
			name += " (default)"
		}
		return []any{name, sc.Provisioner, reclaim, binding, expand, c.age(sc.CreationTimestamp)}
	}))
}

// isDefaultStorageClass is upstream's: the GA or the beta annotation says
// "true".
func isDefaultStorageClass(sc *storagev1.StorageClass) bool {
	return sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" ||
		sc.Annotations["storageclass.beta.kubernetes.io/is-default-class"] == "true"
}
