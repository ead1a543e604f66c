package rules

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/kindish/kindish/nodeagent/kubeproxy/servicemap"
)

// TestRenderClusterIPWithThreeEndpoints pins a whole batch: the top-level
// chains of both tables, the rejects closing the service range, the
// masquerade machinery, one ClusterIP service balanced over three
// endpoints with upstream's probabilities, hairpin masquerade in each
// endpoint chain, and the NodePort jump last.
func TestRenderClusterIPWithThreeEndpoints(t *testing.T) {
	snap := snapshotOf([]*corev1.Service{svc("web", "10.96.0.20", nil)},
		endpoints("web", httpPorts(), ready("10.244.1.5"), ready("10.244.2.6"), ready("10.244.1.7")))
	want := `*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A KUBE-SERVICES -m comment --comment "reject traffic to unallocated ClusterIPs and invalid ports of ClusterIPs" -p tcp -d 10.96.0.0/16 -j REJECT --reject-with tcp-reset
-A KUBE-SERVICES -m comment --comment "reject traffic to unallocated ClusterIPs and invalid ports of ClusterIPs" -d 10.96.0.0/16 -j REJECT --reject-with icmp-port-unreachable
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-CDGGSHYLG3RE2FKL - [0:0]
:KUBE-SEP-AFGSLHOD2HFNCBX4 - [0:0]
:KUBE-SEP-A4JCWMD6AMIS43DD - [0:0]
:KUBE-SEP-3OLK2YUW6LHBC4UX - [0:0]
-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.20 --dport 80 -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.20 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.1.5:8080" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-AFGSLHOD2HFNCBX4
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.1.7:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-A4JCWMD6AMIS43DD
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.2.6:8080" -j KUBE-SEP-3OLK2YUW6LHBC4UX
-A KUBE-SEP-AFGSLHOD2HFNCBX4 -m comment --comment default/web:http -s 10.244.1.5 -j KUBE-MARK-MASQ
-A KUBE-SEP-AFGSLHOD2HFNCBX4 -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.1.5:8080
-A KUBE-SEP-A4JCWMD6AMIS43DD -m comment --comment default/web:http -s 10.244.1.7 -j KUBE-MARK-MASQ
-A KUBE-SEP-A4JCWMD6AMIS43DD -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.1.7:8080
-A KUBE-SEP-3OLK2YUW6LHBC4UX -m comment --comment default/web:http -s 10.244.2.6 -j KUBE-MARK-MASQ
-A KUBE-SEP-3OLK2YUW6LHBC4UX -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.2.6:8080
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 172.18.0.3 -j KUBE-NODEPORTS
COMMIT
`
	got := Render(testConfig(), snap, nil)
	if diff := cmp.Diff(want, string(got.Data)); diff != "" {
		t.Errorf("batch differs (-want +got):\n%s", diff)
	}
	if got.FilterRules != 5 || got.NATRules != 16 {
		t.Errorf("rule counts filter %d nat %d, want 5 and 16", got.FilterRules, got.NATRules)
	}
}

// serviceCIDRRejects close testConfig's service range, after every
// service's own filter rules.
const serviceCIDRRejects = `-A KUBE-SERVICES -m comment --comment "reject traffic to unallocated ClusterIPs and invalid ports of ClusterIPs" -p tcp -d 10.96.0.0/16 -j REJECT --reject-with tcp-reset
-A KUBE-SERVICES -m comment --comment "reject traffic to unallocated ClusterIPs and invalid ports of ClusterIPs" -d 10.96.0.0/16 -j REJECT --reject-with icmp-port-unreachable
`

// batch is a whole restore batch for testConfig around the lines that
// depend on the services: filter rules, nat chains and nat rules (each
// newline-terminated, or empty).
func batch(filterRules, natChains, natRules string) string {
	return `*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
` + filterRules + serviceCIDRRejects + `-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
` + natChains + `-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
` + natRules + `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 172.18.0.3 -j KUBE-NODEPORTS
COMMIT
`
}

func nodePort(port int32) func(*corev1.Service) {
	return func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = port
	}
}

func TestRenderGolden(t *testing.T) {
	cases := []struct {
		name string
		snap servicemap.Snapshot
		want string
	}{{
		name: "NodePort: KUBE-NODEPORTS to KUBE-EXT, which masquerades and joins the ClusterIP's chain",
		snap: snapshotOf([]*corev1.Service{svc("web", "10.96.0.20", nodePort(30080))},
			endpoints("web", httpPorts(), ready("10.244.1.5"))),
		want: batch("",
			`:KUBE-EXT-CDGGSHYLG3RE2FKL - [0:0]
:KUBE-SVC-CDGGSHYLG3RE2FKL - [0:0]
:KUBE-SEP-AFGSLHOD2HFNCBX4 - [0:0]
`, `-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.20 --dport 80 -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-NODEPORTS -m comment --comment default/web:http -m tcp -p tcp --dport 30080 -j KUBE-EXT-CDGGSHYLG3RE2FKL
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.20 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-EXT-CDGGSHYLG3RE2FKL -m comment --comment "masquerade traffic for default/web:http external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-CDGGSHYLG3RE2FKL -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.1.5:8080" -j KUBE-SEP-AFGSLHOD2HFNCBX4
-A KUBE-SEP-AFGSLHOD2HFNCBX4 -m comment --comment default/web:http -s 10.244.1.5 -j KUBE-MARK-MASQ
-A KUBE-SEP-AFGSLHOD2HFNCBX4 -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.1.5:8080
`),
	}, {
		name: "session affinity: recent-list checks first, then the balancing, and endpoint chains record the client",
		snap: snapshotOf([]*corev1.Service{svc("web", "10.96.0.20", func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](600)}}
		})}, endpoints("web", httpPorts(), ready("10.244.1.5"), ready("10.244.2.6"))),
		want: batch("",
			`:KUBE-SVC-CDGGSHYLG3RE2FKL - [0:0]
:KUBE-SEP-AFGSLHOD2HFNCBX4 - [0:0]
:KUBE-SEP-3OLK2YUW6LHBC4UX - [0:0]
`, `-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.20 --dport 80 -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.20 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.1.5:8080" -m recent --name KUBE-SEP-AFGSLHOD2HFNCBX4 --rcheck --seconds 600 --reap -j KUBE-SEP-AFGSLHOD2HFNCBX4
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.2.6:8080" -m recent --name KUBE-SEP-3OLK2YUW6LHBC4UX --rcheck --seconds 600 --reap -j KUBE-SEP-3OLK2YUW6LHBC4UX
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.1.5:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-AFGSLHOD2HFNCBX4
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.2.6:8080" -j KUBE-SEP-3OLK2YUW6LHBC4UX
-A KUBE-SEP-AFGSLHOD2HFNCBX4 -m comment --comment default/web:http -s 10.244.1.5 -j KUBE-MARK-MASQ
-A KUBE-SEP-AFGSLHOD2HFNCBX4 -m comment --comment default/web:http -m recent --name KUBE-SEP-AFGSLHOD2HFNCBX4 --set -m tcp -p tcp -j DNAT --to-destination 10.244.1.5:8080
-A KUBE-SEP-3OLK2YUW6LHBC4UX -m comment --comment default/web:http -s 10.244.2.6 -j KUBE-MARK-MASQ
-A KUBE-SEP-3OLK2YUW6LHBC4UX -m comment --comment default/web:http -m recent --name KUBE-SEP-3OLK2YUW6LHBC4UX --set -m tcp -p tcp -j DNAT --to-destination 10.244.2.6:8080
`),
	}, {
		name: "no usable endpoint: REJECT in the filter table for the ClusterIP and the NodePort, nothing in nat",
		snap: snapshotOf([]*corev1.Service{svc("web", "10.96.0.20", nodePort(30080))},
			endpoints("web", httpPorts(), terminating("10.244.1.5", false))),
		want: batch(`-A KUBE-SERVICES -m comment --comment "default/web:http has no endpoints" -m tcp -p tcp -d 10.96.0.20 --dport 80 -j REJECT --reject-with icmp-port-unreachable
-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/web:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j REJECT --reject-with icmp-port-unreachable
`, "", ""),
	}, {
		name: "only terminating endpoints: the serving ones take the traffic, the others none",
		snap: snapshotOf([]*corev1.Service{svc("web", "10.96.0.20", nil)},
			endpoints("web", httpPorts(),
				terminating("10.244.1.5", true),
				terminating("10.244.2.6", false),
				discoveryv1.Endpoint{Addresses: []string{"10.244.2.7"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(false)}})),
		want: batch("",
			`:KUBE-SVC-CDGGSHYLG3RE2FKL - [0:0]
:KUBE-SEP-AFGSLHOD2HFNCBX4 - [0:0]
`, `-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.20 --dport 80 -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.20 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.1.5:8080" -j KUBE-SEP-AFGSLHOD2HFNCBX4
-A KUBE-SEP-AFGSLHOD2HFNCBX4 -m comment --comment default/web:http -s 10.244.1.5 -j KUBE-MARK-MASQ
-A KUBE-SEP-AFGSLHOD2HFNCBX4 -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.1.5:8080
`),
	}, {
		name: "ready endpoints shadow terminating ones",
		snap: snapshotOf([]*corev1.Service{svc("web", "10.96.0.20", nil)},
			endpoints("web", httpPorts(), terminating("10.244.1.5", true), ready("10.244.2.6"))),
		want: batch("",
			`:KUBE-SVC-CDGGSHYLG3RE2FKL - [0:0]
:KUBE-SEP-3OLK2YUW6LHBC4UX - [0:0]
`, `-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.20 --dport 80 -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.20 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.2.6:8080" -j KUBE-SEP-3OLK2YUW6LHBC4UX
-A KUBE-SEP-3OLK2YUW6LHBC4UX -m comment --comment default/web:http -s 10.244.2.6 -j KUBE-MARK-MASQ
-A KUBE-SEP-3OLK2YUW6LHBC4UX -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.2.6:8080
`),
	}, {
		name: "several ports with named target ports: one chain set per port, to the numbers the slice resolved",
		snap: snapshotOf([]*corev1.Service{svc("dns", "10.96.0.10", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("dns-tcp")},
			}
		})}, endpoints("dns", []discoveryv1.EndpointPort{epPort("dns", 5353, corev1.ProtocolUDP), epPort("dns-tcp", 5353, corev1.ProtocolTCP)},
			ready("10.244.0.3"), ready("10.244.1.4"))),
		want: batch("",
			`:KUBE-SVC-2MBSHUE5GJKPO227 - [0:0]
:KUBE-SEP-6EJSEOV2FUOD24XO - [0:0]
:KUBE-SEP-6QGW2X4RCQJQVN55 - [0:0]
:KUBE-SVC-7KFHHFMP66PZ2AOS - [0:0]
:KUBE-SEP-24LR37HA6RPEYLLW - [0:0]
:KUBE-SEP-R5MOCYWDARFVIFIG - [0:0]
`, `-A KUBE-SERVICES -m comment --comment "default/dns:dns cluster IP" -m udp -p udp -d 10.96.0.10 --dport 53 -j KUBE-SVC-2MBSHUE5GJKPO227
-A KUBE-SVC-2MBSHUE5GJKPO227 -m comment --comment "default/dns:dns cluster IP" -m udp -p udp -d 10.96.0.10 --dport 53 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVC-2MBSHUE5GJKPO227 -m comment --comment "default/dns:dns -> 10.244.0.3:5353" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-6EJSEOV2FUOD24XO
-A KUBE-SVC-2MBSHUE5GJKPO227 -m comment --comment "default/dns:dns -> 10.244.1.4:5353" -j KUBE-SEP-6QGW2X4RCQJQVN55
-A KUBE-SEP-6EJSEOV2FUOD24XO -m comment --comment default/dns:dns -s 10.244.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-6EJSEOV2FUOD24XO -m comment --comment default/dns:dns -m udp -p udp -j DNAT --to-destination 10.244.0.3:5353
-A KUBE-SEP-6QGW2X4RCQJQVN55 -m comment --comment default/dns:dns -s 10.244.1.4 -j KUBE-MARK-MASQ
-A KUBE-SEP-6QGW2X4RCQJQVN55 -m comment --comment default/dns:dns -m udp -p udp -j DNAT --to-destination 10.244.1.4:5353
-A KUBE-SERVICES -m comment --comment "default/dns:dns-tcp cluster IP" -m tcp -p tcp -d 10.96.0.10 --dport 53 -j KUBE-SVC-7KFHHFMP66PZ2AOS
-A KUBE-SVC-7KFHHFMP66PZ2AOS -m comment --comment "default/dns:dns-tcp cluster IP" -m tcp -p tcp -d 10.96.0.10 --dport 53 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVC-7KFHHFMP66PZ2AOS -m comment --comment "default/dns:dns-tcp -> 10.244.0.3:5353" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-24LR37HA6RPEYLLW
-A KUBE-SVC-7KFHHFMP66PZ2AOS -m comment --comment "default/dns:dns-tcp -> 10.244.1.4:5353" -j KUBE-SEP-R5MOCYWDARFVIFIG
-A KUBE-SEP-24LR37HA6RPEYLLW -m comment --comment default/dns:dns-tcp -s 10.244.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-24LR37HA6RPEYLLW -m comment --comment default/dns:dns-tcp -m tcp -p tcp -j DNAT --to-destination 10.244.0.3:5353
-A KUBE-SEP-R5MOCYWDARFVIFIG -m comment --comment default/dns:dns-tcp -s 10.244.1.4 -j KUBE-MARK-MASQ
-A KUBE-SEP-R5MOCYWDARFVIFIG -m comment --comment default/dns:dns-tcp -m tcp -p tcp -j DNAT --to-destination 10.244.1.4:5353
`),
	}, {
		name: "headless and ExternalName services get no rules",
		snap: snapshotOf([]*corev1.Service{
			svc("headless", corev1.ClusterIPNone, nil),
			svc("external", "", func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeExternalName
				s.Spec.ExternalName = "example.com"
			}),
		}, endpoints("headless", httpPorts(), ready("10.244.1.5"))),
		want: batch("", "", ""),
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Render(testConfig(), c.snap, nil)
			if diff := cmp.Diff(c.want, string(got.Data)); diff != "" {
				t.Errorf("batch differs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRenderServiceCIDRRejects pins where the service range is closed:
// in the filter table's KUBE-SERVICES (reached from FORWARD and OUTPUT
// for NEW connections, after nat's DNAT), after every service's own
// rules, so a Service without endpoints keeps its own comment and
// allocated ClusterIPs, DNATed by then, never reach it. Without a range
// nothing is added.
func TestRenderServiceCIDRRejects(t *testing.T) {
	snap := snapshotOf([]*corev1.Service{
		svc("web", "10.96.0.20", nil),
		svc("idle", "10.96.0.30", nodePort(30081)),
	}, endpoints("web", httpPorts(), ready("10.244.1.5")))
	noEndpoints := `-A KUBE-SERVICES -m comment --comment "default/idle:http has no endpoints" -m tcp -p tcp -d 10.96.0.30 --dport 80 -j REJECT --reject-with icmp-port-unreachable
-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/idle:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30081 -j REJECT --reject-with icmp-port-unreachable
`
	t.Run("with a service range: last in the filter table's KUBE-SERVICES", func(t *testing.T) {
		got := Render(testConfig(), snap, nil)
		filter, _, _ := strings.Cut(string(got.Data), "COMMIT\n")
		if !strings.Contains(filter, noEndpoints+serviceCIDRRejects+"-A KUBE-FORWARD ") {
			t.Errorf("want the service's REJECTs, then the range's, then KUBE-FORWARD in:\n%s", filter)
		}
		if got.FilterRules != 7 {
			t.Errorf("filter rules = %d, want 7 (2 for the idle service, 2 for the range, 3 forwarding)", got.FilterRules)
		}
		if _, nat, _ := strings.Cut(string(got.Data), "*nat\n"); strings.Contains(nat, "10.96.0.0/16") {
			t.Errorf("the range appears in the nat table:\n%s", nat)
		}
	})
	t.Run("without a service range: nothing", func(t *testing.T) {
		cfg := testConfig()
		cfg.ServiceCIDR = netip.Prefix{}
		got := Render(cfg, snap, nil)
		if data := string(got.Data); strings.Contains(data, "10.96.0.0/16") || strings.Contains(data, "unallocated ClusterIPs") ||
			!strings.Contains(data, noEndpoints+"-A KUBE-FORWARD ") {
			t.Errorf("want no range rule and the rest unchanged in:\n%s", data)
		}
		if got.FilterRules != 5 {
			t.Errorf("filter rules = %d, want 5", got.FilterRules)
		}
	})
	t.Run("the range is written masked, as iptables-save prints it back", func(t *testing.T) {
		cfg := testConfig()
		cfg.ServiceCIDR = netip.MustParsePrefix("10.100.3.4/16")
		if data := string(Render(cfg, snapshotOf(nil), nil).Data); !strings.Contains(data, "-d 10.100.0.0/16 -j REJECT --reject-with icmp-port-unreachable\n") {
			t.Errorf("want the 10.100.0.0/16 range in:\n%s", data)
		}
	})
}

// TestRenderHairpinMasquerade pins the rule that makes a pod reach itself
// through its own service: in the endpoint's chain, traffic whose source
// is the endpoint is marked for masquerade before the DNAT, and
// KUBE-POSTROUTING masquerades what is marked.
func TestRenderHairpinMasquerade(t *testing.T) {
	snap := snapshotOf([]*corev1.Service{svc("web", "10.96.0.20", nil)}, endpoints("web", httpPorts(), ready("10.244.1.5")))
	data := string(Render(testConfig(), snap, nil).Data)
	sep := EndpointChain("default/web:http", "tcp", "10.244.1.5:8080")
	mark := "-A " + sep + " -m comment --comment default/web:http -s 10.244.1.5 -j KUBE-MARK-MASQ\n"
	dnat := "-A " + sep + " -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.1.5:8080\n"
	i, j := strings.Index(data, mark), strings.Index(data, dnat)
	if i < 0 || j < 0 || i > j {
		t.Fatalf("want the hairpin mark before the DNAT in %s:\n%s", sep, data)
	}
	for _, rule := range []string{
		"-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000\n",
		`-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully` + "\n",
	} {
		if !strings.Contains(data, rule) {
			t.Errorf("missing %q", rule)
		}
	}
}

// TestChainNamesMatchUpstream checks the hashes against chain names from
// upstream's own tests (pkg/proxy/iptables/proxier_test.go).
func TestChainNamesMatchUpstream(t *testing.T) {
	cases := []struct{ got, want string }{
		{ServicePortChain("ns1/svc1:p80", "tcp"), "KUBE-SVC-XPGD46QRK7WJZT7O"},
		{ServicePortChain("ns3/svc3:p80", "tcp"), "KUBE-SVC-X27LE4BHSL4DOUIK"},
		{ExternalChain("ns3/svc3:p80", "tcp"), "KUBE-EXT-X27LE4BHSL4DOUIK"},
		{ExternalChain("ns2/svc2:p80", "tcp"), "KUBE-EXT-GNZBNJ2PO5MGZ6GT"},
		{EndpointChain("ns1/svc1:p80", "tcp", "10.180.0.1:80"), "KUBE-SEP-SXIVWICOYRO3J4NJ"},
		{EndpointChain("ns1/svc1:p80", "tcp", "10.180.0.2:80"), "KUBE-SEP-LXVODXWDISEETFEF"},
		{EndpointChain("ns3/svc3:p80", "tcp", "10.180.0.3:80"), "KUBE-SEP-OYPFS5VJICHGATKP"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}

func TestProbability(t *testing.T) {
	for n, want := range map[int]string{2: "0.50000000000", 3: "0.33333333349", 4: "0.25000000000", 5: "0.20000000019", 10: "0.10000000009"} {
		if got := Probability(n); got != want {
			t.Errorf("Probability(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestRenderDeletesOnlyStaleServiceChains(t *testing.T) {
	snap := snapshotOf([]*corev1.Service{svc("web", "10.96.0.20", nil)}, endpoints("web", httpPorts(), ready("10.244.1.5")))
	existing := []string{
		"PREROUTING", "DOCKER_OUTPUT", "KUBE-SERVICES", "KUBE-MARK-MASQ",
		"KUBE-SVC-CDGGSHYLG3RE2FKL", "KUBE-SEP-AFGSLHOD2HFNCBX4", // still in use
		"KUBE-SVC-GONEGONEGONEGONE", "KUBE-SEP-GONEGONEGONEGONE", "KUBE-EXT-GONEGONEGONEGONE", "KUBE-FW-GONEGONEGONEGONE", "KUBE-SVL-GONEGONEGONEGONE",
	}
	got := Render(testConfig(), snap, existing)
	want := []string{"KUBE-EXT-GONEGONEGONEGONE", "KUBE-FW-GONEGONEGONEGONE", "KUBE-SEP-GONEGONEGONEGONE", "KUBE-SVC-GONEGONEGONEGONE", "KUBE-SVL-GONEGONEGONEGONE"}
	if diff := cmp.Diff(want, got.DeletedChains); diff != "" {
		t.Errorf("deleted chains (-want +got):\n%s", diff)
	}
	data := string(got.Data)
	for _, c := range want {
		// Declaring the chain flushes it; only then may it be deleted.
		if !strings.Contains(data, ":"+c+" - [0:0]\n") || !strings.Contains(data, "-X "+c+"\n") {
			t.Errorf("%s is not flushed and deleted", c)
		}
	}
	for _, c := range []string{"DOCKER_OUTPUT", "PREROUTING", "KUBE-SVC-CDGGSHYLG3RE2FKL"} {
		if strings.Contains(data, "-X "+c+"\n") {
			t.Errorf("%s deleted", c)
		}
	}
	if strings.Index(data, "-X ") > strings.Index(data, "kubernetes service nodeports") {
		t.Error("chains are deleted after the NodePort jump; upstream deletes them before")
	}
}

func TestRenderMasqueradeOptions(t *testing.T) {
	snap := snapshotOf([]*corev1.Service{svc("web", "10.96.0.20", nil)}, endpoints("web", httpPorts(), ready("10.244.1.5")))
	const clusterIPMatch = `-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.20 --dport 80`
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string // the masquerade rule, or "" for none
	}{
		{"off-cluster sources only, with a cluster CIDR", func(*Config) {}, clusterIPMatch + " ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ\n"},
		{"everything with masqueradeAll", func(c *Config) { c.MasqueradeAll = true }, clusterIPMatch + " -j KUBE-MARK-MASQ\n"},
		{"nothing without a cluster CIDR", func(c *Config) { c.ClusterCIDR = netip.Prefix{} }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig()
			c.mutate(&cfg)
			data := string(Render(cfg, snap, nil).Data)
			has := strings.Contains(data, clusterIPMatch)
			if c.want == "" && has || c.want != "" && !strings.Contains(data, c.want) {
				t.Errorf("want masquerade rule %q in:\n%s", c.want, data)
			}
		})
	}
}

func TestRenderNodeSettings(t *testing.T) {
	snap := snapshotOf(nil)
	cases := []struct {
		name         string
		mutate       func(*Config)
		want, absent string
	}{{
		name:   "NodePorts on every node address",
		mutate: func(c *Config) { c.NodeIPs = append(c.NodeIPs, netip.MustParseAddr("192.168.10.4")) },
		want: `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 172.18.0.3 -j KUBE-NODEPORTS
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 192.168.10.4 -j KUBE-NODEPORTS
`,
	}, {
		name:   "NodePorts on local addresses but loopback while the node's addresses are unknown",
		mutate: func(c *Config) { c.NodeIPs = nil },
		want:   `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS` + "\n",
	}, {
		name:   "no INVALID drop when conntrack is liberal",
		mutate: func(c *Config) { c.TCPBeLiberal = true },
		absent: "--ctstate INVALID",
	}, {
		name:   "plain MASQUERADE without --random-fully",
		mutate: func(c *Config) { c.RandomFully = false },
		want:   `-j MASQUERADE` + "\n",
	}, {
		name:   "another masquerade bit",
		mutate: func(c *Config) { c.MasqueradeBit = 0 },
		want:   "-A KUBE-MARK-MASQ -j MARK --or-mark 0x00000001\n",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig()
			c.mutate(&cfg)
			data := string(Render(cfg, snap, nil).Data)
			if c.want != "" && !strings.Contains(data, c.want) {
				t.Errorf("want %q in:\n%s", c.want, data)
			}
			if c.absent != "" && strings.Contains(data, c.absent) {
				t.Errorf("want no %q in:\n%s", c.absent, data)
			}
		})
	}
}

func TestRenderLargeClusterDropsEndpointComments(t *testing.T) {
	var eps []discoveryv1.Endpoint
	for i := range largeClusterEndpointsThreshold + 1 {
		eps = append(eps, ready(netip.AddrFrom4([4]byte{10, 244, byte(i / 250), byte(i%250 + 1)}).String()))
	}
	data := string(Render(testConfig(), snapshotOf([]*corev1.Service{svc("web", "10.96.0.20", nil)}, endpoints("web", httpPorts(), eps...)), nil).Data)
	if strings.Contains(data, "-> 10.244.") || strings.Contains(data, "--comment default/web:http -s") {
		t.Error("per-endpoint comments kept past the large-cluster threshold")
	}
	if !strings.Contains(data, `--comment "default/web:http cluster IP"`) {
		t.Error("the service's own comments must stay")
	}
}

func TestRenderJumpsInsertsInOrderAndDeclaresOnlyMissingChains(t *testing.T) {
	jumps := []Jump{
		{TableFilter, "INPUT", ExternalServicesChain, "kubernetes externally-visible service portals", []string{"-m", "conntrack", "--ctstate", "NEW"}},
		{TableFilter, "INPUT", NodePortsChain, "kubernetes health check service ports", nil},
		{TableNAT, "PREROUTING", ServicesChain, "kubernetes service portals", nil},
		{TableFilter, "OUTPUT", KubeletFirewallChain, "", nil},
	}
	// KUBE-NODEPORTS exists already: declaring it would flush it.
	missing := func(table, chain string) bool { return chain != NodePortsChain }
	want := `*filter
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
-I INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-I INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
-I OUTPUT -j KUBE-FIREWALL
COMMIT
*nat
:KUBE-SERVICES - [0:0]
-I PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
COMMIT
`
	if got := string(RenderJumps(jumps, missing)); got != want {
		t.Errorf("RenderJumps =\n%s\nwant\n%s", got, want)
	}
	if got := RenderJumps(nil, missing); len(got) != 0 {
		t.Errorf("RenderJumps of no jumps = %q, want nothing", got)
	}
}
