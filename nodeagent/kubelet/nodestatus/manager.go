package nodestatus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/version"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	// Registration backs off from 100ms, doubling, as upstream's kubelet
	// does, since on a control-plane node the kubelet starts the API server
	// it registers with. Upstream waits up to 7s between attempts; here the
	// API server is on the same Docker network, a refused attempt costs
	// next to nothing, and the node registers on average half a wait after
	// the API server answers, which `kindish create cluster` waits for, so
	// the wait stops growing at 250ms (at 1s, the workers registered half
	// a second after the API server started serving).
	registerInitialBackoff = 100 * time.Millisecond
	registerMaxBackoff     = 250 * time.Millisecond

	// nodeStatusUpdateRetry is how many times a status update is tried
	// before waiting for the next period (upstream's value).
	nodeStatusUpdateRetry = 5

	// Until the runtime first reports ready, and for at most
	// nodeReadyGracePeriod, it is asked this often, as upstream's
	// fastStatusUpdateOnce does: a new node turns Ready within moments of
	// its CNI config appearing rather than at the next period.
	fastRuntimeCheckInterval = 100 * time.Millisecond
	nodeReadyGracePeriod     = 120 * time.Second

	// runtimeCallTimeout bounds one CRI call, so that a stuck runtime delays
	// a status update rather than stopping them.
	runtimeCallTimeout = 10 * time.Second

	// kubeRuntimeAPIVersion is the version upstream's kubelet sends in
	// VersionRequest.
	kubeRuntimeAPIVersion = "0.1.0"
)

// Manager registers the node and keeps its Lease and status up to date. It
// is safe for concurrent use; Run is called once.
type Manager struct {
	cfg     Config
	nodeRef *corev1.ObjectReference
	runtime *runtimeState
	// trigger asks for a status update at once; one pending request is
	// enough, so sends do not block.
	trigger    chan struct{}
	registered chan struct{}

	// registerBackoff and leaseBackoff are the first waits after a failure;
	// tests shorten them.
	registerBackoff time.Duration
	leaseBackoff    time.Duration

	// Owned by Run's goroutine (registration, then status updates).
	runtimeName    string
	lastReportTime time.Time

	// Owned by the lease goroutine.
	latestLease *coordinationv1.Lease
}

// New returns a Manager of the node cfg describes.
func New(cfg Config) (*Manager, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("node status config: %w", err)
	}
	cfg.Labels = maps.Clone(cfg.Labels)
	cfg.Taints = slices.Clone(cfg.Taints)
	return &Manager{
		cfg: cfg,
		// Upstream's kubelet names its Node by a reference whose UID is the
		// node's name, and kubectl describe node looks its events up so.
		nodeRef: &corev1.ObjectReference{
			Kind: "Node",
			Name: cfg.NodeName,
			UID:  types.UID(cfg.NodeName),
		},
		runtime:         newRuntimeState(cfg.Clock),
		trigger:         make(chan struct{}, 1),
		registered:      make(chan struct{}),
		registerBackoff: registerInitialBackoff,
		leaseBackoff:    leaseInitialBackoff,
	}, nil
}

// Run registers the node, then renews its Lease and updates its status
// until ctx is done. The runtime's readiness is watched from the start, so
// that the node registers with its current conditions.
func (m *Manager) Run(ctx context.Context) {
	m.record(corev1.EventTypeNormal, eventStarting, "Starting kubelet.")
	m.checkRuntime(ctx)

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { m.watchRuntime(ctx) })
	if err := m.register(ctx); err != nil {
		return
	}
	close(m.registered)
	wg.Go(func() { m.renewLease(ctx) })
	m.updateStatus(ctx)
}

// Trigger asks for the node status to be posted at once, changed or not.
// It does not block.
func (m *Manager) Trigger() {
	select {
	case m.trigger <- struct{}{}:
	default:
	}
}

// Registered is closed once the Node exists in the API server.
func (m *Manager) Registered() <-chan struct{} {
	return m.registered
}

// NetworkError is nil while the runtime reports NetworkReady. Otherwise it
// says why not, as upstream does ("container runtime network not ready:
// NetworkReady=false reason:NetworkPluginNotReady message:..."); a pod that
// needs the pod network is then not started, with the error
// NetworkNotReadyMessage + ": " + NetworkError().
func (m *Manager) NetworkError() error {
	return m.runtime.networkErrors()
}

// RuntimeError is nil while the runtime reports RuntimeReady and answers.
func (m *Manager) RuntimeError() error {
	return m.runtime.runtimeErrors()
}

// ReadyError is nil while the runtime lets the node be Ready; otherwise it
// is the Ready condition's message.
func (m *Manager) ReadyError() error {
	return utilerrors.NewAggregate([]error{m.runtime.runtimeErrors(), m.runtime.networkErrors()})
}

func (m *Manager) record(eventType, reason, message string) {
	if m.cfg.Recorder != nil {
		m.cfg.Recorder.Event(m.nodeRef, eventType, reason, message)
	}
}

// checkRuntime asks the runtime for its status and tells whether the node's
// readiness changed.
func (m *Manager) checkRuntime(ctx context.Context) bool {
	callCtx, cancel := context.WithTimeout(ctx, runtimeCallTimeout)
	defer cancel()
	resp, err := m.cfg.Runtime.Status(callCtx, &runtimeapi.StatusRequest{})
	if err == nil && resp.GetStatus() == nil {
		err = errors.New("runtime answered no status")
	}
	if err != nil {
		if ctx.Err() == nil {
			m.cfg.Log.Warn("container runtime status check failed", "err", err)
		}
		return m.runtime.refresh()
	}
	return m.runtime.update(resp.GetStatus())
}

// watchRuntime checks the runtime periodically and posts the status at once
// when the node's readiness changes.
func (m *Manager) watchRuntime(ctx context.Context) {
	start := m.cfg.Clock.Now()
	wasReady := m.ReadyError() == nil
	for {
		interval := m.cfg.RuntimeCheckInterval
		if !wasReady && m.cfg.Clock.Since(start) < nodeReadyGracePeriod {
			interval = min(interval, fastRuntimeCheckInterval)
		}
		select {
		case <-ctx.Done():
			return
		case <-m.cfg.Clock.After(interval):
		}
		if m.checkRuntime(ctx) {
			m.Trigger()
		}
		wasReady = wasReady || m.ReadyError() == nil
	}
}

// register creates the Node, or adopts the one a previous run of the kubelet
// created, retrying until it succeeds or ctx is done.
func (m *Manager) register(ctx context.Context) error {
	wait := m.registerBackoff
	for {
		// The conditions' first events are recorded once the node exists,
		// not once per failed attempt.
		var events []func()
		node := m.initialNode(ctx, func(eventType, reason, message string) {
			events = append(events, func() { m.record(eventType, reason, message) })
		})
		err := m.tryRegister(ctx, node)
		if err == nil {
			for _, e := range events {
				e()
			}
			m.cfg.Log.Info("registered node", "node", m.cfg.NodeName)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		m.cfg.Log.Warn("register node", "node", m.cfg.NodeName, "err", err, "retryIn", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.cfg.Clock.After(wait):
		}
		wait = min(2*wait, registerMaxBackoff)
	}
}

// initialNode is the Node as a new kubelet would create it.
func (m *Manager) initialNode(ctx context.Context, record eventFunc) *corev1.Node {
	labels := m.defaultLabels()
	maps.Copy(labels, m.cfg.Labels)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        m.cfg.NodeName,
			Labels:      labels,
			Annotations: map[string]string{controllerManagedAttachAnnotation: "true"},
		},
	}
	if len(m.cfg.Taints) > 0 {
		node.Spec.Taints = slices.Clone(m.cfg.Taints)
	}
	setNodeStatus(node, m.statusInputs(ctx), record)
	return node
}

func (m *Manager) defaultLabels() map[string]string {
	arch := m.cfg.Machine.Architecture
	if arch == "" {
		arch = runtime.GOARCH
	}
	return map[string]string{
		corev1.LabelHostname:   m.cfg.Hostname,
		corev1.LabelOSStable:   runtime.GOOS,
		corev1.LabelArchStable: arch,
		betaLabelOS:            runtime.GOOS,
		betaLabelArch:          arch,
	}
}

// tryRegister creates node. When a previous run created it, the kubelet's
// labels and annotation are set on the existing one, leaving everything
// others added (labels, taints) alone; its status is brought up to date by
// the first status update.
func (m *Manager) tryRegister(ctx context.Context, node *corev1.Node) error {
	nodes := m.cfg.Client.CoreV1().Nodes()
	_, err := nodes.Create(ctx, node, metav1.CreateOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create node %q: %w", node.Name, err)
	}
	existing, err := nodes.Get(ctx, node.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get existing node %q: %w", node.Name, err)
	}
	patch, err := metadataPatch(existing, node.Labels, node.Annotations)
	if err != nil {
		return fmt.Errorf("reconcile existing node %q: %w", node.Name, err)
	}
	if patch == nil {
		return nil
	}
	if _, err := nodes.Patch(ctx, node.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("update labels of existing node %q: %w", node.Name, err)
	}
	return nil
}

// statusInputs gathers what the status is computed from now.
func (m *Manager) statusInputs(ctx context.Context) statusInputs {
	return statusInputs{
		now:            m.cfg.Clock.Now(),
		nodeName:       m.cfg.NodeName,
		hostname:       m.cfg.Hostname,
		internalIP:     m.cfg.InternalIP,
		machine:        m.cfg.Machine,
		maxPods:        m.cfg.MaxPods,
		reservation:    *m.cfg.Reservation,
		runtimeVersion: m.runtimeVersion(ctx),
		kubeletVersion: m.cfg.KubeletVersion,
		kubeletPort:    m.cfg.KubeletPort,
		readyErr:       m.ReadyError(),
	}
}

// runtimeVersion is status.nodeInfo.containerRuntimeVersion as upstream
// writes it: the runtime's name, "://", and its version reduced to numbers
// ("containerd://1.6.20" for Debian's "1.6.20~ds1"), or "Unknown" when the
// runtime does not answer. Before it has ever answered, its name is not
// known either, and "" leaves the field as it is.
func (m *Manager) runtimeVersion(ctx context.Context) string {
	callCtx, cancel := context.WithTimeout(ctx, runtimeCallTimeout)
	defer cancel()
	resp, err := m.cfg.Runtime.Version(callCtx, &runtimeapi.VersionRequest{Version: kubeRuntimeAPIVersion})
	ver := "Unknown"
	if err == nil {
		m.runtimeName = resp.GetRuntimeName()
		if v, err := version.Parse(resp.GetRuntimeVersion()); err == nil {
			ver = v.String()
		}
	} else if ctx.Err() == nil {
		m.cfg.Log.Warn("container runtime version", "err", err)
	}
	if m.runtimeName == "" {
		return ""
	}
	return m.runtimeName + "://" + ver
}

// updateStatus posts the node status every StatusUpdateFrequency when it
// changed (or StatusReportFrequency passed), and at once when triggered.
func (m *Manager) updateStatus(ctx context.Context) {
	m.syncStatus(ctx, false)
	ticker := m.cfg.Clock.NewTicker(m.cfg.StatusUpdateFrequency)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
			m.syncStatus(ctx, false)
		case <-m.trigger:
			m.syncStatus(ctx, true)
		}
	}
}

func (m *Manager) syncStatus(ctx context.Context, force bool) {
	for attempt := 1; attempt <= nodeStatusUpdateRetry; attempt++ {
		err := m.tryUpdateStatus(ctx, force)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			return
		}
		m.cfg.Log.Warn("update node status", "node", m.cfg.NodeName, "attempt", attempt, "err", err)
	}
	m.cfg.Log.Error("update node status exceeds retry count", "node", m.cfg.NodeName)
}

// tryUpdateStatus reads the Node, computes its status and patches
// nodes/status with the difference, as upstream's tryUpdateNodeStatus does.
func (m *Manager) tryUpdateStatus(ctx context.Context, force bool) error {
	nodes := m.cfg.Client.CoreV1().Nodes()
	original, err := nodes.Get(ctx, m.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %q: %w", m.cfg.NodeName, err)
	}
	node := original.DeepCopy()
	labelsFixed := m.restoreRequiredLabels(node)
	setNodeStatus(node, m.statusInputs(ctx), m.record)

	changed := labelsFixed || nodeStatusHasChanged(&original.Status, &node.Status)
	if !force && !changed && m.cfg.Clock.Since(m.lastReportTime) < m.cfg.StatusReportFrequency {
		return nil
	}
	patch, err := nodeStatusPatch(original, node)
	if err != nil {
		return fmt.Errorf("patch status of node %q: %w", m.cfg.NodeName, err)
	}
	if _, err := nodes.Patch(ctx, m.cfg.NodeName, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("patch status of node %q: %w", m.cfg.NodeName, err)
	}
	m.lastReportTime = m.cfg.Clock.Now()
	return nil
}

// restoreRequiredLabels puts back the os and arch labels, which the
// scheduler and DaemonSets select on, if someone removed or changed them.
func (m *Manager) restoreRequiredLabels(node *corev1.Node) bool {
	want := m.defaultLabels()
	changed := false
	for _, key := range []string{corev1.LabelOSStable, corev1.LabelArchStable} {
		if node.Labels[key] != want[key] {
			if node.Labels == nil {
				node.Labels = map[string]string{}
			}
			node.Labels[key] = want[key]
			changed = true
		}
	}
	return changed
}
