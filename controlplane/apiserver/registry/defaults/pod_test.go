package defaults_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kindish/kindish/controlplane/apiserver/registry/defaults"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestPod(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "web", Namespace: "default"}
	runCases(t, defaults.Pod, []defaultingCase[corev1.Pod]{
		{
			name: "a minimal pod gets the pod spec defaults and service links",
			in:   &corev1.Pod{ObjectMeta: meta, Spec: minimalPodSpec()},
			want: &corev1.Pod{ObjectMeta: meta, Spec: func() corev1.PodSpec {
				s := defaultedPodSpec()
				s.EnableServiceLinks = new(true)
				return s
			}()},
		},
		{
			name: "every nested default: volumes, containers, probes, env, lifecycle, service account, status",
			in: &corev1.Pod{ObjectMeta: meta,
				Spec: corev1.PodSpec{
					DeprecatedServiceAccount: "builder",
					Volumes: []corev1.Volume{
						{Name: "scratch"},
						{Name: "logs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}},
						{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}},
						{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}}}},
						{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
							{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
						}}}},
						{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
							{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
							{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
								{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
							}}},
						}}}},
						{Name: "cache", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
							VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{
								AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
								Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q("1Gi")}},
							}},
						}}},
						{Name: "tools", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "quay.io/org/tools"}}},
						{Name: "rbd", VolumeSource: corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{CephMonitors: []string{"mon:6789"}, RBDImage: "img"}}},
						{Name: "iscsi", VolumeSource: corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{TargetPortal: "10.0.0.1:3260", IQN: "iqn.2001-04.com.example:storage", Lun: 0}}},
						{Name: "azure", VolumeSource: corev1.VolumeSource{AzureDisk: &corev1.AzureDiskVolumeSource{DiskName: "d", DataDiskURI: "https://example/d.vhd"}}},
						{Name: "scaleio", VolumeSource: corev1.VolumeSource{ScaleIO: &corev1.ScaleIOVolumeSource{Gateway: "https://gw", System: "sys", SecretRef: &corev1.LocalObjectReference{Name: "s"}}}},
					},
					InitContainers: []corev1.Container{{
						Name:  "setup",
						Image: "busybox@" + digest,
						Resources: corev1.ResourceRequirements{
							Limits:   corev1.ResourceList{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("64Mi")},
							Requests: corev1.ResourceList{corev1.ResourceMemory: q("32Mi")},
						},
					}},
					Containers: []corev1.Container{{
						Name:  "app",
						Image: "localhost:5000/app",
						Ports: []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
						Env: []corev1.EnvVar{
							{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
							{Name: "FROM_FILE", ValueFrom: &corev1.EnvVarSource{FileKeyRef: &corev1.FileKeySelector{VolumeName: "scratch", Path: "env", Key: "K"}}},
							{Name: "PLAIN", Value: "x"},
						},
						Resources:      corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("500m"), corev1.ResourceMemory: q("128Mi")}},
						LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(8080)}}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090}}},
						StartupProbe:   &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}, FailureThreshold: 30},
						Lifecycle: &corev1.Lifecycle{
							PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}},
							PreStop:   &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/drain", Port: intstr.FromString("http")}},
						},
					}},
					EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
						Name:  "debugger",
						Image: "busybox:latest@" + digest,
						Ports: []corev1.ContainerPort{{ContainerPort: 9000}},
					}}},
				},
				Status: corev1.PodStatus{PodIP: "10.244.0.5", HostIP: "172.18.0.2"},
			},
			want: &corev1.Pod{ObjectMeta: meta,
				Spec: corev1.PodSpec{
					ServiceAccountName:       "builder",
					DeprecatedServiceAccount: "builder",
					Volumes: []corev1.Volume{
						{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
						{Name: "logs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log", Type: new(corev1.HostPathUnset)}}},
						{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds", DefaultMode: new(int32(0o644))}}},
						{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}, DefaultMode: new(int32(0o644))}}},
						{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
							Items: []corev1.DownwardAPIVolumeFile{
								{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels"}},
							},
							DefaultMode: new(int32(0o644)),
						}}},
						{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
							Sources: []corev1.VolumeProjection{
								{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: new(int64(3600))}},
								{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
									{Path: "name", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}},
								}}},
							},
							DefaultMode: new(int32(0o644)),
						}}},
						{Name: "cache", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
							VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{
								AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
								Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q("1Gi")}},
								VolumeMode:  new(corev1.PersistentVolumeFilesystem),
							}},
						}}},
						{Name: "tools", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "quay.io/org/tools", PullPolicy: corev1.PullAlways}}},
						{Name: "rbd", VolumeSource: corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{CephMonitors: []string{"mon:6789"}, RBDImage: "img", RBDPool: "rbd", RadosUser: "admin", Keyring: "/etc/ceph/keyring"}}},
						{Name: "iscsi", VolumeSource: corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{TargetPortal: "10.0.0.1:3260", IQN: "iqn.2001-04.com.example:storage", Lun: 0, ISCSIInterface: "default"}}},
						{Name: "azure", VolumeSource: corev1.VolumeSource{AzureDisk: &corev1.AzureDiskVolumeSource{
							DiskName: "d", DataDiskURI: "https://example/d.vhd",
							CachingMode: new(corev1.AzureDataDiskCachingReadWrite), FSType: new("ext4"), ReadOnly: new(false), Kind: new(corev1.AzureSharedBlobDisk),
						}}},
						{Name: "scaleio", VolumeSource: corev1.VolumeSource{ScaleIO: &corev1.ScaleIOVolumeSource{Gateway: "https://gw", System: "sys", SecretRef: &corev1.LocalObjectReference{Name: "s"}, StorageMode: "ThinProvisioned", FSType: "xfs"}}},
					},
					InitContainers: []corev1.Container{{
						Name:  "setup",
						Image: "busybox@" + digest,
						Resources: corev1.ResourceRequirements{
							Limits:   corev1.ResourceList{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("64Mi")},
							Requests: corev1.ResourceList{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("32Mi")},
						},
						ImagePullPolicy:          corev1.PullIfNotPresent,
						TerminationMessagePath:   "/dev/termination-log",
						TerminationMessagePolicy: corev1.TerminationMessageReadFile,
					}},
					Containers: []corev1.Container{{
						Name:  "app",
						Image: "localhost:5000/app",
						Ports: []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
						Env: []corev1.EnvVar{
							{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
							{Name: "FROM_FILE", ValueFrom: &corev1.EnvVarSource{FileKeyRef: &corev1.FileKeySelector{VolumeName: "scratch", Path: "env", Key: "K", Optional: new(false)}}},
							{Name: "PLAIN", Value: "x"},
						},
						Resources: corev1.ResourceRequirements{
							Limits:   corev1.ResourceList{corev1.ResourceCPU: q("500m"), corev1.ResourceMemory: q("128Mi")},
							Requests: corev1.ResourceList{corev1.ResourceCPU: q("500m"), corev1.ResourceMemory: q("128Mi")},
						},
						LivenessProbe: &corev1.Probe{
							ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080), Scheme: corev1.URISchemeHTTP}},
							TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
						},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:   corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090, Service: new("")}},
							TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
						},
						StartupProbe: &corev1.Probe{
							ProbeHandler:   corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}},
							TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 30,
						},
						Lifecycle: &corev1.Lifecycle{
							PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}},
							PreStop:   &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/drain", Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTP}},
						},
						ImagePullPolicy:          corev1.PullAlways,
						TerminationMessagePath:   "/dev/termination-log",
						TerminationMessagePolicy: corev1.TerminationMessageReadFile,
					}},
					EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
						Name:                     "debugger",
						Image:                    "busybox:latest@" + digest,
						Ports:                    []corev1.ContainerPort{{ContainerPort: 9000, Protocol: corev1.ProtocolTCP}},
						ImagePullPolicy:          corev1.PullAlways,
						TerminationMessagePath:   "/dev/termination-log",
						TerminationMessagePolicy: corev1.TerminationMessageReadFile,
					}}},
					RestartPolicy:                 corev1.RestartPolicyAlways,
					TerminationGracePeriodSeconds: new(int64(30)),
					DNSPolicy:                     corev1.DNSClusterFirst,
					SecurityContext:               &corev1.PodSecurityContext{},
					SchedulerName:                 "default-scheduler",
					EnableServiceLinks:            new(true),
				},
				Status: corev1.PodStatus{
					PodIP: "10.244.0.5", PodIPs: []corev1.PodIP{{IP: "10.244.0.5"}},
					HostIP: "172.18.0.2", HostIPs: []corev1.HostIP{{IP: "172.18.0.2"}},
				},
			},
		},
		{
			name: "values given are kept; serviceAccount follows serviceAccountName",
			in: &corev1.Pod{ObjectMeta: meta, Spec: corev1.PodSpec{
				ServiceAccountName:            "runner",
				DeprecatedServiceAccount:      "stale",
				RestartPolicy:                 corev1.RestartPolicyNever,
				DNSPolicy:                     corev1.DNSDefault,
				TerminationGracePeriodSeconds: new(int64(5)),
				SchedulerName:                 "custom",
				SecurityContext:               &corev1.PodSecurityContext{RunAsNonRoot: new(true)},
				EnableServiceLinks:            new(false),
				Containers: []corev1.Container{{
					Name: "app", Image: "nginx", ImagePullPolicy: corev1.PullNever,
					TerminationMessagePath: "/tmp/msg", TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
					Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("2")}, Requests: corev1.ResourceList{corev1.ResourceCPU: q("1")}},
				}},
			}},
			want: &corev1.Pod{ObjectMeta: meta, Spec: corev1.PodSpec{
				ServiceAccountName:            "runner",
				DeprecatedServiceAccount:      "runner",
				RestartPolicy:                 corev1.RestartPolicyNever,
				DNSPolicy:                     corev1.DNSDefault,
				TerminationGracePeriodSeconds: new(int64(5)),
				SchedulerName:                 "custom",
				SecurityContext:               &corev1.PodSecurityContext{RunAsNonRoot: new(true)},
				EnableServiceLinks:            new(false),
				Containers: []corev1.Container{{
					Name: "app", Image: "nginx", ImagePullPolicy: corev1.PullNever,
					TerminationMessagePath: "/tmp/msg", TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
					Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("2")}, Requests: corev1.ResourceList{corev1.ResourceCPU: q("1")}},
				}},
			}},
		},
		{
			name: "on the host network, ports without a host port take the container port",
			in: &corev1.Pod{ObjectMeta: meta, Spec: corev1.PodSpec{
				HostNetwork:    true,
				InitContainers: []corev1.Container{{Name: "init", Image: "busybox:1", Ports: []corev1.ContainerPort{{ContainerPort: 7000}}}},
				Containers:     []corev1.Container{{Name: "app", Image: "nginx:1.27", Ports: []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 9090, HostPort: 19090}}}},
			}},
			want: &corev1.Pod{ObjectMeta: meta, Spec: func() corev1.PodSpec {
				s := defaultedPodSpec()
				s.HostNetwork = true
				s.EnableServiceLinks = new(true)
				s.Containers[0].Ports = []corev1.ContainerPort{
					{ContainerPort: 8080, HostPort: 8080, Protocol: corev1.ProtocolTCP},
					{ContainerPort: 9090, HostPort: 19090, Protocol: corev1.ProtocolTCP},
				}
				s.InitContainers = []corev1.Container{{
					Name: "init", Image: "busybox:1",
					Ports:                    []corev1.ContainerPort{{ContainerPort: 7000, HostPort: 7000, Protocol: corev1.ProtocolTCP}},
					ImagePullPolicy:          corev1.PullIfNotPresent,
					TerminationMessagePath:   "/dev/termination-log",
					TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				}}
				return s
			}()},
		},
		{
			name: "quantities finer than a thousandth round up",
			in: &corev1.Pod{ObjectMeta: meta, Spec: corev1.PodSpec{
				Overhead:   corev1.ResourceList{corev1.ResourceCPU: q("250u")},
				Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("100u")}}}},
			}},
			want: &corev1.Pod{ObjectMeta: meta, Spec: func() corev1.PodSpec {
				s := defaultedPodSpec()
				s.EnableServiceLinks = new(true)
				s.Overhead = corev1.ResourceList{corev1.ResourceCPU: q("1m")}
				s.Containers[0].Resources = corev1.ResourceRequirements{
					Limits:   corev1.ResourceList{corev1.ResourceCPU: q("1m")},
					Requests: corev1.ResourceList{corev1.ResourceCPU: q("1m")},
				}
				return s
			}()},
		},
		{
			name: "status: podIP wins over a list that disagrees; hostIP comes from hostIPs",
			in: &corev1.Pod{ObjectMeta: meta, Spec: minimalPodSpec(), Status: corev1.PodStatus{
				PodIP:   "10.244.0.9",
				PodIPs:  []corev1.PodIP{{IP: "10.244.0.5"}, {IP: "fd00::5"}},
				HostIPs: []corev1.HostIP{{IP: "172.18.0.2"}, {IP: "fc00::2"}},
			}},
			want: &corev1.Pod{ObjectMeta: meta, Spec: func() corev1.PodSpec {
				s := defaultedPodSpec()
				s.EnableServiceLinks = new(true)
				return s
			}(), Status: corev1.PodStatus{
				PodIP:   "10.244.0.9",
				PodIPs:  []corev1.PodIP{{IP: "10.244.0.9"}},
				HostIP:  "172.18.0.2",
				HostIPs: []corev1.HostIP{{IP: "172.18.0.2"}, {IP: "fc00::2"}},
			}},
		},
	})
}

func TestImagePullPolicy(t *testing.T) {
	tests := []struct {
		image string
		want  corev1.PullPolicy
	}{
		{"nginx", corev1.PullAlways},
		{"nginx:latest", corev1.PullAlways},
		{"docker.io/library/nginx:1.27", corev1.PullIfNotPresent},
		{"nginx@" + digest, corev1.PullIfNotPresent},
		{"nginx:latest@" + digest, corev1.PullAlways},
		{"nginx:1.27@" + digest, corev1.PullIfNotPresent},
		{"localhost:5000/app", corev1.PullAlways},
		{"localhost:5000/app:v1", corev1.PullIfNotPresent},
		{"registry.k8s.io/pause:3.10", corev1.PullIfNotPresent},
		// References that do not parse are not guessed at.
		{"", corev1.PullIfNotPresent},
		{"Nginx", corev1.PullIfNotPresent},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: tt.image}}}}
			defaults.Pod(pod)
			if got := pod.Spec.Containers[0].ImagePullPolicy; got != tt.want {
				t.Errorf("image %q: pull policy %s, want %s", tt.image, got, tt.want)
			}
		})
	}
}

// Pod-level resources: requests from what the containers request together
// (sidecars counted as the scheduler does), else from the pod's limits;
// hugepage limits from the containers'.
func TestPodLevelResources(t *testing.T) {
	always := new(corev1.ContainerRestartPolicyAlways)
	req := func(rl corev1.ResourceList) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: rl}
	}
	tests := []struct {
		name       string
		init       []corev1.Container
		containers []corev1.Container
		podIn      *corev1.ResourceRequirements
		want       *corev1.ResourceRequirements
	}{
		{
			name:       "pod limits and no container requests: requests are the limits",
			containers: []corev1.Container{{Name: "a", Image: "a:1"}},
			podIn:      &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("1Gi")}},
			want: &corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("1Gi")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("1Gi")},
			},
		},
		{
			name: "container requests add up",
			containers: []corev1.Container{
				{Name: "a", Image: "a:1", Resources: req(corev1.ResourceList{corev1.ResourceCPU: q("500m"), corev1.ResourceMemory: q("64Mi")})},
				{Name: "b", Image: "b:1", Resources: req(corev1.ResourceList{corev1.ResourceCPU: q("250m")})},
			},
			podIn: &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("2")}},
			want: &corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: q("2")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: q("750m"), corev1.ResourceMemory: q("64Mi")},
			},
		},
		{
			name: "an init container runs beside the sidecars started before it",
			init: []corev1.Container{
				{Name: "sidecar", Image: "s:1", RestartPolicy: always, Resources: req(corev1.ResourceList{corev1.ResourceCPU: q("100m")})},
				{Name: "migrate", Image: "m:1", Resources: req(corev1.ResourceList{corev1.ResourceCPU: q("1")})},
			},
			containers: []corev1.Container{{Name: "a", Image: "a:1", Resources: req(corev1.ResourceList{corev1.ResourceCPU: q("200m")})}},
			podIn:      &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("2")}},
			want: &corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: q("2")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: q("1100m")},
			},
		},
		{
			name: "hugepages limited by containers are limited and requested by the pod",
			containers: []corev1.Container{{Name: "a", Image: "a:1", Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{"hugepages-2Mi": q("4Mi")},
			}}},
			podIn: &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q("1")}},
			want: &corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{"hugepages-2Mi": q("4Mi")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: q("1"), "hugepages-2Mi": q("4Mi")},
			},
		},
		{
			name:       "pod requests alone leave CPU and memory limits unset",
			containers: []corev1.Container{{Name: "a", Image: "a:1", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("1")}}}},
			podIn:      &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q("500m")}},
			want:       &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q("500m")}},
		},
		{
			name:       "empty pod resources stay empty",
			containers: []corev1.Container{{Name: "a", Image: "a:1", Resources: req(corev1.ResourceList{corev1.ResourceCPU: q("1")})}},
			podIn:      &corev1.ResourceRequirements{},
			want:       &corev1.ResourceRequirements{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{InitContainers: tt.init, Containers: tt.containers, Resources: tt.podIn}}
			defaults.Pod(pod)
			if d := cmpDiff(tt.want, pod.Spec.Resources); d != "" {
				t.Errorf("pod resources (-want +got):\n%s", d)
			}
		})
	}
}

// Templates get the pod spec's defaults but not the pod's own: no service
// links, no requests from limits, no pod-level resources, no host ports.
func TestPodTemplateSpecLeavesPodOnlyDefaultsOut(t *testing.T) {
	limits := corev1.ResourceList{corev1.ResourceCPU: q("1")}
	in := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		HostNetwork: true,
		Resources:   &corev1.ResourceRequirements{Limits: limits.DeepCopy()},
		Containers: []corev1.Container{{
			Name: "app", Image: "nginx:1.27",
			Ports:     []corev1.ContainerPort{{ContainerPort: 80}},
			Resources: corev1.ResourceRequirements{Limits: limits.DeepCopy()},
		}},
	}}
	want := defaultedTemplate()
	want.Spec.HostNetwork = true
	want.Spec.Resources = &corev1.ResourceRequirements{Limits: limits.DeepCopy()}
	want.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}}
	want.Spec.Containers[0].Resources = corev1.ResourceRequirements{Limits: limits.DeepCopy()}
	runCases(t, defaults.PodTemplateSpec, []defaultingCase[corev1.PodTemplateSpec]{{name: "template", in: in, want: &want}})
}
