package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	dnsLabelMsg    = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
	subdomainMsg   = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
	labelValueMsg  = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
	labelKeyName   = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
	envVarNameMsg  = "a valid environment variable name must consist only of printable ASCII characters other than '='"
	portNumMsg     = "must be between 1 and 65535, inclusive"
	protocolValues = `supported values: "SCTP", "TCP", "UDP"`
)

func TestPodValidation(t *testing.T) {
	c0 := func(p *corev1.Pod) *corev1.Container { return &p.Spec.Containers[0] }
	runCases(t, validPod, []errCase[*corev1.Pod]{
		{"containers are required", func(p *corev1.Pod) { p.Spec.Containers = nil },
			[]string{"spec.containers: Required value"}},
		{"image is required", func(p *corev1.Pod) { c0(p).Image = "" },
			[]string{"spec.containers[0].image: Required value"}},
		{"image without surrounding spaces", func(p *corev1.Pod) { c0(p).Image = " nginx" },
			[]string{`spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace`}},
		{"container name is required", func(p *corev1.Pod) { c0(p).Name = "" },
			[]string{"spec.containers[0].name: Required value"}},
		{"container name is a DNS label", func(p *corev1.Pod) { c0(p).Name = "App_1" },
			[]string{`spec.containers[0].name: Invalid value: "App_1": ` + dnsLabelMsg}},
		{"container names are unique", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "app", Image: "redis"})
		}, []string{`spec.containers[1].name: Duplicate value: "app"`}},
		{"container names are unique across init containers", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "app", Image: "busybox"}}
		}, []string{`spec.initContainers[0].name: Duplicate value: "app"`}},
		{"containerPort is required", func(p *corev1.Pod) { c0(p).Ports = []corev1.ContainerPort{{Name: "http"}} },
			[]string{"spec.containers[0].ports[0].containerPort: Required value"}},
		{"containerPort is a port number", func(p *corev1.Pod) { c0(p).Ports = []corev1.ContainerPort{{ContainerPort: 70000}} },
			[]string{"spec.containers[0].ports[0].containerPort: Invalid value: 70000: " + portNumMsg}},
		{"port protocols", func(p *corev1.Pod) { c0(p).Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: "HTTP"}} },
			[]string{`spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": ` + protocolValues}},
		{"port names are IANA service names", func(p *corev1.Pod) { c0(p).Ports = []corev1.ContainerPort{{Name: "Web", ContainerPort: 80}} },
			[]string{`spec.containers[0].ports[0].name: Invalid value: "Web": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`}},
		{"port names are unique", func(p *corev1.Pod) {
			c0(p).Ports = []corev1.ContainerPort{{Name: "web", ContainerPort: 80}, {Name: "web", ContainerPort: 81}}
		}, []string{`spec.containers[0].ports[1].name: Duplicate value: "web"`}},
		{"host ports do not collide", func(p *corev1.Pod) {
			c0(p).Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}, {ContainerPort: 81, HostPort: 8080}}
		}, []string{`spec.containers[0].ports[1].hostPort: Duplicate value: "TCP//8080"`}},
		{"env var names", func(p *corev1.Pod) { c0(p).Env = []corev1.EnvVar{{Name: "A=B"}} },
			[]string{`spec.containers[0].env[0].name: Invalid value: "A=B": ` + envVarNameMsg}},
		{"env var names are required", func(p *corev1.Pod) { c0(p).Env = []corev1.EnvVar{{Value: "x"}} },
			[]string{"spec.containers[0].env[0].name: Required value"}},
		{"valueFrom needs a source", func(p *corev1.Pod) { c0(p).Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{}}} },
			[]string{"spec.containers[0].env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"}},
		{"valueFrom has one source", func(p *corev1.Pod) {
			c0(p).Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{
				FieldRef:        &corev1.ObjectFieldSelector{FieldPath: "metadata.name"},
				ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, Key: "k"},
			}}}
		}, []string{`spec.containers[0].env[0].valueFrom: Invalid value: "": may not have more than one field specified at a time`}},
		{"valueFrom or value", func(p *corev1.Pod) {
			c0(p).Env = []corev1.EnvVar{{Name: "A", Value: "x", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
		}, []string{"spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty"}},
		{"fieldRef paths", func(p *corev1.Pod) {
			c0(p).Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}
		}, []string{`spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "metadata.labels": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"`}},
		{"unknown fieldRef paths", func(p *corev1.Pod) {
			c0(p).Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.foo"}}}}
		}, []string{`spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Invalid value: "spec.foo": error converting fieldPath: field label not supported: spec.foo`}},
		{"secretKeyRef needs a key", func(p *corev1.Pod) {
			c0(p).Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}}}
		}, []string{"spec.containers[0].env[0].valueFrom.secretKeyRef.key: Required value"}},
		{"envFrom prefixes", func(p *corev1.Pod) {
			c0(p).EnvFrom = []corev1.EnvFromSource{{Prefix: "A=", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}}
		}, []string{`spec.containers[0].envFrom[0].prefix: Invalid value: "A=": ` + envVarNameMsg}},
		{"envFrom needs a source", func(p *corev1.Pod) { c0(p).EnvFrom = []corev1.EnvFromSource{{Prefix: "A_"}} },
			[]string{"spec.containers[0].envFrom: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`"}},
		{"volume names are DNS labels", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "Data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}, []string{`spec.volumes[0].name: Invalid value: "Data": ` + dnsLabelMsg}},
		{"volume names are unique", func(p *corev1.Pod) {
			v := corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
			p.Spec.Volumes = []corev1.Volume{v, v}
		}, []string{`spec.volumes[1].name: Duplicate value: "data"`}},
		{"volumes have a source", func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{{Name: "data"}} },
			[]string{"spec.volumes[0]: Required value: must specify a volume type"}},
		{"volumes have one source", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/tmp"},
			}}}
		}, []string{"spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"}},
		{"secret volumes name their secret", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{DefaultMode: ptr(int32(01000))}}}}
		}, []string{
			"spec.volumes[0].secret.secretName: Required value",
			"spec.volumes[0].secret.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive",
		}},
		{"configMap item paths stay inside the volume", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, Items: []corev1.KeyToPath{{Key: "k", Path: "../k"}},
			}}}}
		}, []string{`spec.volumes[0].configMap.items[0].path: Invalid value: "../k": must not contain '..'`}},
		{"hostPath types", func(p *corev1.Pod) {
			t := corev1.HostPathType("Dir")
			p.Spec.Volumes = []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x", Type: &t}}}}
		}, []string{`spec.volumes[0].hostPath.type: Unsupported value: "Dir": supported values: "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"`}},
		{"mounts name volumes", func(p *corev1.Pod) { c0(p).VolumeMounts = []corev1.VolumeMount{{Name: "missing", MountPath: "/m"}} },
			[]string{`spec.containers[0].volumeMounts[0].name: Not found: "missing"`}},
		{"mounts have a path", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			c0(p).VolumeMounts = []corev1.VolumeMount{{Name: "data"}}
		}, []string{"spec.containers[0].volumeMounts[0].mountPath: Required value"}},
		{"mount paths are unique", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{
				{Name: "a", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "b", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			}
			c0(p).VolumeMounts = []corev1.VolumeMount{{Name: "a", MountPath: "/data"}, {Name: "b", MountPath: "/data"}}
		}, []string{`spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/data": must be unique`}},
		{"mounts of invalid volumes are not found", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data"}}
			c0(p).VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}, []string{
			"spec.volumes[0]: Required value: must specify a volume type",
			`spec.containers[0].volumeMounts[0].name: Not found: "data"`,
		}},
		{"requests fit in limits", func(p *corev1.Pod) {
			c0(p).Resources = corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			}
		}, []string{`spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1`}},
		{"quantities are not negative", func(p *corev1.Pod) {
			c0(p).Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1")}
		}, []string{`spec.containers[0].resources.limits[memory]: Invalid value: "-1": must be greater than or equal to 0`}},
		{"resource names are standard", func(p *corev1.Pod) {
			c0(p).Resources.Requests = corev1.ResourceList{"gpu": resource.MustParse("1")}
		}, []string{
			`spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource type or fully qualified`,
			`spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource for containers`,
		}},
		{"extended resources need limits", func(p *corev1.Pod) {
			c0(p).Resources.Requests = corev1.ResourceList{"example.com/gpu": resource.MustParse("1")}
		}, []string{"spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources"}},
		{"extended resources are whole", func(p *corev1.Pod) {
			c0(p).Resources.Limits = corev1.ResourceList{"example.com/gpu": resource.MustParse("500m")}
		}, []string{`spec.containers[0].resources.limits[example.com/gpu]: Invalid value: "500m": must be an integer`}},
		{"probes have a handler", func(p *corev1.Pod) { c0(p).LivenessProbe = &corev1.Probe{} },
			[]string{"spec.containers[0].livenessProbe: Required value: must specify a handler type"}},
		{"probes have one handler", func(p *corev1.Pod) {
			c0(p).ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				Exec: &corev1.ExecAction{Command: []string{"true"}}, TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)},
			}}
		}, []string{"spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"}},
		{"exec probes have a command", func(p *corev1.Pod) {
			c0(p).StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{}}}
		}, []string{"spec.containers[0].startupProbe.exec.command: Required value"}},
		{"liveness probes succeed once", func(p *corev1.Pod) {
			c0(p).LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}, SuccessThreshold: 2}
		}, []string{"spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"}},
		{"startup probes succeed once", func(p *corev1.Pod) {
			c0(p).StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}, SuccessThreshold: 3}
		}, []string{"spec.containers[0].startupProbe.successThreshold: Invalid value: 3: must be 1"}},
		{"probe thresholds are not negative", func(p *corev1.Pod) {
			c0(p).ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}, FailureThreshold: -1}
		}, []string{"spec.containers[0].readinessProbe.failureThreshold: Invalid value: -1: must be greater than or equal to 0"}},
		{"probe ports", func(p *corev1.Pod) {
			c0(p).ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(0)}}}
		}, []string{"spec.containers[0].readinessProbe.httpGet.port: Invalid value: 0: " + portNumMsg}},
		{"init containers without restartPolicy have no probes", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox",
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}}}}
		}, []string{"spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"}},
		{"restartPolicy values", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" },
			[]string{`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`}},
		{"dnsPolicy values", func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" },
			[]string{`spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"`}},
		{"dnsPolicy None needs a config", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone },
			[]string{"spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"}},
		{"dnsPolicy None needs nameservers", func(p *corev1.Pod) {
			p.Spec.DNSPolicy = corev1.DNSNone
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Searches: []string{"svc.cluster.local"}}
		}, []string{"spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when `dnsPolicy` is None"}},
		{"nameservers are IPs", func(p *corev1.Pod) { p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"dns"}} },
			[]string{`spec.dnsConfig.nameservers[0]: Invalid value: "dns": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`}},
		{"hostNetwork host ports are container ports", func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			c0(p).Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 8081}}
		}, []string{"spec.containers[0].ports[0].hostPort: Invalid value: 8081: must match `containerPort` when `hostNetwork` is true"}},
		{"terminationGracePeriodSeconds bounds sleeps", func(p *corev1.Pod) {
			p.Spec.TerminationGracePeriodSeconds = ptr(int64(5))
			c0(p).Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 10}}}
		}, []string{"spec.containers[0].lifecycle.preStop.sleep: Invalid value: 10: must be non-negative and less than terminationGracePeriodSeconds (5)"}},
		{"activeDeadlineSeconds is positive", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(0)) },
			[]string{"spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"}},
		{"nodeSelector holds labels", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "fast ssd"} },
			[]string{`spec.nodeSelector: Invalid value: "fast ssd": ` + labelValueMsg}},
		{"tolerations without a key match everything", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpEqual, Value: "x"}}
		}, []string{`spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when ` + "`key`" + ` is empty, which means "match all values and all keys"`}},
		{"Exists tolerations have no value", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"}}
		}, []string{"spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'"}},
		{"tolerationSeconds are for NoExecute", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptr(int64(60))}}
		}, []string{"spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set"}},
		{"toleration effects", func(p *corev1.Pod) { p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Effect: "Never"}} },
			[]string{`spec.tolerations[0].effect: Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`}},
		{"toleration operators", func(p *corev1.Pod) { p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: "In"}} },
			[]string{`spec.tolerations[0].operator: Unsupported value: "In": supported values: "Equal", "Exists"`}},
		{"node affinity operators", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: "Equals", Values: []string{"a"}}}}},
			}}}
		}, []string{`spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: Invalid value: "Equals": not a valid selector operator`}},
		{"node affinity needs terms", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{}}}
		}, []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term"}},
		{"pod affinity selectors", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn}}},
			}}}}
		}, []string{
			"spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
			"spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty",
			`spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Invalid value: "": name part must be non-empty`,
			`spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Invalid value: "": ` + labelKeyName,
		}},
		{"security context user IDs", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr(int64(-1))}
		}, []string{"spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive"}},
		{"privileged and no escalation conflict", func(p *corev1.Pod) {
			c0(p).SecurityContext = &corev1.SecurityContext{Privileged: ptr(true), AllowPrivilegeEscalation: ptr(false)}
		}, []string{`spec.containers[0].securityContext: Invalid value: {"privileged":true,"allowPrivilegeEscalation":false}: cannot set ` + "`allowPrivilegeEscalation`" + ` to false and ` + "`privileged`" + ` to true`}},
		{"seccomp localhost needs a profile", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}}
		}, []string{"spec.securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost"}},
		{"serviceAccountName is a subdomain", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "Builder" },
			[]string{`spec.serviceAccountName: Invalid value: "Builder": ` + subdomainMsg}},
		{"hostname is a DNS label", func(p *corev1.Pod) { p.Spec.Hostname = "a.b" },
			[]string{`spec.hostname: Invalid value: "a.b": must not contain dots`}},
		{"subdomain is a DNS label", func(p *corev1.Pod) { p.Spec.Subdomain = "-x" },
			[]string{`spec.subdomain: Invalid value: "-x": ` + dnsLabelMsg}},
		{"imagePullPolicy values", func(p *corev1.Pod) { c0(p).ImagePullPolicy = "Sometimes" },
			[]string{`spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"`}},
		{"terminationMessagePolicy values", func(p *corev1.Pod) { c0(p).TerminationMessagePolicy = "Logs" },
			[]string{`spec.containers[0].terminationMessagePolicy: Unsupported value: "Logs": supported values: "File", "FallbackToLogsOnError"`}},
		{"regular containers have no restartPolicy", func(p *corev1.Pod) { c0(p).RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways) },
			[]string{"spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers"}},
		{"ephemeral containers come later", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}}
		}, []string{"spec.ephemeralContainers: Forbidden: cannot be set on create"}},
		{"service account tokens need a service account", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "t", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}},
			}}}}
		}, []string{"spec.volumes[0].projected.sources[0].serviceAccountToken: Forbidden: must not be specified when serviceAccountName is not set"}},
		{"mirror pods are bound", func(p *corev1.Pod) { p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"} },
			[]string{`metadata.annotations[kubernetes.io/config.mirror]: Invalid value: "x": must set spec.nodeName if mirror pod annotation is set`}},
		{"deletion cost is an int32", func(p *corev1.Pod) {
			p.Annotations = map[string]string{"controller.kubernetes.io/pod-deletion-cost": "+1"}
		},
			[]string{`metadata.annotations[controller.kubernetes.io/pod-deletion-cost]: Invalid value: "+1": must be a 32bit integer`}},
		{"topology spread constraints", func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 0, TopologyKey: "zone", WhenUnsatisfiable: "Maybe"}}
		}, []string{
			"spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
			`spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: "Maybe": supported values: "DoNotSchedule", "ScheduleAnyway"`,
		}},
		{"scheduling gates are unique", func(p *corev1.Pod) {
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}, {Name: "example.com/wait"}}
		}, []string{`spec.schedulingGates[1]: Duplicate value: "example.com/wait"`}},
		{"a bound pod has no scheduling gates", func(p *corev1.Pod) {
			p.Spec.NodeName = "kindish-worker"
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
		}, []string{"spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared"}},
		{"os names", func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: "plan9"} },
			[]string{`spec.os: Unsupported value: "plan9": supported values: "linux", "windows"`}},
		{"linux pods have no windows options", func(p *corev1.Pod) {
			p.Spec.OS = &corev1.PodOS{Name: corev1.Linux}
			c0(p).SecurityContext = &corev1.SecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{}}
		}, []string{"spec.containers[0].securityContext.windowsOptions: Forbidden: windows options cannot be set for a linux pod"}},
	})
}

// Upstream defaults these fields before validating; leaving them empty
// must not be an error.
func TestPodAcceptsFieldsDefaultingFills(t *testing.T) {
	p := validPod()
	p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80}}
	p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}}
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}}
	p.Spec.HostNetwork = true
	wantErrors(t, validate(t, p))
}

func TestPodUpdate(t *testing.T) {
	withDeadline := func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(10)) }
	runUpdateCases(t, validPod, []updateCase[*corev1.Pod]{
		{name: "images may change", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.27" }},
		{name: "tolerations may be added", mutate: func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
		}},
		{name: "the deadline may shrink", old: withDeadline, mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(5)) }},
		{name: "the deadline may not grow", old: withDeadline, mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(20)) },
			want: []string{"spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value"}},
		{name: "the deadline may not go", old: withDeadline, mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = nil },
			want: []string{"spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value"}},
		{name: "containers may not come or go", mutate: func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b", Image: "b"})
		}, want: []string{"spec.containers: Forbidden: pod updates may not add or remove containers"}},
		{name: "tolerations may not go", old: func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
		}, mutate: func(p *corev1.Pod) { p.Spec.Tolerations = nil },
			want: []string{"spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"}},
		{name: "scheduling gates may only go", mutate: func(p *corev1.Pod) {
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
		}, want: []string{"spec.schedulingGates[0].name: Forbidden: only deletion is allowed, but found new scheduling gate 'example.com/wait'"}},
		{name: "the image is still required", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" },
			want: []string{"spec.containers[0].image: Required value", "spec.containers[0].image: Required value"}},
	})
}

// Everything else in a pod's spec is fixed, and the error shows how.
func TestPodUpdateOfOtherFieldsIsForbiddenWithADiff(t *testing.T) {
	old := validPod()
	p := validPod()
	p.Spec.Containers[0].Command = []string{"sleep", "infinity"}
	p.Spec.NodeName = "kindish-worker"
	errs := validateUpdate(t, p, old)
	if len(errs) != 1 {
		t.Fatalf("got %v", errs)
	}
	msg := errs[0].Error()
	head, diff, _ := strings.Cut(msg, "\n")
	wantHead := "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
	if head != wantHead {
		t.Errorf("got  %s\nwant %s", head, wantHead)
	}
	for _, want := range []string{"v1.PodSpec{", "Command:", `"sleep"`, "NodeName:", `"kindish-worker"`} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
}

func TestPodStatusUpdate(t *testing.T) {
	v := ForSubresource(corev1.SchemeGroupVersion.WithKind("Pod"), "status")
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"status may change", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodRunning
			p.Status.PodIPs = []corev1.PodIP{{IP: "10.244.1.5"}, {IP: "fd00::5"}}
		}, nil},
		{"binding is not a status update", func(p *corev1.Pod) { p.Spec.NodeName = "kindish-worker" },
			[]string{"status.nodeName: Forbidden: may not be changed directly"}},
		{"pod IPs", func(p *corev1.Pod) { p.Status.PodIPs = []corev1.PodIP{{IP: "10.244.1.5"}, {IP: "10.244.1.6"}} },
			[]string{`status.podIPs: Invalid value: [{"ip":"10.244.1.5"},{"ip":"10.244.1.6"}]: may specify no more than one IP for each IP family`}},
		{"terminated containers of Never pods stay terminated", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		}, []string{"status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := validPod()
			old.Spec.RestartPolicy = corev1.RestartPolicyNever
			old.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}}}
			p := old.DeepCopy()
			tc.mutate(p)
			wantErrors(t, v(p, old), tc.want...)
		})
	}
}

func TestBinding(t *testing.T) {
	b := &corev1.Binding{ObjectMeta: meta("x"), Target: corev1.ObjectReference{Kind: "Pod"}}
	wantErrors(t, validate(t, b),
		`target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"`,
		"target.name: Required value")
}
