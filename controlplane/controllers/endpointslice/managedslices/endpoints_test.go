package managedslices

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
)

func TestPortsKeyIgnoresOrderAndDefaults(t *testing.T) {
	a := []discoveryv1.EndpointPort{
		{Name: ptr.To("http"), Port: ptr.To[int32](80), Protocol: ptr.To(corev1.ProtocolTCP)},
		{Name: ptr.To("dns"), Port: ptr.To[int32](53), Protocol: ptr.To(corev1.ProtocolUDP)},
	}
	b := []discoveryv1.EndpointPort{
		{Name: ptr.To("dns"), Port: ptr.To[int32](53), Protocol: ptr.To(corev1.ProtocolUDP)},
		{Name: ptr.To("http"), Port: ptr.To[int32](80)},
	}
	if PortsKey(a) != PortsKey(b) {
		t.Errorf("keys differ: %q and %q", PortsKey(a), PortsKey(b))
	}
	b[1].Port = ptr.To[int32](81)
	if PortsKey(a) == PortsKey(b) {
		t.Error("different port numbers give the same key")
	}
	if PortsKey(nil) != PortsKey([]discoveryv1.EndpointPort{}) {
		t.Error("nil and empty ports differ")
	}
}

func TestEndpointSet(t *testing.T) {
	ep := func(ip, pod string, ready bool) *discoveryv1.Endpoint {
		return &discoveryv1.Endpoint{
			Addresses:  []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: pod, ResourceVersion: "1"},
		}
	}
	set := EndpointSet{}
	set.Insert(ep("10.0.0.2", "b", true))
	set.Insert(ep("10.0.0.1", "a", true))
	set.Insert(ep("10.0.0.3", "c", true))

	// The same pod and address, in another state, is the same endpoint.
	changed := ep("10.0.0.1", "a", false)
	changed.TargetRef.ResourceVersion = "2"
	got := set.Get(changed)
	if got == nil {
		t.Fatal("an endpoint whose conditions changed is not found")
	}
	if EndpointsEqualBeyondKey(got, changed) {
		t.Error("endpoints of different readiness compare equal")
	}
	changed.Conditions.Ready = ptr.To(true)
	if !EndpointsEqualBeyondKey(got, changed) {
		t.Error("endpoints differing only in the pod's resourceVersion compare unequal")
	}
	if set.Get(ep("10.0.0.9", "a", true)) != nil {
		t.Error("an endpoint with another address is found")
	}

	if taken := set.Take(0); len(taken) != 0 {
		t.Errorf("Take(0) took %d", len(taken))
	}
	if taken := set.Take(-3); len(taken) != 0 {
		t.Errorf("Take(-3) took %d", len(taken))
	}
	taken := set.Take(2)
	if len(taken) != 2 || taken[0].TargetRef.Name != "a" || taken[1].TargetRef.Name != "b" || len(set) != 1 {
		t.Errorf("Take(2) took %d, leaving %d; want a and b in order, leaving c", len(taken), len(set))
	}
	set.Remove(ep("10.0.0.3", "c", false))
	if len(set) != 0 {
		t.Errorf("%d left after removing the last", len(set))
	}
}
