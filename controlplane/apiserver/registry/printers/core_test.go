package printers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

// testNode is a kind node: created 78 seconds ago, with the given Ready
// condition ("" for none) and labels.
func testNode(ready corev1.ConditionStatus, labels map[string]string) *corev1.Node {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "kind-control-plane", Labels: labels, CreationTimestamp: ago(78 * time.Second)},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeHostName, Address: "kind-control-plane"},
				{Type: corev1.NodeInternalIP, Address: "172.18.0.2"},
			},
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion:          "v1.32.2",
				OSImage:                 "Debian GNU/Linux 12 (bookworm)",
				KernelVersion:           "6.8.0-45-generic",
				ContainerRuntimeVersion: "containerd://2.0.2",
			},
		},
	}
	if ready != "" {
		node.Status.Conditions = []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
			{Type: corev1.NodeReady, Status: ready},
		}
	}
	return node
}

func TestNodeCells(t *testing.T) {
	gvr := registry.CoreV1.WithResource("nodes")
	wide := []any{"172.18.0.2", "<none>", "Debian GNU/Linux 12 (bookworm)", "6.8.0-45-generic", "containerd://2.0.2"}
	row := func(status, roles string) []any {
		return append([]any{status, roles, "78s", "v1.32.2"}, wide...)
	}

	cordoned := testNode(corev1.ConditionTrue, map[string]string{"node-role.kubernetes.io/worker": ""})
	cordoned.Spec.Unschedulable = true
	cordonedUnknown := testNode("", nil)
	cordonedUnknown.Spec.Unschedulable = true
	external := testNode(corev1.ConditionTrue, nil)
	external.Status.Addresses = append(external.Status.Addresses,
		corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.7"},
		corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "172.18.0.9"})
	bare := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "bare"}}

	for _, tc := range []struct {
		name string
		node *corev1.Node
		want []any
	}{
		{"kubeadm control plane, ready", testNode(corev1.ConditionTrue, map[string]string{"node-role.kubernetes.io/control-plane": ""}), row("Ready", "control-plane")},
		{"old kubeadm master", testNode(corev1.ConditionTrue, map[string]string{"node-role.kubernetes.io/master": ""}), row("Ready", "master")},
		{"legacy role label", testNode(corev1.ConditionTrue, map[string]string{"kubernetes.io/role": "master"}), row("Ready", "master")},
		{"empty legacy role label", testNode(corev1.ConditionTrue, map[string]string{"kubernetes.io/role": ""}), row("Ready", "<none>")},
		{"several roles, sorted", testNode(corev1.ConditionTrue, map[string]string{
			"node-role.kubernetes.io/master": "", "node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "etcd",
		}), row("Ready", "control-plane,etcd,master")},
		{"worker without roles, not ready", testNode(corev1.ConditionFalse, map[string]string{"kubernetes.io/hostname": "kind-worker"}), row("NotReady", "<none>")},
		{"ready unknown", testNode(corev1.ConditionUnknown, nil), row("NotReady", "<none>")},
		{"no ready condition", testNode("", nil), row("Unknown", "<none>")},
		{"cordoned", cordoned, row("Ready,SchedulingDisabled", "worker")},
		{"cordoned, no ready condition", cordonedUnknown, row("Unknown,SchedulingDisabled", "<none>")},
		{"external address, first internal one", external, []any{"Ready", "<none>", "78s", "v1.32.2", "172.18.0.2", "203.0.113.7", "Debian GNU/Linux 12 (bookworm)", "6.8.0-45-generic", "containerd://2.0.2"}},
		{"nothing reported", bare, []any{"Unknown", "<none>", "<unknown>", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCells(t, gvr, tc.node, tc.want) })
	}
}

func testService(typ corev1.ServiceType, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(2 * time.Hour)},
		Spec: corev1.ServiceSpec{
			Type: typ, ClusterIP: clusterIP, Ports: ports,
			Selector: map[string]string{"app": "web"},
		},
	}
}

func TestServiceCells(t *testing.T) {
	gvr := registry.CoreV1.WithResource("services")
	http := corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}
	https := corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}
	dns := corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}
	nodePort := corev1.ServicePort{Name: "http", Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}

	kubernetes := testService(corev1.ServiceTypeClusterIP, "10.96.0.1", corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP})
	kubernetes.Spec.Selector = nil
	withExternalIPs := testService(corev1.ServiceTypeClusterIP, "10.96.10.10", http)
	withExternalIPs.Spec.ExternalIPs = []string{"198.51.100.1", "198.51.100.2"}
	fromClusterIPs := testService(corev1.ServiceTypeClusterIP, "", http)
	fromClusterIPs.Spec.ClusterIPs = []string{"fd00:10:96::a", "10.96.0.10"}
	balanced := testService(corev1.ServiceTypeLoadBalancer, "10.96.20.20", nodePort)
	balanced.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "172.18.255.200"}, {Hostname: "lb.example.com"}, {IP: "172.18.255.200"}}
	balancedAndExternal := testService(corev1.ServiceTypeLoadBalancer, "10.96.20.21", nodePort)
	balancedAndExternal.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "172.18.255.201"}}
	balancedAndExternal.Spec.ExternalIPs = []string{"198.51.100.9"}
	longBalancer := testService(corev1.ServiceTypeLoadBalancer, "10.96.20.22", nodePort)
	longBalancer.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{Hostname: "a-very-long-load-balancer-name.elb.example.com"}}
	external := testService(corev1.ServiceTypeExternalName, "")
	external.Spec.ExternalName = "db.example.com"
	external.Spec.Selector = nil

	for _, tc := range []struct {
		name string
		svc  *corev1.Service
		want []any
	}{
		{"the kubernetes service", kubernetes, []any{"ClusterIP", "10.96.0.1", "<none>", "443/TCP", "120m", "<none>"}},
		{"cluster IP, two ports", testService(corev1.ServiceTypeClusterIP, "10.96.0.10", dns, https), []any{"ClusterIP", "10.96.0.10", "<none>", "53/UDP,443/TCP", "120m", "app=web"}},
		{"cluster IP with external IPs", withExternalIPs, []any{"ClusterIP", "10.96.10.10", "198.51.100.1,198.51.100.2", "80/TCP", "120m", "app=web"}},
		{"cluster IP from clusterIPs", fromClusterIPs, []any{"ClusterIP", "fd00:10:96::a", "<none>", "80/TCP", "120m", "app=web"}},
		{"headless", testService(corev1.ServiceTypeClusterIP, "None", http), []any{"ClusterIP", "None", "<none>", "80/TCP", "120m", "app=web"}},
		{"no ports", testService(corev1.ServiceTypeClusterIP, "10.96.0.11"), []any{"ClusterIP", "10.96.0.11", "<none>", "<none>", "120m", "app=web"}},
		{"node port", testService(corev1.ServiceTypeNodePort, "10.96.30.30", nodePort), []any{"NodePort", "10.96.30.30", "<none>", "80:30080/TCP", "120m", "app=web"}},
		{"load balancer pending", testService(corev1.ServiceTypeLoadBalancer, "10.96.20.19", nodePort), []any{"LoadBalancer", "10.96.20.19", "<pending>", "80:30080/TCP", "120m", "app=web"}},
		{"load balancer with addresses", balanced, []any{"LoadBalancer", "10.96.20.20", "172.18.255.200,lb.example.com", "80:30080/TCP", "120m", "app=web"}},
		{"load balancer and external IPs", balancedAndExternal, []any{"LoadBalancer", "10.96.20.21", "172.18.255.201,198.51.100.9", "80:30080/TCP", "120m", "app=web"}},
		// The server renders tables wide: a long address is not clipped.
		{"load balancer, long name", longBalancer, []any{"LoadBalancer", "10.96.20.22", "a-very-long-load-balancer-name.elb.example.com", "80:30080/TCP", "120m", "app=web"}},
		{"external name", external, []any{"ExternalName", "<none>", "db.example.com", "<none>", "120m", "<none>"}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCells(t, gvr, tc.svc, tc.want) })
	}
}

func TestEndpointsCells(t *testing.T) {
	gvr := registry.CoreV1.WithResource("endpoints")
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	ep := func(subsets ...corev1.EndpointSubset) *corev1.Endpoints {
		return &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(time.Minute)}, Subsets: subsets}
	}
	for _, tc := range []struct {
		name string
		ep   *corev1.Endpoints
		want string
	}{
		{"none", ep(), "<none>"},
		{"one", ep(corev1.EndpointSubset{Addresses: addrs("10.244.0.5"), Ports: []corev1.EndpointPort{{Port: 8080}}}), "10.244.0.5:8080"},
		{"ipv6", ep(corev1.EndpointSubset{Addresses: addrs("fd00::5"), Ports: []corev1.EndpointPort{{Port: 443}}}), "[fd00::5]:443"},
		{"headless without ports", ep(corev1.EndpointSubset{Addresses: addrs("10.244.0.5", "10.244.0.6")}), "10.244.0.5,10.244.0.6"},
		{"three", ep(corev1.EndpointSubset{Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3"), Ports: []corev1.EndpointPort{{Port: 80}}}), "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80"},
		{"more than three, across ports", ep(corev1.EndpointSubset{
			Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3"),
			Ports:     []corev1.EndpointPort{{Name: "http", Port: 80}, {Name: "https", Port: 443}},
		}), "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more..."},
		{"only not-ready addresses", ep(corev1.EndpointSubset{NotReadyAddresses: addrs("10.0.0.9"), Ports: []corev1.EndpointPort{{Port: 80}}}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCells(t, gvr, tc.ep, []any{tc.want, "60s"}) })
	}
}

func TestEventCells(t *testing.T) {
	core := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-abc.17f0", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-abc", FieldPath: "spec.containers{app}"},
		Reason:         "Pulled", Message: "Successfully pulled image \"nginx\"\n", Type: corev1.EventTypeNormal,
		Source:         corev1.EventSource{Component: "kubelet", Host: "kind-worker"},
		FirstTimestamp: ago(10 * time.Minute), LastTimestamp: ago(2 * time.Minute), Count: 4,
	}
	series := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "node.17f1"},
		InvolvedObject: corev1.ObjectReference{Kind: "Node"},
		Reason:         "Starting", Type: corev1.EventTypeWarning, ReportingController: "kube-proxy",
		EventTime: metav1.NewMicroTime(testNow.Add(-time.Hour)),
		Series:    &corev1.EventSeries{Count: 7, LastObservedTime: metav1.NewMicroTime(testNow.Add(-30 * time.Second))},
	}
	once := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "once"},
		InvolvedObject: corev1.ObjectReference{Kind: "Deployment", Name: "web"},
		Reason:         "ScalingReplicaSet", Message: "Scaled up", Type: corev1.EventTypeNormal,
		ReportingController: "deployment-controller", ReportingInstance: "kube-controller-manager-1",
		EventTime: metav1.NewMicroTime(testNow.Add(-3 * time.Minute)),
	}
	for _, tc := range []struct {
		name  string
		event *corev1.Event
		want  []any
	}{
		{"old API, repeated", core, []any{"2m", "Normal", "Pulled", "pod/web-abc", "spec.containers{app}", "kubelet, kind-worker", `Successfully pulled image "nginx"`, "10m", int64(4), "web-abc.17f0"}},
		{"series", series, []any{"30s", "Warning", "Starting", "node", "", "kube-proxy", "", "60m", int64(7), "node.17f1"}},
		{"new API, once", once, []any{"3m", "Normal", "ScalingReplicaSet", "deployment/web", "", "deployment-controller, kube-controller-manager-1", "Scaled up", "3m", int64(1), "once"}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCells(t, registry.CoreV1.WithResource("events"), tc.event, tc.want) })
	}
}

func TestSmallCoreResources(t *testing.T) {
	twoGi := resource.MustParse("2Gi")
	fs := corev1.PersistentVolumeFilesystem
	for _, tc := range []struct {
		resource string
		obj      runtime.Object
		want     []any
	}{
		{"namespaces", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(78 * time.Second)}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}, []any{"Active", "78s"}},
		{"namespaces", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(time.Hour), DeletionTimestamp: agoPtr(0)}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}, []any{"Terminating", "60m"}},
		{"configmaps", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(time.Minute)}, Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"c": {0}}}, []any{int64(3), "60s"}},
		{"secrets", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(time.Minute)}, Type: corev1.SecretTypeServiceAccountToken, Data: map[string][]byte{"ca.crt": nil, "namespace": nil, "token": nil}}, []any{"kubernetes.io/service-account-token", int64(3), "60s"}},
		{"serviceaccounts", &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(time.Minute)}}, []any{int64(0), "60s"}},
		{"serviceaccounts", &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(time.Minute)}, Secrets: []corev1.ObjectReference{{Name: "old-token"}}}, []any{int64(1), "60s"}},
		{"replicationcontrollers", &corev1.ReplicationController{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(time.Minute)},
			Spec: corev1.ReplicationControllerSpec{Replicas: ptr(int32(3)), Selector: map[string]string{"app": "web"}, Template: &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}, {Name: "log", Image: "busybox"}},
			}}},
			Status: corev1.ReplicationControllerStatus{Replicas: 3, ReadyReplicas: 2},
		}, []any{int64(3), int64(3), int64(2), "60s", "web,log", "nginx:1.27,busybox", "app=web"}},
		{"replicationcontrollers", &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(time.Minute)}}, []any{int64(1), int64(0), int64(0), "60s", "", "", "<none>"}},
		{"resourcequotas", &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(time.Minute)},
			Status: corev1.ResourceQuotaStatus{
				Hard: corev1.ResourceList{"pods": resource.MustParse("10"), "requests.cpu": resource.MustParse("4"), "limits.memory": resource.MustParse("8Gi"), "limits.cpu": resource.MustParse("8")},
				Used: corev1.ResourceList{"pods": resource.MustParse("3"), "requests.cpu": resource.MustParse("1500m"), "limits.cpu": resource.MustParse("2")},
			},
		}, []any{"pods: 3/10, requests.cpu: 1500m/4", "limits.cpu: 2/8, limits.memory: 0/8Gi", "60s"}},
		{"persistentvolumes", &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(time.Minute)},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: twoGi},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
				ClaimRef:                      &corev1.ObjectReference{Namespace: "default", Name: "data"},
				StorageClassName:              "standard",
				VolumeMode:                    &fs,
			},
			Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
		}, []any{"2Gi", "RWO,RWX", "Delete", "Bound", "default/data", "standard", "<unset>", "", "60s", "Filesystem"}},
		{"persistentvolumes", &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(time.Minute), DeletionTimestamp: agoPtr(0), Annotations: map[string]string{"volume.beta.kubernetes.io/storage-class": "old"}},
			Spec:       corev1.PersistentVolumeSpec{StorageClassName: "new", VolumeAttributesClassName: ptr("gold")},
			Status:     corev1.PersistentVolumeStatus{Phase: corev1.VolumeFailed, Reason: "Recycling failed"},
		}, []any{"0", "", "", "Terminating", "", "old", "gold", "Recycling failed", "60s", "<unset>"}},
		{"persistentvolumeclaims", &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(time.Minute)},
			Spec: corev1.PersistentVolumeClaimSpec{
				VolumeName: "pvc-1234", StorageClassName: ptr("standard"), VolumeMode: &fs,
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			},
			Status: corev1.PersistentVolumeClaimStatus{
				Phase: corev1.ClaimBound, Capacity: corev1.ResourceList{corev1.ResourceStorage: twoGi},
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod, corev1.ReadOnlyMany},
			},
		}, []any{"Bound", "pvc-1234", "2Gi", "ROX,RWOP", "standard", "<unset>", "60s", "Filesystem"}},
		{"persistentvolumeclaims", &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(time.Minute)},
			Spec:       corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}},
			Status:     corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
		}, []any{"Pending", "", "", "", "", "<unset>", "60s", "<unset>"}},
	} {
		t.Run(tc.resource, func(t *testing.T) { wantCells(t, registry.CoreV1.WithResource(tc.resource), tc.obj, tc.want) })
	}
}
