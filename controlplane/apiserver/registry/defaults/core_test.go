package defaults_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kindish/kindish/controlplane/apiserver/registry/defaults"
)

func TestService(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "web", Namespace: "default"}
	cluster := new(corev1.ServiceInternalTrafficPolicyCluster)
	runCases(t, defaults.Service, []defaultingCase[corev1.Service]{
		{
			name: "a minimal service is ClusterIP, no affinity, TCP, target port the port",
			in:   &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}},
			want: &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{
				Ports:                 []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)}},
				Type:                  corev1.ServiceTypeClusterIP,
				SessionAffinity:       corev1.ServiceAffinityNone,
				InternalTrafficPolicy: cluster,
			}},
		},
		{
			name: "named and numbered target ports are kept",
			in: &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromString("web")},
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(5353)},
			}}},
			want: &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{
				Ports: []corev1.ServicePort{
					{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web")},
					{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(5353)},
				},
				Type:                  corev1.ServiceTypeClusterIP,
				SessionAffinity:       corev1.ServiceAffinityNone,
				InternalTrafficPolicy: cluster,
			}},
		},
		{
			name: "NodePort is reachable from outside: external traffic policy Cluster",
			in:   &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}}},
			want: &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{
				Ports:                 []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)}},
				Type:                  corev1.ServiceTypeNodePort,
				SessionAffinity:       corev1.ServiceAffinityNone,
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
				InternalTrafficPolicy: cluster,
			}},
		},
		{
			name: "ClusterIP with external IPs is reachable from outside too",
			in:   &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{ExternalIPs: []string{"192.0.2.10"}}},
			want: &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{
				ExternalIPs:           []string{"192.0.2.10"},
				Type:                  corev1.ServiceTypeClusterIP,
				SessionAffinity:       corev1.ServiceAffinityNone,
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
				InternalTrafficPolicy: cluster,
			}},
		},
		{
			name: "LoadBalancer allocates node ports and its ingress IPs are VIPs",
			in: &corev1.Service{ObjectMeta: meta,
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 443}}},
				Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
					{IP: "203.0.113.7"}, {Hostname: "lb.example"}, {IP: "203.0.113.8", IPMode: new(corev1.LoadBalancerIPModeProxy)},
				}}},
			},
			want: &corev1.Service{ObjectMeta: meta,
				Spec: corev1.ServiceSpec{
					Ports:                         []corev1.ServicePort{{Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(443)}},
					Type:                          corev1.ServiceTypeLoadBalancer,
					SessionAffinity:               corev1.ServiceAffinityNone,
					ExternalTrafficPolicy:         corev1.ServiceExternalTrafficPolicyCluster,
					InternalTrafficPolicy:         cluster,
					AllocateLoadBalancerNodePorts: new(true),
				},
				Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
					{IP: "203.0.113.7", IPMode: new(corev1.LoadBalancerIPModeVIP)}, {Hostname: "lb.example"}, {IP: "203.0.113.8", IPMode: new(corev1.LoadBalancerIPModeProxy)},
				}}},
			},
		},
		{
			name: "ClientIP affinity gets a three-hour timeout",
			in:   &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityClientIP}},
			want: &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{
				Type:                  corev1.ServiceTypeClusterIP,
				SessionAffinity:       corev1.ServiceAffinityClientIP,
				SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: new(int32(10800))}},
				InternalTrafficPolicy: cluster,
			}},
		},
		{
			name: "no affinity drops an affinity config",
			in: &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{
				SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: new(int32(60))}},
			}},
			want: &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{
				Type:                  corev1.ServiceTypeClusterIP,
				SessionAffinity:       corev1.ServiceAffinityNone,
				InternalTrafficPolicy: cluster,
			}},
		},
		{
			name: "ExternalName gets no traffic policies",
			in:   &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}},
			want: &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{
				Type:            corev1.ServiceTypeExternalName,
				ExternalName:    "example.com",
				SessionAffinity: corev1.ServiceAffinityNone,
			}},
		},
	})
}

func TestReplicationController(t *testing.T) {
	labels := map[string]string{"app": "web"}
	runCases(t, defaults.ReplicationController, []defaultingCase[corev1.ReplicationController]{
		{
			name: "selector and labels come from the template; one replica",
			in: &corev1.ReplicationController{
				ObjectMeta: metav1.ObjectMeta{Name: "web"},
				Spec: corev1.ReplicationControllerSpec{Template: &corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
					Spec:       minimalPodSpec(),
				}},
			},
			want: &corev1.ReplicationController{
				ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
				Spec: corev1.ReplicationControllerSpec{
					Replicas: new(int32(1)),
					Selector: labels,
					Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: defaultedPodSpec()},
				},
			},
		},
		{
			name: "given selector, labels and replicas are kept",
			in: &corev1.ReplicationController{
				ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"team": "a"}},
				Spec: corev1.ReplicationControllerSpec{
					Replicas: new(int32(0)),
					Selector: map[string]string{"app": "web"},
					Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "v": "2"}}, Spec: minimalPodSpec()},
				},
			},
			want: &corev1.ReplicationController{
				ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"team": "a"}},
				Spec: corev1.ReplicationControllerSpec{
					Replicas: new(int32(0)),
					Selector: map[string]string{"app": "web"},
					Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "v": "2"}}, Spec: defaultedPodSpec()},
				},
			},
		},
		{
			name: "no template: only replicas",
			in:   &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "web"}},
			want: &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ReplicationControllerSpec{Replicas: new(int32(1))}},
		},
	})
}

func TestNamespace(t *testing.T) {
	runCases(t, defaults.Namespace, []defaultingCase[corev1.Namespace]{
		{
			name: "labelled with its name and Active",
			in:   &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
			want: &corev1.Namespace{
				ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"kubernetes.io/metadata.name": "team-a"}},
				Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
			},
		},
		{
			name: "the name label is always the name; a terminating phase is kept",
			in: &corev1.Namespace{
				ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"kubernetes.io/metadata.name": "other", "env": "dev"}},
				Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
			},
			want: &corev1.Namespace{
				ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"kubernetes.io/metadata.name": "team-a", "env": "dev"}},
				Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
			},
		},
		{
			name: "generateName: no label until named",
			in:   &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ci-"}},
			want: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ci-"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
		},
	})
}

func TestNode(t *testing.T) {
	runCases(t, defaults.Node, []defaultingCase[corev1.Node]{
		{
			name: "allocatable from capacity; podCIDRs from podCIDR",
			in: &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: "kindish-worker"},
				Spec:       corev1.NodeSpec{PodCIDR: "10.244.1.0/24"},
				Status:     corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourceCPU: q("4"), corev1.ResourcePods: q("110")}},
			},
			want: &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: "kindish-worker"},
				Spec:       corev1.NodeSpec{PodCIDR: "10.244.1.0/24", PodCIDRs: []string{"10.244.1.0/24"}},
				Status: corev1.NodeStatus{
					Capacity:    corev1.ResourceList{corev1.ResourceCPU: q("4"), corev1.ResourcePods: q("110")},
					Allocatable: corev1.ResourceList{corev1.ResourceCPU: q("4"), corev1.ResourcePods: q("110")},
				},
			},
		},
		{
			name: "given allocatable kept; podCIDR from podCIDRs",
			in: &corev1.Node{
				Spec: corev1.NodeSpec{PodCIDRs: []string{"10.244.2.0/24", "fd00:10:244:2::/64"}},
				Status: corev1.NodeStatus{
					Capacity:    corev1.ResourceList{corev1.ResourceCPU: q("4")},
					Allocatable: corev1.ResourceList{corev1.ResourceCPU: q("3500m")},
				},
			},
			want: &corev1.Node{
				Spec: corev1.NodeSpec{PodCIDR: "10.244.2.0/24", PodCIDRs: []string{"10.244.2.0/24", "fd00:10:244:2::/64"}},
				Status: corev1.NodeStatus{
					Capacity:    corev1.ResourceList{corev1.ResourceCPU: q("4")},
					Allocatable: corev1.ResourceList{corev1.ResourceCPU: q("3500m")},
				},
			},
		},
	})
}

func TestSecret(t *testing.T) {
	runCases(t, defaults.Secret, []defaultingCase[corev1.Secret]{
		{
			name: "Opaque",
			in:   &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}},
			want: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Type: corev1.SecretTypeOpaque},
		},
		{
			name: "stringData merges into data and is dropped",
			in: &corev1.Secret{
				Type:       corev1.SecretTypeBasicAuth,
				Data:       map[string][]byte{"username": []byte("old"), "keep": []byte("k")},
				StringData: map[string]string{"username": "admin", "password": "pw"},
			},
			want: &corev1.Secret{
				Type: corev1.SecretTypeBasicAuth,
				Data: map[string][]byte{"username": []byte("admin"), "password": []byte("pw"), "keep": []byte("k")},
			},
		},
		{
			name: "stringData alone",
			in:   &corev1.Secret{StringData: map[string]string{"token": "t"}},
			want: &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"token": []byte("t")}},
		},
	})
}

func TestConfigMap(t *testing.T) {
	runCases(t, defaults.ConfigMap, []defaultingCase[corev1.ConfigMap]{
		{name: "no data: an empty map", in: &corev1.ConfigMap{}, want: &corev1.ConfigMap{Data: map[string]string{}}},
		{name: "data kept", in: &corev1.ConfigMap{Data: map[string]string{"a": "b"}}, want: &corev1.ConfigMap{Data: map[string]string{"a": "b"}}},
	})
}

func TestEndpoints(t *testing.T) {
	runCases(t, defaults.Endpoints, []defaultingCase[corev1.Endpoints]{{
		name: "ports are TCP unless given",
		in: &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.244.0.5"}},
			Ports:     []corev1.EndpointPort{{Port: 80}, {Port: 53, Protocol: corev1.ProtocolUDP}},
		}}},
		want: &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.244.0.5"}},
			Ports:     []corev1.EndpointPort{{Port: 80, Protocol: corev1.ProtocolTCP}, {Port: 53, Protocol: corev1.ProtocolUDP}},
		}}},
	}})
}

func TestPersistentVolume(t *testing.T) {
	runCases(t, defaults.PersistentVolume, []defaultingCase[corev1.PersistentVolume]{
		{
			name: "Pending, Retain, Filesystem, hostPath type",
			in: &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{
				Capacity:               corev1.ResourceList{corev1.ResourceStorage: q("10Gi")},
				PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}},
			}},
			want: &corev1.PersistentVolume{
				Spec: corev1.PersistentVolumeSpec{
					Capacity:                      corev1.ResourceList{corev1.ResourceStorage: q("10Gi")},
					PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data", Type: new(corev1.HostPathUnset)}},
					PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
					VolumeMode:                    new(corev1.PersistentVolumeFilesystem),
				},
				Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumePending},
			},
		},
		{
			name: "in-tree sources get their defaults",
			in: &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
				VolumeMode:                    new(corev1.PersistentVolumeBlock),
				PersistentVolumeSource:        corev1.PersistentVolumeSource{RBD: &corev1.RBDPersistentVolumeSource{RBDImage: "i"}},
			}, Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound}},
			want: &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
				VolumeMode:                    new(corev1.PersistentVolumeBlock),
				PersistentVolumeSource:        corev1.PersistentVolumeSource{RBD: &corev1.RBDPersistentVolumeSource{RBDImage: "i", RBDPool: "rbd", RadosUser: "admin", Keyring: "/etc/ceph/keyring"}},
			}, Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound}},
		},
		{
			name: "ISCSI, AzureDisk and ScaleIO sources",
			in: &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{
				ISCSI:     &corev1.ISCSIPersistentVolumeSource{TargetPortal: "t", IQN: "iqn.2001-04.com.example:s"},
				AzureDisk: &corev1.AzureDiskVolumeSource{DiskName: "d", ReadOnly: new(true)},
				ScaleIO:   &corev1.ScaleIOPersistentVolumeSource{Gateway: "g", StorageMode: "ThickProvisioned"},
			}}},
			want: &corev1.PersistentVolume{
				Spec: corev1.PersistentVolumeSpec{
					PersistentVolumeSource: corev1.PersistentVolumeSource{
						ISCSI: &corev1.ISCSIPersistentVolumeSource{TargetPortal: "t", IQN: "iqn.2001-04.com.example:s", ISCSIInterface: "default"},
						AzureDisk: &corev1.AzureDiskVolumeSource{DiskName: "d", ReadOnly: new(true),
							CachingMode: new(corev1.AzureDataDiskCachingReadWrite), FSType: new("ext4"), Kind: new(corev1.AzureSharedBlobDisk)},
						ScaleIO: &corev1.ScaleIOPersistentVolumeSource{Gateway: "g", StorageMode: "ThickProvisioned", FSType: "xfs"},
					},
					PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
					VolumeMode:                    new(corev1.PersistentVolumeFilesystem),
				},
				Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumePending},
			},
		},
	})
}

func TestPersistentVolumeClaim(t *testing.T) {
	runCases(t, defaults.PersistentVolumeClaim, []defaultingCase[corev1.PersistentVolumeClaim]{{
		name: "Pending and Filesystem; sizes round up",
		in: &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q("1500u")}},
		}},
		want: &corev1.PersistentVolumeClaim{
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q("2m")}},
				VolumeMode:  new(corev1.PersistentVolumeFilesystem),
			},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
		},
	}})
}

func TestLimitRange(t *testing.T) {
	runCases(t, defaults.LimitRange, []defaultingCase[corev1.LimitRange]{{
		name: "container limits: default from max, default request from default or min; other types untouched",
		in: &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
			{
				Type: corev1.LimitTypeContainer,
				Max:  corev1.ResourceList{corev1.ResourceCPU: q("2"), corev1.ResourceMemory: q("1Gi")},
				Min:  corev1.ResourceList{corev1.ResourceCPU: q("100m"), corev1.ResourceEphemeralStorage: q("1Gi")},
			},
			{Type: corev1.LimitTypePod, Max: corev1.ResourceList{corev1.ResourceCPU: q("4")}},
		}}},
		want: &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
			{
				Type:           corev1.LimitTypeContainer,
				Max:            corev1.ResourceList{corev1.ResourceCPU: q("2"), corev1.ResourceMemory: q("1Gi")},
				Min:            corev1.ResourceList{corev1.ResourceCPU: q("100m"), corev1.ResourceEphemeralStorage: q("1Gi")},
				Default:        corev1.ResourceList{corev1.ResourceCPU: q("2"), corev1.ResourceMemory: q("1Gi")},
				DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: q("2"), corev1.ResourceMemory: q("1Gi"), corev1.ResourceEphemeralStorage: q("1Gi")},
			},
			{Type: corev1.LimitTypePod, Max: corev1.ResourceList{corev1.ResourceCPU: q("4")}},
		}}},
	}})
}

func TestResourceQuota(t *testing.T) {
	runCases(t, defaults.ResourceQuota, []defaultingCase[corev1.ResourceQuota]{{
		name: "only rounding",
		in:   &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: q("10"), corev1.ResourcePods: q("1500u")}}},
		want: &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: q("10"), corev1.ResourcePods: q("2m")}}},
	}})
}
