package manifests

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kindish/kindish/cluster/pki"
	"github.com/kindish/kindish/images"
)

// Where the components find their files on the node, as on a kubeadm node.
const (
	etcdDataDir                 = "/var/lib/etcd"
	caCertsDir                  = "/etc/ssl/certs"
	schedulerKubeconfig         = "/etc/kubernetes/scheduler.conf"
	controllerManagerKubeconfig = "/etc/kubernetes/controller-manager.conf"
)

// etcd's ports on the node, as kubeadm's. Clients are served on loopback
// only: kindish's etcd refuses any other client address.
const (
	etcdClientURL  = "https://127.0.0.1:2379"
	etcdPeerPort   = 2380
	etcdMetricsURL = "http://127.0.0.1:2381"
	etcdProbePort  = 2381
)

// The components' secure ports, serving /healthz.
const (
	schedulerPort         = 10259
	controllerManagerPort = 10257
)

// serviceAccountIssuer is kubeadm's for the cluster.local domain, and the
// API server's default.
const serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// Annotations kubeadm puts on its static pods, which tools read to find
// the API server and etcd of a control-plane node.
const (
	apiServerEndpointAnnotation = "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"
	etcdClientURLsAnnotation    = "kubeadm.kubernetes.io/etcd.advertise-client-urls"
)

// systemNodeCriticalPriority is the value of the system-node-critical
// priority class, which kubeadm writes beside its name.
const systemNodeCriticalPriority = 2000001000

func etcdPod(p Params) *corev1.Pod {
	peerURL := "https://" + net.JoinHostPort(p.NodeIP, strconv.Itoa(etcdPeerPort))
	// The flags are those of cmd/kindish-node/etcd.go, with kubeadm's
	// values; kubeadm's listen and advertise client URLs add the node's
	// IP, which kindish's etcd does not serve clients on.
	flags := map[string]string{
		"advertise-client-urls":       etcdClientURL,
		"cert-file":                   pki.EtcdServerCertPath,
		"client-cert-auth":            "true",
		"data-dir":                    etcdDataDir,
		"initial-advertise-peer-urls": peerURL,
		"initial-cluster":             p.NodeName + "=" + peerURL,
		"key-file":                    pki.EtcdServerKeyPath,
		"listen-client-urls":          etcdClientURL,
		"listen-metrics-urls":         etcdMetricsURL,
		"listen-peer-urls":            peerURL,
		"name":                        p.NodeName,
		"peer-cert-file":              pki.EtcdPeerCertPath,
		"peer-client-cert-auth":       "true",
		"peer-key-file":               pki.EtcdPeerKeyPath,
		"peer-trusted-ca-file":        pki.EtcdCACertPath,
		"snapshot-count":              "10000",
		"trusted-ca-file":             pki.EtcdCACertPath,
	}
	const probeHost = "127.0.0.1"
	c := corev1.Container{
		Name:            images.Etcd.Name,
		Image:           p.EtcdImage,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         command(images.Etcd, flags, p.ExtraArgs),
		// kubeadm's probes since etcd 3.5.11, whose /livez and /readyz
		// tell a stuck member from a busy one.
		LivenessProbe:  livenessProbe(probeHost, "/livez", etcdProbePort, corev1.URISchemeHTTP),
		ReadinessProbe: readinessProbe(probeHost, "/readyz", etcdProbePort, corev1.URISchemeHTTP),
		StartupProbe:   startupProbe(probeHost, "/readyz", etcdProbePort, corev1.URISchemeHTTP),
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("100m"),
			corev1.ResourceMemory: resource.MustParse("100Mi"),
		}},
	}
	volumes := []hostPathVolume{
		{name: "etcd-data", path: etcdDataDir, kind: corev1.HostPathDirectoryOrCreate},
		{name: "etcd-certs", path: pki.EtcdDir, kind: corev1.HostPathDirectoryOrCreate, readOnly: true},
	}
	return componentPod(c, volumes, map[string]string{etcdClientURLsAnnotation: etcdClientURL})
}

func apiServerPod(p Params) *corev1.Pod {
	port := strconv.Itoa(int(p.APIServerPort))
	// kubeadm's flags, all of which cmd/kindish-node/apiserver.go defines;
	// those its server has no use for it accepts and ignores.
	flags := map[string]string{
		"advertise-address":                  p.NodeIP,
		"allow-privileged":                   "true",
		"authorization-mode":                 "Node,RBAC",
		"client-ca-file":                     pki.CACertPath,
		"enable-admission-plugins":           "NodeRestriction",
		"enable-bootstrap-token-auth":        "true",
		"etcd-cafile":                        pki.EtcdCACertPath,
		"etcd-certfile":                      pki.APIServerEtcdClientCertPath,
		"etcd-keyfile":                       pki.APIServerEtcdClientKeyPath,
		"etcd-servers":                       etcdClientURL,
		"kubelet-client-certificate":         pki.APIServerKubeletClientCertPath,
		"kubelet-client-key":                 pki.APIServerKubeletClientKeyPath,
		"kubelet-preferred-address-types":    "InternalIP,ExternalIP,Hostname",
		"proxy-client-cert-file":             pki.FrontProxyClientCertPath,
		"proxy-client-key-file":              pki.FrontProxyClientKeyPath,
		"requestheader-allowed-names":        "front-proxy-client",
		"requestheader-client-ca-file":       pki.FrontProxyCACertPath,
		"requestheader-extra-headers-prefix": "X-Remote-Extra-",
		"requestheader-group-headers":        "X-Remote-Group",
		"requestheader-username-headers":     "X-Remote-User",
		"secure-port":                        port,
		"service-account-issuer":             serviceAccountIssuer,
		"service-account-key-file":           pki.ServiceAccountPublicKeyPath,
		"service-account-signing-key-file":   pki.ServiceAccountKeyPath,
		"service-cluster-ip-range":           p.ServiceCIDR,
		"tls-cert-file":                      pki.APIServerCertPath,
		"tls-private-key-file":               pki.APIServerKeyPath,
	}
	// kubeadm probes the advertise address: the address clients use, and
	// the one the serving certificate is for.
	probeHost := p.NodeIP
	c := corev1.Container{
		Name:            images.KubeAPIServer.Name,
		Image:           p.KubeAPIServerImage,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         command(images.KubeAPIServer, flags, p.ExtraArgs),
		LivenessProbe:   livenessProbe(probeHost, "/livez", int(p.APIServerPort), corev1.URISchemeHTTPS),
		ReadinessProbe:  readinessProbe(probeHost, "/readyz", int(p.APIServerPort), corev1.URISchemeHTTPS),
		StartupProbe:    startupProbe(probeHost, "/livez", int(p.APIServerPort), corev1.URISchemeHTTPS),
		Resources:       cpuRequest("250m"),
	}
	volumes := []hostPathVolume{
		{name: "ca-certs", path: caCertsDir, kind: corev1.HostPathDirectoryOrCreate, readOnly: true},
		{name: "k8s-certs", path: pki.Dir, kind: corev1.HostPathDirectoryOrCreate, readOnly: true},
	}
	endpoint := net.JoinHostPort(p.NodeIP, port)
	return componentPod(c, volumes, map[string]string{apiServerEndpointAnnotation: endpoint})
}

func schedulerPod(p Params) *corev1.Pod {
	flags := map[string]string{
		"authentication-kubeconfig": schedulerKubeconfig,
		"authorization-kubeconfig":  schedulerKubeconfig,
		"bind-address":              "127.0.0.1",
		"kubeconfig":                schedulerKubeconfig,
		"leader-elect":              "true",
	}
	const probeHost = "127.0.0.1"
	c := corev1.Container{
		Name:            images.KubeScheduler.Name,
		Image:           p.KubeSchedulerImage,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         command(images.KubeScheduler, flags, p.ExtraArgs),
		LivenessProbe:   livenessProbe(probeHost, "/healthz", schedulerPort, corev1.URISchemeHTTPS),
		StartupProbe:    startupProbe(probeHost, "/healthz", schedulerPort, corev1.URISchemeHTTPS),
		Resources:       cpuRequest("100m"),
	}
	volumes := []hostPathVolume{
		{name: "kubeconfig", path: schedulerKubeconfig, kind: corev1.HostPathFileOrCreate, readOnly: true},
	}
	return componentPod(c, volumes, nil)
}

func controllerManagerPod(p Params) *corev1.Pod {
	flags := map[string]string{
		"allocate-node-cidrs":              "true",
		"authentication-kubeconfig":        controllerManagerKubeconfig,
		"authorization-kubeconfig":         controllerManagerKubeconfig,
		"bind-address":                     "127.0.0.1",
		"client-ca-file":                   pki.CACertPath,
		"cluster-cidr":                     p.PodCIDR,
		"cluster-name":                     p.ClusterName,
		"cluster-signing-cert-file":        pki.CACertPath,
		"cluster-signing-key-file":         pki.CAKeyPath,
		"controllers":                      "*,bootstrapsigner,tokencleaner",
		"kubeconfig":                       controllerManagerKubeconfig,
		"leader-elect":                     "true",
		"requestheader-client-ca-file":     pki.FrontProxyCACertPath,
		"root-ca-file":                     pki.CACertPath,
		"service-account-private-key-file": pki.ServiceAccountKeyPath,
		"service-cluster-ip-range":         p.ServiceCIDR,
		"use-service-account-credentials":  "true",
	}
	const probeHost = "127.0.0.1"
	c := corev1.Container{
		Name:            images.KubeControllerManager.Name,
		Image:           p.KubeControllerManagerImage,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         command(images.KubeControllerManager, flags, p.ExtraArgs),
		LivenessProbe:   livenessProbe(probeHost, "/healthz", controllerManagerPort, corev1.URISchemeHTTPS),
		StartupProbe:    startupProbe(probeHost, "/healthz", controllerManagerPort, corev1.URISchemeHTTPS),
		Resources:       cpuRequest("200m"),
	}
	volumes := []hostPathVolume{
		{name: "ca-certs", path: caCertsDir, kind: corev1.HostPathDirectoryOrCreate, readOnly: true},
		{name: "k8s-certs", path: pki.Dir, kind: corev1.HostPathDirectoryOrCreate, readOnly: true},
		{name: "kubeconfig", path: controllerManagerKubeconfig, kind: corev1.HostPathFileOrCreate, readOnly: true},
	}
	return componentPod(c, volumes, nil)
}

// componentPod is kubeadm's ComponentPod without its seccomp profile:
// kindish's nodes run their pods unconfined.
func componentPod(c corev1.Container, volumes []hostPathVolume, annotations map[string]string) *corev1.Pod {
	slices.SortFunc(volumes, func(a, b hostPathVolume) int { return strings.Compare(a.name, b.name) })
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        c.Name,
			Namespace:   metav1.NamespaceSystem,
			Labels:      map[string]string{"component": c.Name, "tier": "control-plane"},
			Annotations: annotations,
		},
		Spec: corev1.PodSpec{
			HostNetwork:       true,
			PriorityClassName: "system-node-critical",
			Priority:          new(int32(systemNodeCriticalPriority)),
		},
	}
	for _, v := range volumes {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
			Name: v.name,
			VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: v.path,
				Type: new(v.kind),
			}},
		})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: v.name, MountPath: v.path, ReadOnly: v.readOnly})
	}
	pod.Spec.Containers = []corev1.Container{c}
	return pod
}

// hostPathVolume is a node path mounted at the same path in the container.
type hostPathVolume struct {
	name     string
	path     string
	kind     corev1.HostPathType
	readOnly bool
}

// command is the component's name followed by its flags, defaults and
// extra args merged as kubeadm merges them (an extra arg replaces the
// default of the same name) and sorted by name as kubeadm sorts them. The
// name, not the entrypoint's path, is argv[0], as in kubeadm's manifests:
// the image's PATH finds it, and ps in the node shows "etcd",
// "kube-apiserver"... as in the demos.
func command(c images.Component, defaults map[string]string, extra ExtraArgs) []string {
	flags := maps.Clone(defaults)
	maps.Copy(flags, extra[c.Name])
	cmd := []string{c.Name}
	for _, name := range slices.Sorted(maps.Keys(flags)) {
		cmd = append(cmd, fmt.Sprintf("--%s=%s", name, flags[name]))
	}
	return cmd
}

func cpuRequest(cpu string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}
}

// kubeadm's liveness probe: once started, eight failed periods in a row
// restart a component.
const (
	probeInitialDelaySeconds = 10
	probeTimeoutSeconds      = 15
	probePeriodSeconds       = 10
	livenessFailureThreshold = 8
)

// The startup probe gives a component kubeadm's four minutes
// (controlPlaneComponentHealthCheck) to come up, as kubeadm's 24 periods
// of 10 s after a 10 s delay do, but checks every second from the start:
// a pod is Ready only once its startup probe has passed, and kubeadm's
// delay alone would hold every control-plane pod unready for ten seconds
// after it answers.
const (
	startupPeriodSeconds    = 1
	startupFailureThreshold = 240
)

func httpGet(host, path string, port int, scheme corev1.URIScheme) corev1.ProbeHandler {
	return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
		Host:   host,
		Path:   path,
		Port:   intstr.FromInt32(int32(port)),
		Scheme: scheme,
	}}
}

func livenessProbe(host, path string, port int, scheme corev1.URIScheme) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:        httpGet(host, path, port, scheme),
		InitialDelaySeconds: probeInitialDelaySeconds,
		TimeoutSeconds:      probeTimeoutSeconds,
		PeriodSeconds:       probePeriodSeconds,
		FailureThreshold:    livenessFailureThreshold,
	}
}

// readinessProbe checks every second, so that a component is marked
// ready, or not, without waiting a liveness period.
func readinessProbe(host, path string, port int, scheme corev1.URIScheme) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:     httpGet(host, path, port, scheme),
		TimeoutSeconds:   probeTimeoutSeconds,
		PeriodSeconds:    1,
		FailureThreshold: 3,
	}
}

func startupProbe(host, path string, port int, scheme corev1.URIScheme) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:     httpGet(host, path, port, scheme),
		TimeoutSeconds:   probeTimeoutSeconds,
		PeriodSeconds:    startupPeriodSeconds,
		FailureThreshold: startupFailureThreshold,
	}
}
