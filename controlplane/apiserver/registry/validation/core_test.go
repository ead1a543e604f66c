package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestService(t *testing.T) {
	runCases(t, validService, []errCase[*corev1.Service]{
		{"ports are required", func(s *corev1.Service) { s.Spec.Ports = nil },
			[]string{"spec.ports: Required value"}},
		{"headless services need no ports", func(s *corev1.Service) { s.Spec.Ports = nil; s.Spec.ClusterIP = corev1.ClusterIPNone }, nil},
		{"ExternalName services need no ports, but a name", func(s *corev1.Service) {
			s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName}
		}, []string{"spec.externalName: Required value"}},
		{"ExternalName services have no cluster IP", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "db.example.com."
		}, []string{"spec.clusterIPs: Forbidden: may not be set for ExternalName services"}},
		{"names are DNS labels", func(s *corev1.Service) { s.Name = "web.v1" },
			[]string{`metadata.name: Invalid value: "web.v1": must not contain dots`}},
		{"names may start with a digit", func(s *corev1.Service) { s.Name = "1web" }, nil},
		{"ports are port numbers", func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 },
			[]string{"spec.ports[0].port: Invalid value: 0: " + portNumMsg}},
		{"ports are named when there are several", func(s *corev1.Service) { s.Spec.Ports[1].Name = "" },
			[]string{"spec.ports[1].name: Required value"}},
		{"port names are unique", func(s *corev1.Service) { s.Spec.Ports[1].Name = "http" },
			[]string{`spec.ports[1].name: Duplicate value: "http"`}},
		{"port protocols", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "HTTP" },
			[]string{`spec.ports[0].protocol: Unsupported value: "HTTP": ` + protocolValues}},
		{"target ports are numbers", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(70000) },
			[]string{"spec.ports[0].targetPort: Invalid value: 70000: " + portNumMsg}},
		{"target ports are IANA names", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("HTTP") },
			[]string{
				`spec.ports[0].targetPort: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
				`spec.ports[0].targetPort: Invalid value: "HTTP": must contain at least one letter (a-z)`,
			}},
		{"ports are unique per protocol", func(s *corev1.Service) { s.Spec.Ports[1].Port = 80 },
			[]string{`spec.ports[1]: Duplicate value: {"Name":"","Protocol":"TCP","AppProtocol":null,"Port":80,"TargetPort":0,"NodePort":0}`}},
		{"types", func(s *corev1.Service) { s.Spec.Type = "Internal" },
			[]string{`spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`}},
		{"cluster IPs are IPs", func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.300" },
			[]string{`spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`}},
		{"load balancers are not headless", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeLoadBalancer, corev1.ClusterIPNone
		}, []string{`spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for LoadBalancer services`}},
		{"node ports are not for ClusterIP services", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 },
			[]string{"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"}},
		{"node ports of NodePort services", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort, s.Spec.Ports[1].NodePort = 30080, 30080
		}, []string{"spec.ports[1].nodePort: Duplicate value: 30080"}},
		{"selectors hold labels", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "web server"} },
			[]string{`spec.selector: Invalid value: "web server": ` + labelValueMsg}},
		{"session affinity", func(s *corev1.Service) { s.Spec.SessionAffinity = "Sticky" },
			[]string{`spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"`}},
		{"ip families", func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{"IPv5"} },
			[]string{`spec.ipFamilies[0]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"`}},
		{"ip families match cluster IPs", func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} },
			[]string{"spec.clusterIPs[0]: Invalid value: \"10.96.0.10\": expected an IPv6 value as indicated by `ipFamilies[0]`"}},
		{"external traffic policy is for external services", func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal },
			[]string{`spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services`}},
		{"internal traffic policies", func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr(corev1.ServiceInternalTrafficPolicy("Node"))
		},
			[]string{`spec.internalTrafficPolicy: Unsupported value: "Node": supported values: "Cluster", "Local"`}},
		{"external IPs are not special", func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"127.0.0.1"} },
			[]string{`spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`}},
	})
}

func TestServiceUpdate(t *testing.T) {
	runUpdateCases(t, validService, []updateCase[*corev1.Service]{
		{name: "ports may change", mutate: func(s *corev1.Service) { s.Spec.Ports[0].Port = 8080 }},
		{name: "cluster IPs are fixed", mutate: func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.11" },
			want: []string{`spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: may not change once set`}},
		{name: "cluster IPs stay", mutate: func(s *corev1.Service) { s.Spec.ClusterIP = "" },
			want: []string{"spec.clusterIPs[0]: Invalid value: null: primary clusterIP can not be unset"}},
	})
}

func TestServiceStatus(t *testing.T) {
	v := ForSubresource(corev1.SchemeGroupVersion.WithKind("Service"), "status")
	s := validService()
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}, {Hostname: "10.0.0.1"}}
	wantErrors(t, v(s, validService()), `status.loadBalancer.ingress[1].hostname: Invalid value: "10.0.0.1": must be a DNS name, not an IP address`)
}

func TestConfigMap(t *testing.T) {
	runCases(t, validConfigMap, []errCase[*corev1.ConfigMap]{
		{"keys", func(c *corev1.ConfigMap) { c.Data["a b"] = "" },
			[]string{`data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`}},
		{"keys are in data or binaryData", func(c *corev1.ConfigMap) { c.Data["logo.png"] = "" },
			[]string{`data[logo.png]: Invalid value: "logo.png": duplicate of key present in binaryData`}},
		{"size", func(c *corev1.ConfigMap) { c.Data["big"] = strings.Repeat("x", 1<<20) },
			[]string{"[]: Too long: may not be more than 1048576 bytes"}},
	})
	immutable := func(c *corev1.ConfigMap) { c.Immutable = ptr(true) }
	runUpdateCases(t, validConfigMap, []updateCase[*corev1.ConfigMap]{
		{name: "data may change", mutate: func(c *corev1.ConfigMap) { c.Data["app.properties"] = "mode=prod" }},
		{name: "immutable data stays", old: immutable, mutate: func(c *corev1.ConfigMap) { c.Data["app.properties"] = "mode=prod" },
			want: []string{"data: Forbidden: field is immutable when `immutable` is set"}},
		{name: "immutable binary data stays", old: immutable, mutate: func(c *corev1.ConfigMap) { c.BinaryData = nil },
			want: []string{"binaryData: Forbidden: field is immutable when `immutable` is set"}},
		{name: "immutable stays immutable", old: immutable, mutate: func(c *corev1.ConfigMap) { c.Immutable = nil },
			want: []string{"immutable: Forbidden: field is immutable when `immutable` is set"}},
	})
}

func TestSecret(t *testing.T) {
	runCases(t, validSecret, []errCase[*corev1.Secret]{
		{"tls secrets hold a key", func(s *corev1.Secret) { delete(s.Data, corev1.TLSPrivateKeyKey) },
			[]string{"data[tls.key]: Required value"}},
		{"docker config secrets hold one", func(s *corev1.Secret) { s.Type = corev1.SecretTypeDockerConfigJson },
			[]string{"data[.dockerconfigjson]: Required value"}},
		{"docker configs are JSON", func(s *corev1.Secret) {
			s.Type, s.Data = corev1.SecretTypeDockerConfigJson, map[string][]byte{corev1.DockerConfigJsonKey: []byte("{")}
		}, []string{`data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": unexpected end of JSON input`}},
		{"service account tokens name their account", func(s *corev1.Secret) { s.Type = corev1.SecretTypeServiceAccountToken },
			[]string{"metadata.annotations[kubernetes.io/service-account.name]: Required value"}},
		{"basic auth", func(s *corev1.Secret) { s.Type = corev1.SecretTypeBasicAuth },
			[]string{"data[username]: Required value", "data[password]: Required value"}},
		{"keys", func(s *corev1.Secret) { s.Data["../x"] = nil },
			[]string{
				`data[../x]: Invalid value: "../x": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
				`data[../x]: Invalid value: "../x": must not start with '..'`,
			}},
		{"size", func(s *corev1.Secret) { s.Data["big"] = make([]byte, 1<<20) },
			[]string{"data: Too long: may not be more than 1048576 bytes"}},
	})
	runUpdateCases(t, validSecret, []updateCase[*corev1.Secret]{
		{name: "types are fixed", mutate: func(s *corev1.Secret) { s.Type = corev1.SecretTypeOpaque },
			want: []string{`type: Invalid value: "Opaque": field is immutable`}},
		{name: "immutable data stays", old: func(s *corev1.Secret) { s.Immutable = ptr(true) },
			mutate: func(s *corev1.Secret) { s.Data[corev1.TLSCertKey] = []byte("other") },
			want:   []string{"data: Forbidden: field is immutable when `immutable` is set"}},
	})
}

func TestNamespace(t *testing.T) {
	runCases(t, validNamespace, []errCase[*corev1.Namespace]{
		{"names are DNS labels", func(n *corev1.Namespace) { n.Name = "team.a" },
			[]string{`metadata.name: Invalid value: "team.a": must not contain dots`}},
		{"finalizers", func(n *corev1.Namespace) { n.Spec.Finalizers = []corev1.FinalizerName{"cleanup"} },
			[]string{`spec.finalizers: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified`}},
	})
	status := ForSubresource(corev1.SchemeGroupVersion.WithKind("Namespace"), "status")
	n := validNamespace()
	n.Status.Phase = corev1.NamespaceTerminating
	wantErrors(t, status(n, validNamespace()), "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty")
	finalize := ForSubresource(corev1.SchemeGroupVersion.WithKind("Namespace"), "finalize")
	n = validNamespace()
	n.Spec.Finalizers = append(n.Spec.Finalizers, "cleanup")
	wantErrors(t, finalize(n, validNamespace()), `spec.finalizers[1]: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified`)
}

func TestNode(t *testing.T) {
	runCases(t, validNode, []errCase[*corev1.Node]{
		{"taints have an effect", func(n *corev1.Node) { n.Spec.Taints[0].Effect = "" },
			[]string{"metadata.taints[0].effect: Required value"}},
		{"taint effects", func(n *corev1.Node) { n.Spec.Taints[0].Effect = "NoRun" },
			[]string{`metadata.taints[0].effect: Unsupported value: "NoRun": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`}},
		{"taints are unique by key and effect", func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, n.Spec.Taints[0]) },
			[]string{`metadata.taints[1]: Duplicate value: {"Key":"node-role.kubernetes.io/control-plane","Value":"","Effect":"NoSchedule","TimeAdded":null}: taints must be unique by key and effect pair`}},
		{"pod CIDRs", func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.1.0/33", []string{"10.244.1.0/33"} },
			[]string{`spec.podCIDRs[0]: Invalid value: "10.244.1.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`}},
		{"one pod CIDR per family", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24", "10.245.1.0/24"} },
			[]string{`spec.podCIDRs: Invalid value: ["10.244.1.0/24","10.245.1.0/24"]: may specify no more than one CIDR for each IP family`}},
		{"capacity", func(n *corev1.Node) {
			n.Status.Capacity = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1.5")}
		},
			[]string{`status.capacity.pods: Invalid value: "1500m": must be an integer`}},
	})
	runUpdateCases(t, validNode, []updateCase[*corev1.Node]{
		{name: "pod CIDRs are assigned once", old: func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "", nil },
			mutate: func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.1.0/24", []string{"10.244.1.0/24"} }},
		{name: "pod CIDRs are fixed", mutate: func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.2.0/24", []string{"10.244.2.0/24"} },
			want: []string{`spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid`}},
		{name: "taints may change", mutate: func(n *corev1.Node) { n.Spec.Taints = nil }},
	})
}

func TestEndpoints(t *testing.T) {
	runCases(t, validEndpoints, []errCase[*corev1.Endpoints]{
		{"subsets have addresses", func(e *corev1.Endpoints) { e.Subsets[0].Addresses = nil },
			[]string{"subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"}},
		{"addresses are not special", func(e *corev1.Endpoints) { e.Subsets[0].Addresses[0].IP = "127.0.0.1" },
			[]string{`subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`}},
		{"ports are named when there are several", func(e *corev1.Endpoints) {
			e.Subsets[0].Ports = append(e.Subsets[0].Ports, corev1.EndpointPort{Port: 9090})
		}, []string{"subsets[0].ports[1].name: Required value"}},
	})
}

func TestCoreEvent(t *testing.T) {
	runCases(t, validCoreEvent, []errCase[*corev1.Event]{
		{"events live with their object", func(e *corev1.Event) { e.InvolvedObject.Namespace = "other" },
			[]string{`involvedObject.namespace: Invalid value: "other": does not match event.namespace`}},
		{"new-style events say who reports them", func(e *corev1.Event) { e.EventTime = metav1.NowMicro() },
			[]string{
				"reportingController: Required value",
				`reportingController: Invalid value: "": name part must be non-empty`,
				`reportingController: Invalid value: "": ` + labelKeyName,
				"reportingInstance: Required value",
				"action: Required value",
			}},
	})
}

func TestResourceQuota(t *testing.T) {
	runCases(t, validResourceQuota, []errCase[*corev1.ResourceQuota]{
		{"resource names", func(q *corev1.ResourceQuota) { q.Spec.Hard["gpus"] = resource.MustParse("1") },
			[]string{
				`spec.hard[gpus]: Invalid value: "gpus": must be a standard resource type or fully qualified`,
				`spec.hard[gpus]: Invalid value: "gpus": must be a standard resource for quota`,
			}},
		{"quantities", func(q *corev1.ResourceQuota) { q.Spec.Hard[corev1.ResourcePods] = resource.MustParse("-1") },
			[]string{`spec.hard[pods]: Invalid value: "-1": must be greater than or equal to 0`}},
		{"scopes", func(q *corev1.ResourceQuota) {
			delete(q.Spec.Hard, corev1.ResourceRequestsCPU)
			q.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort}
		}, []string{`spec.scopes: Invalid value: ["BestEffort","NotBestEffort"]: conflicting scopes`}},
		{"scopes fit the resources", func(q *corev1.ResourceQuota) {
			q.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}
		},
			[]string{`spec.scopes: Invalid value: ["BestEffort"]: unsupported scope applied to resource`}},
	})
	runUpdateCases(t, validResourceQuota, []updateCase[*corev1.ResourceQuota]{
		{name: "scopes are fixed", mutate: func(q *corev1.ResourceQuota) {
			q.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeTerminating}
		},
			want: []string{`spec.scopes: Invalid value: ["Terminating"]: field is immutable`}},
	})
}

func TestLimitRange(t *testing.T) {
	runCases(t, validLimitRange, []errCase[*corev1.LimitRange]{
		{"min fits max", func(l *corev1.LimitRange) {
			l.Spec.Limits[0].Min = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}
		},
			[]string{
				`spec.limits[0].min[cpu]: Invalid value: "3": min value 3 is greater than max value 2`,
				`spec.limits[0].default[cpu]: Invalid value: "3": min value 3 is greater than default value 500m`,
			}},
		{"types", func(l *corev1.LimitRange) { l.Spec.Limits[0].Type = "Node" },
			[]string{`spec.limits[0].type: Invalid value: "Node": must be a standard limit type or fully qualified`}},
		{"pods have no defaults", func(l *corev1.LimitRange) { l.Spec.Limits[0].Type = corev1.LimitTypePod },
			[]string{"spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"}},
	})
}

func TestPersistentVolumeClaim(t *testing.T) {
	runCases(t, validPVC, []errCase[*corev1.PersistentVolumeClaim]{
		{"access modes are required", func(c *corev1.PersistentVolumeClaim) { c.Spec.AccessModes = nil },
			[]string{"spec.accessModes: Required value: at least 1 access mode is required"}},
		{"access modes", func(c *corev1.PersistentVolumeClaim) {
			c.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{"ReadWriteSometimes"}
		},
			[]string{`spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"`}},
		{"storage is requested", func(c *corev1.PersistentVolumeClaim) { c.Spec.Resources.Requests = nil },
			[]string{"spec.resources[storage]: Required value"}},
		{"storage is positive", func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("0")
		}, []string{`spec.resources[storage]: Invalid value: "0": must be greater than zero`}},
	})
	bound := func(c *corev1.PersistentVolumeClaim) {
		c.Spec.VolumeName = "pv-1"
		c.Status.Phase = corev1.ClaimBound
		c.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
	}
	runUpdateCases(t, validPVC, []updateCase[*corev1.PersistentVolumeClaim]{
		{name: "claims are bound once", mutate: func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv-1" }},
		{name: "bound claims may grow", old: bound, mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
		}},
		{name: "claims do not shrink below their volume", old: bound, mutate: func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("512Mi")
		}, want: []string{"spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"}},
	})
	old, c := validPVC(), validPVC()
	c.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
	errs := validateUpdate(t, c, old)
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n") {
		t.Errorf("got %v", errs)
	}
}

func TestPersistentVolume(t *testing.T) {
	runCases(t, validPV, []errCase[*corev1.PersistentVolume]{
		{"capacity", func(v *corev1.PersistentVolume) { v.Spec.Capacity = nil },
			[]string{"spec.capacity: Required value", `spec.capacity: Unsupported value: null: supported values: "storage"`}},
		{"a source", func(v *corev1.PersistentVolume) { v.Spec.HostPath = nil },
			[]string{"spec: Required value: must specify a volume type"}},
		{"local volumes stay on their node", func(v *corev1.PersistentVolume) {
			v.Spec.HostPath, v.Spec.Local = nil, &corev1.LocalVolumeSource{Path: "/mnt/disk"}
		}, []string{"spec.nodeAffinity: Required value: Local volume requires node affinity"}},
		{"reclaim policies", func(v *corev1.PersistentVolume) { v.Spec.PersistentVolumeReclaimPolicy = "Keep" },
			[]string{`spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"`}},
	})
	old, v := validPV(), validPV()
	v.Spec.HostPath.Path = "/elsewhere"
	errs := validateUpdate(t, v, old)
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation\n") {
		t.Errorf("got %v", errs)
	}
}

func TestReplicationController(t *testing.T) {
	runCases(t, validRC, []errCase[*corev1.ReplicationController]{
		{"selectors select the template", func(r *corev1.ReplicationController) { r.Spec.Selector = map[string]string{"app": "api"} },
			[]string{`spec.template.metadata.labels: Invalid value: {"app":"web"}: ` + "`selector` does not match template `labels`"}},
		{"pods restart", func(r *corev1.ReplicationController) { r.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`}},
		{"templates are required", func(r *corev1.ReplicationController) { r.Spec.Template = nil },
			[]string{"spec.template: Required value"}},
		{"replicas", func(r *corev1.ReplicationController) { r.Spec.Replicas = ptr(int32(-1)) },
			[]string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"}},
	})
}
