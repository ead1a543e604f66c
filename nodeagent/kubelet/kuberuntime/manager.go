package kuberuntime

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// RuntimeService is the part of CRI's runtime service the pod runtime uses;
// runtimeapi.RuntimeServiceClient satisfies it.
type RuntimeService interface {
	RunPodSandbox(ctx context.Context, in *runtimeapi.RunPodSandboxRequest, opts ...grpc.CallOption) (*runtimeapi.RunPodSandboxResponse, error)
	StopPodSandbox(ctx context.Context, in *runtimeapi.StopPodSandboxRequest, opts ...grpc.CallOption) (*runtimeapi.StopPodSandboxResponse, error)
	RemovePodSandbox(ctx context.Context, in *runtimeapi.RemovePodSandboxRequest, opts ...grpc.CallOption) (*runtimeapi.RemovePodSandboxResponse, error)
	PodSandboxStatus(ctx context.Context, in *runtimeapi.PodSandboxStatusRequest, opts ...grpc.CallOption) (*runtimeapi.PodSandboxStatusResponse, error)
	ListPodSandbox(ctx context.Context, in *runtimeapi.ListPodSandboxRequest, opts ...grpc.CallOption) (*runtimeapi.ListPodSandboxResponse, error)
	CreateContainer(ctx context.Context, in *runtimeapi.CreateContainerRequest, opts ...grpc.CallOption) (*runtimeapi.CreateContainerResponse, error)
	StartContainer(ctx context.Context, in *runtimeapi.StartContainerRequest, opts ...grpc.CallOption) (*runtimeapi.StartContainerResponse, error)
	StopContainer(ctx context.Context, in *runtimeapi.StopContainerRequest, opts ...grpc.CallOption) (*runtimeapi.StopContainerResponse, error)
	RemoveContainer(ctx context.Context, in *runtimeapi.RemoveContainerRequest, opts ...grpc.CallOption) (*runtimeapi.RemoveContainerResponse, error)
	ListContainers(ctx context.Context, in *runtimeapi.ListContainersRequest, opts ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error)
	ContainerStatus(ctx context.Context, in *runtimeapi.ContainerStatusRequest, opts ...grpc.CallOption) (*runtimeapi.ContainerStatusResponse, error)
	ExecSync(ctx context.Context, in *runtimeapi.ExecSyncRequest, opts ...grpc.CallOption) (*runtimeapi.ExecSyncResponse, error)
}

// ImageService is the part of CRI's image service the pod runtime uses;
// runtimeapi.ImageServiceClient satisfies it.
type ImageService interface {
	ImageStatus(ctx context.Context, in *runtimeapi.ImageStatusRequest, opts ...grpc.CallOption) (*runtimeapi.ImageStatusResponse, error)
	PullImage(ctx context.Context, in *runtimeapi.PullImageRequest, opts ...grpc.CallOption) (*runtimeapi.PullImageResponse, error)
}

// MountSource gives containers their mounts. Mounts must include the pod's
// /etc/hosts (written by WriteEtcHosts) and the container's
// termination-message file, as the node's volume manager does.
type MountSource interface {
	Mounts(pod *corev1.Pod, c *corev1.Container) ([]*runtimeapi.Mount, error)
	WriteEtcHosts(pod *corev1.Pod, podIPs []string) error
}

// EnvSource resolves a container's environment (env, envFrom, downward API,
// service variables).
type EnvSource interface {
	Env(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIPs []string, hostIP string) ([]*runtimeapi.KeyValue, error)
}

// LivenessResults tells which containers failed their liveness (or
// startup) probe and must be restarted. Container IDs are
// "<runtime>://<id>".
type LivenessResults interface {
	LivenessFailed(containerID string) bool
}

// Config is what a Manager needs. Runtime and Images are required; the rest
// has defaults fit for tests.
type Config struct {
	Runtime RuntimeService
	Images  ImageService
	// Recorder receives the pod's events; nil drops them.
	Recorder record.EventRecorder
	// Mounts gives containers their mounts; nil mounts nothing.
	Mounts MountSource
	// Env resolves containers' environments; nil passes each env entry's
	// literal value.
	Env EnvSource
	// DNSConfig is the sandbox's resolv.conf; nil leaves it to the runtime.
	DNSConfig func(pod *corev1.Pod) (*runtimeapi.DNSConfig, error)
	// Hostname is the pod's hostname and domain; nil uses the pod's
	// spec.hostname, else its name.
	Hostname func(pod *corev1.Pod) (hostname, domain string, err error)
	// Liveness reports probe failures; nil reports none.
	Liveness LivenessResults
	// NodeIP is the node's address: hostNetwork pods' IP, status.hostIP.
	NodeIP string
	// PodLogsDir holds the pods' log directories; default /var/log/pods.
	PodLogsDir string
	// SeccompProfileRoot holds Localhost seccomp profiles; default
	// /var/lib/kubelet/seccomp.
	SeccompProfileRoot string
	// RuntimeName prefixes container IDs in the API; default "containerd".
	RuntimeName string
	// HTTPClient runs httpGet lifecycle hooks; default a client with a
	// 10s timeout.
	HTTPClient *http.Client
	// Clock stamps pulls and back-offs; default the real clock.
	Clock clock.Clock
	Log   *slog.Logger
}

// Manager drives pods through CRI. It is safe for concurrent use, one call
// per pod at a time.
type Manager struct {
	runtime     RuntimeService
	images      ImageService
	recorder    record.EventRecorder
	mounts      MountSource
	env         EnvSource
	dnsConfig   func(*corev1.Pod) (*runtimeapi.DNSConfig, error)
	hostname    func(*corev1.Pod) (string, string, error)
	liveness    LivenessResults
	nodeIP      string
	podLogsDir  string
	seccompRoot string
	runtimeName string
	httpClient  *http.Client
	clock       clock.Clock
	log         *slog.Logger

	// crashBackOff spaces the restarts of failing containers.
	crashBackOff *flowcontrol.Backoff
	// imageBackOff spaces the retries of failed pulls.
	imageBackOff *flowcontrol.Backoff
}

// Back-off bounds, upstream's: 10s doubling to 5 minutes. A container that
// ran for twice the maximum (10 minutes) starts over at 10s.
const (
	backOffInitial = 10 * time.Second
	backOffMax     = 5 * time.Minute
)

// DefaultPodLogsDir is where pods' log directories live on a node.
const DefaultPodLogsDir = "/var/log/pods"

// New returns a Manager.
func New(cfg Config) *Manager {
	m := &Manager{
		runtime:     cfg.Runtime,
		images:      cfg.Images,
		recorder:    cfg.Recorder,
		mounts:      cfg.Mounts,
		env:         cfg.Env,
		dnsConfig:   cfg.DNSConfig,
		hostname:    cfg.Hostname,
		liveness:    cfg.Liveness,
		nodeIP:      cfg.NodeIP,
		podLogsDir:  cfg.PodLogsDir,
		seccompRoot: cfg.SeccompProfileRoot,
		runtimeName: cfg.RuntimeName,
		httpClient:  cfg.HTTPClient,
		clock:       cfg.Clock,
		log:         cfg.Log,
	}
	if m.recorder == nil {
		m.recorder = discardRecorder{}
	}
	if m.podLogsDir == "" {
		m.podLogsDir = DefaultPodLogsDir
	}
	if m.seccompRoot == "" {
		m.seccompRoot = "/var/lib/kubelet/seccomp"
	}
	if m.runtimeName == "" {
		m.runtimeName = "containerd"
	}
	if m.httpClient == nil {
		m.httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	if m.clock == nil {
		m.clock = clock.RealClock{}
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.crashBackOff = flowcontrol.NewFakeBackOff(backOffInitial, backOffMax, m.clock)
	m.imageBackOff = flowcontrol.NewFakeBackOff(backOffInitial, backOffMax, m.clock)
	return m
}

// RuntimeName is the prefix of container IDs in the API ("containerd").
func (m *Manager) RuntimeName() string { return m.runtimeName }

// ContainerID returns the API form of a runtime container ID:
// "<runtime>://<id>".
func (m *Manager) ContainerID(id string) string {
	if id == "" {
		return ""
	}
	return m.runtimeName + "://" + id
}

// ForgetPod drops the pod's back-off entries, once it is gone for good.
func (m *Manager) ForgetPod(pod *corev1.Pod) {
	for _, c := range append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
		m.crashBackOff.DeleteEntry(stableKey(pod, &c))
		m.imageBackOff.DeleteEntry(imageBackOffKey(pod, c.Image))
	}
}

// event records an event about the object.
func (m *Manager) event(ref *corev1.ObjectReference, eventType, reason, message string) {
	m.recorder.Event(ref, eventType, reason, message)
}

type discardRecorder struct{}

func (discardRecorder) Event(runtime.Object, string, string, string)          {}
func (discardRecorder) Eventf(runtime.Object, string, string, string, ...any) {}
func (discardRecorder) AnnotatedEventf(runtime.Object, map[string]string, string, string, string, ...any) {
}
