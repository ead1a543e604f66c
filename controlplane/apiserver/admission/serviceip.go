package admission

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kindish/kindish/controlplane/apiserver/rest"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

// Keys of the allocation records. Each allocated ClusterIP is an
// networking.k8s.io/v1 IPAddress, as upstream keeps them since 1.33; each
// NodePort a small record. Creating a record is the allocation: etcd
// refuses a second one, so two services never share an address.
const (
	ipAddressPrefix = "/registry/networking.k8s.io/ipaddresses/"
	nodePortPrefix  = "/registry/ranges/nodeports/"
)

// ServiceIPs allocates ClusterIPs from the service CIDR and NodePorts from
// 30000-32767 for new services, and keeps user-chosen ones unique.
type ServiceIPs struct {
	Store    storage.Interface
	CIDR     netip.Prefix
	PortBase int // 30000
	PortSize int // 2768
	// ServiceExists reports whether a service with that UID still exists,
	// so that records left by deleted services are reclaimed.
	ServiceExists func(ctx context.Context, namespace, name string, uid string) (bool, error)
}

func (ServiceIPs) Name() string { return "ServiceIPAllocation" }

func (p ServiceIPs) Admit(ctx context.Context, a rest.AdmissionAttributes) error {
	svc, ok := a.Object.(*corev1.Service)
	if !ok || a.DryRun || (a.Operation != "CREATE" && a.Operation != "UPDATE") {
		return nil
	}
	var old *corev1.Service
	if a.Old != nil {
		old, _ = a.Old.(*corev1.Service)
	}
	var errs field.ErrorList
	if svc.Spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, p.allocateClusterIP(ctx, svc, old)...)
	}
	if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		errs = append(errs, p.allocateNodePorts(ctx, svc)...)
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, svc.Name, errs)
	}
	return nil
}

func (p ServiceIPs) allocateClusterIP(ctx context.Context, svc, old *corev1.Service) field.ErrorList {
	path := field.NewPath("spec", "clusterIPs")
	if old != nil && old.Spec.ClusterIP != "" {
		// Kept as it is; validation refuses a change.
		return nil
	}
	ip := svc.Spec.ClusterIP
	if ip == corev1.ClusterIPNone {
		svc.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
		p.setFamilies(svc)
		return nil
	}
	if ip != "" {
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			return field.ErrorList{field.Invalid(path, []string{ip}, "must be a valid IP address")}
		}
		if !p.CIDR.Contains(addr) {
			return field.ErrorList{field.Invalid(path, []string{ip}, fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, ip, p.CIDR))}
		}
		if ok, err := p.claim(ctx, ipAddressPrefix+ip, svc, ipRecord(ip, svc)); err != nil {
			return field.ErrorList{field.InternalError(path, err)}
		} else if !ok {
			return field.ErrorList{field.Invalid(path, []string{ip}, fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", ip))}
		}
	} else {
		addr, err := p.allocateFrom(ctx, svc)
		if err != nil {
			return field.ErrorList{field.InternalError(path, err)}
		}
		ip = addr.String()
	}
	svc.Spec.ClusterIP, svc.Spec.ClusterIPs = ip, []string{ip}
	p.setFamilies(svc)
	return nil
}

func (p ServiceIPs) setFamilies(svc *corev1.Service) {
	single := corev1.IPFamilyPolicySingleStack
	if svc.Spec.IPFamilyPolicy == nil {
		svc.Spec.IPFamilyPolicy = &single
	}
	if len(svc.Spec.IPFamilies) == 0 {
		svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	}
}

// allocateFrom picks a free address: a random start, then the next free one,
// skipping the network address and the first address, which belongs to the
// kubernetes service.
func (p ServiceIPs) allocateFrom(ctx context.Context, svc *corev1.Service) (netip.Addr, error) {
	size := rangeSize(p.CIDR)
	if size <= 3 {
		return netip.Addr{}, fmt.Errorf("service CIDR %s is too small", p.CIDR)
	}
	usable := size - 3 // network, .1 (kubernetes), broadcast
	start := rand.Int64N(usable)
	for i := int64(0); i < usable; i++ {
		addr := nthAddr(p.CIDR, 2+(start+i)%usable)
		ok, err := p.claim(ctx, ipAddressPrefix+addr.String(), svc, ipRecord(addr.String(), svc))
		if err != nil {
			return netip.Addr{}, err
		}
		if ok {
			return addr, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("range is full: no free address in %s", p.CIDR)
}

func (p ServiceIPs) allocateNodePorts(ctx context.Context, svc *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	for i := range svc.Spec.Ports {
		port := &svc.Spec.Ports[i]
		path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		if port.NodePort != 0 {
			if int(port.NodePort) < p.PortBase || int(port.NodePort) >= p.PortBase+p.PortSize {
				errs = append(errs, field.Invalid(path, port.NodePort, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", p.PortBase, p.PortBase+p.PortSize-1)))
				continue
			}
			ok, err := p.claim(ctx, nodePortPrefix+strconv.Itoa(int(port.NodePort)), svc, portRecord(port.NodePort, svc))
			if err != nil {
				errs = append(errs, field.InternalError(path, err))
			} else if !ok && !p.ownedBy(ctx, nodePortPrefix+strconv.Itoa(int(port.NodePort)), svc) {
				errs = append(errs, field.Invalid(path, port.NodePort, "provided port is already allocated"))
			}
			continue
		}
		start := rand.IntN(p.PortSize)
		for j := 0; j < p.PortSize; j++ {
			candidate := int32(p.PortBase + (start+j)%p.PortSize)
			ok, err := p.claim(ctx, nodePortPrefix+strconv.Itoa(int(candidate)), svc, portRecord(candidate, svc))
			if err != nil {
				errs = append(errs, field.InternalError(path, err))
				break
			}
			if ok {
				port.NodePort = candidate
				break
			}
		}
		if port.NodePort == 0 && len(errs) == 0 {
			errs = append(errs, field.InternalError(path, fmt.Errorf("range is full: no free node port")))
		}
	}
	return errs
}

// claim creates the record at key. It reports false when another live
// service holds it; a record whose service is gone is taken over.
func (p ServiceIPs) claim(ctx context.Context, key string, svc *corev1.Service, record *networkingv1.IPAddress) (bool, error) {
	for attempt := 0; attempt < 2; attempt++ {
		err := p.Store.Create(ctx, key, record, &networkingv1.IPAddress{})
		if err == nil {
			return true, nil
		}
		if !storage.IsExist(err) {
			return false, err
		}
		existing := &networkingv1.IPAddress{}
		if err := p.Store.Get(ctx, key, storage.GetOptions{IgnoreNotFound: true}, existing); err != nil {
			return false, err
		}
		ref := existing.Spec.ParentRef
		if ref == nil || existing.Name == "" {
			continue // deleted meanwhile: try again
		}
		alive, err := p.ServiceExists(ctx, ref.Namespace, ref.Name, existing.Labels[ownerUIDLabel])
		if err != nil {
			return false, err
		}
		if alive {
			return false, nil
		}
		rv := existing.ResourceVersion
		if err := p.Store.Delete(ctx, key, &networkingv1.IPAddress{}, &storage.Preconditions{ResourceVersion: &rv}, nil); err != nil && !storage.IsNotFound(err) && !storage.IsConflict(err) {
			return false, err
		}
	}
	return false, nil
}

// ownedBy reports that the record at key already belongs to svc (an update
// keeping its port).
func (p ServiceIPs) ownedBy(ctx context.Context, key string, svc *corev1.Service) bool {
	existing := &networkingv1.IPAddress{}
	if err := p.Store.Get(ctx, key, storage.GetOptions{}, existing); err != nil {
		return false
	}
	ref := existing.Spec.ParentRef
	return ref != nil && ref.Namespace == svc.Namespace && ref.Name == svc.Name && existing.Labels[ownerUIDLabel] == string(svc.UID)
}

const ownerUIDLabel = "kindish.dev/service-uid"

func ipRecord(name string, svc *corev1.Service) *networkingv1.IPAddress {
	return &networkingv1.IPAddress{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "IPAddress"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: map[string]string{ownerUIDLabel: string(svc.UID), networkingv1.LabelManagedBy: "ipallocator.k8s.io"},
		},
		Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Resource: "services", Namespace: svc.Namespace, Name: svc.Name}},
	}
}

func portRecord(port int32, svc *corev1.Service) *networkingv1.IPAddress {
	return ipRecord(strconv.Itoa(int(port)), svc)
}

func rangeSize(p netip.Prefix) int64 {
	bits := p.Addr().BitLen() - p.Bits()
	if bits >= 62 {
		return 1 << 62
	}
	return 1 << bits
}

func nthAddr(p netip.Prefix, n int64) netip.Addr {
	base := new(big.Int).SetBytes(p.Masked().Addr().AsSlice())
	base.Add(base, big.NewInt(n))
	b := base.FillBytes(make([]byte, len(p.Addr().AsSlice())))
	addr, _ := netip.AddrFromSlice(b)
	return addr
}
