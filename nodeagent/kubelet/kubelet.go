// Package kubelet is kindish's node agent. It registers the node, runs the
// pods the API server binds to it and the static pods of its manifest
// directory through containerd's CRI, mirrors the static pods into the
// API, probes containers, and serves the kubelet API (logs, exec,
// port-forward). Each part is a package of its own below this one; this
// package connects them to the two pod sources.
package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"

	"github.com/kindish/kindish/cluster/version"
	"github.com/kindish/kindish/nodeagent/criclient"
	"github.com/kindish/kindish/nodeagent/kubelet/nodestatus"
	"github.com/kindish/kindish/nodeagent/kubelet/server"
	"github.com/kindish/kindish/nodeagent/kubelet/staticpod"
)

// mirrorSyncPeriod bounds how long a missing or stale mirror pod stays so
// when no event says anything changed (the API server coming up, for a
// control-plane node's static pods).
const mirrorSyncPeriod = 10 * time.Second

// Run runs the kubelet until ctx ends.
func Run(ctx context.Context, o Options) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	cri, err := criclient.Dial(ctx, strings.TrimPrefix(o.RuntimeEndpoint, "unix://"))
	if err != nil {
		return err
	}
	defer cri.Close()

	restConfig, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return fmt.Errorf("--kubeconfig %s: %w", o.Kubeconfig, err)
	}
	// Upstream's figures: a node starting many pods must not queue on its
	// own rate limiter.
	restConfig.QPS, restConfig.Burst = 50, 100
	restConfig.UserAgent = fmt.Sprintf("kubelet/%s (linux) kindish/%s", version.KubernetesVersion, version.Version)
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return fmt.Errorf("API client: %w", err)
	}
	k, err := newKubelet(ctx, o, cri, client)
	if err != nil {
		return err
	}
	return k.run(ctx)
}

// podWorkers runs each pod; the podworkers package implements it.
type podWorkers interface {
	Run(ctx context.Context)
	UpdatePod(pod *corev1.Pod)
	DeletePod(uid types.UID)
	RemoveOrphans(ctx context.Context, known map[types.UID]bool) error
	PodStatus(uid types.UID) (*corev1.PodStatus, bool)
	Resync(uid types.UID)
	SyncAll()
}

// kubelet connects the pod sources to the pod workers and runs the
// node-wide loops.
type kubelet struct {
	o      Options
	log    *slog.Logger
	client kubernetes.Interface

	pods    *podManager
	workers podWorkers
	node    *nodestatus.Manager
	mirrors *staticpod.MirrorClient
	server  *server.Server
	static  *staticpod.Source
	events  record.EventBroadcaster

	// shared holds the cluster-wide informers (Services, for the
	// containers' service variables); nodePods watches only the pods
	// bound to this node, as upstream's API source.
	shared      informers.SharedInformerFactory
	nodePods    informers.SharedInformerFactory
	podInformer cache.SharedIndexInformer
	// podHandler is the pod manager's handler on podInformer. Its
	// HasSynced, unlike the informer's, holds until the handler itself
	// has seen every pod of the first list: before that, a pod bound to
	// this node may be in the store and not yet in the pod manager, and
	// the orphan sweep would take it for a pod deleted while the kubelet
	// was away.
	podHandler cache.ResourceEventHandlerRegistration

	// staticLoaded is closed once the manifest directory was read once.
	staticLoaded chan struct{}
	staticOnce   sync.Once
	// mirrorKick asks the mirror loop to reconcile now.
	mirrorKick chan struct{}
}

func newKubelet(ctx context.Context, o Options, cri *criclient.Client, client kubernetes.Interface) (*kubelet, error) {
	log := o.Log
	k := &kubelet{
		o: o, log: log, client: client, pods: newPodManager(),
		staticLoaded: make(chan struct{}), mirrorKick: make(chan struct{}, 1),
	}
	k.events = record.NewBroadcaster(record.WithContext(ctx))
	k.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := k.events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: o.NodeName})

	machine, err := nodestatus.NewMachineReader(o.RootDir).Read()
	if err != nil {
		return nil, fmt.Errorf("machine info: %w", err)
	}
	if k.node, err = nodestatus.New(nodestatus.Config{
		NodeName:       o.NodeName,
		Client:         client,
		Labels:         o.NodeLabels,
		Taints:         o.RegisterWithTaints,
		InternalIP:     o.NodeIP,
		KubeletVersion: version.KubernetesVersion,
		KubeletPort:    int32(o.Port),
		Runtime:        cri.Runtime(),
		Machine:        machine,
		MaxPods:        o.MaxPods,
		// As kind's nodes: allocatable is the whole machine.
		Reservation: &nodestatus.Reservation{},
		Recorder:    recorder,
		Log:         log.With("part", "node"),
	}); err != nil {
		return nil, err
	}

	k.shared = informers.NewSharedInformerFactory(client, 0)
	// Only this node's pods, as upstream's API source.
	k.nodePods = informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", o.NodeName).String()
		}))
	k.podInformer = k.nodePods.Core().V1().Pods().Informer()
	services := k.shared.Core().V1().Services()

	if k.workers, err = newPodWorkers(podWorkersDeps{
		o: o, cri: cri, client: client, recorder: recorder,
		services: services, node: k.node, machine: machine,
		mirrorPodFor: k.pods.mirrorPodFor,
	}); err != nil {
		return nil, err
	}
	k.pods.status = k.workers.PodStatus
	k.mirrors = staticpod.NewMirrorClient(client, o.NodeName, log.With("part", "mirror"))
	k.static = staticpod.NewSource(o.PodManifestPath, o.NodeName, log.With("part", "static"))
	if k.server, err = server.New(server.Config{
		Addr:         net.JoinHostPort(o.Address, fmt.Sprint(o.Port)),
		CertFile:     o.TLSCertFile,
		KeyFile:      o.TLSKeyFile,
		ClientCAFile: o.ClientCAFile,
		Pods:         k.pods,
		Runtime:      cri.Runtime(),
		LogRoot:      o.PodLogsDir,
		Log:          log.With("part", "server"),
	}); err != nil {
		return nil, err
	}
	if err := k.handleNodePods(); err != nil {
		return nil, err
	}
	return k, nil
}

// handleNodePods hands the node's pods from the API to the pod manager
// and the pod workers.
func (k *kubelet) handleNodePods() error {
	var err error
	k.podHandler, err = k.podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    k.apiPodChanged,
		UpdateFunc: func(_, obj any) { k.apiPodChanged(obj) },
		DeleteFunc: k.apiPodDeleted,
	})
	if err != nil {
		return fmt.Errorf("watch the node's pods: %w", err)
	}
	return nil
}

// run starts every loop and waits for ctx to end.
func (k *kubelet) run(ctx context.Context) error {
	defer k.events.Shutdown()
	var wg sync.WaitGroup
	goRun := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	// Static pods first: on a control-plane node they are the API server,
	// and nothing else can start before it.
	goRun(func() { k.workers.Run(ctx) })
	goRun(func() { k.static.Run(ctx, k.staticPodsChanged) })
	goRun(func() { k.node.Run(ctx) })
	goRun(func() {
		if err := k.server.Run(ctx); err != nil && ctx.Err() == nil {
			k.log.Error("the kubelet API stopped", "error", err)
		}
	})
	goRun(func() { k.startInformers(ctx) })
	goRun(func() { k.syncWhenServicesSynced(ctx) })
	goRun(func() { k.mirrorLoop(ctx) })
	goRun(func() { k.syncWhenNetworkReady(ctx) })
	goRun(func() { k.removeOrphansOnce(ctx) })
	<-ctx.Done()
	wg.Wait()
	k.shared.Shutdown()
	k.nodePods.Shutdown()
	return nil
}

// startInformers starts watching the API once the node is registered,
// that is once the API server answers. Started earlier, on a node whose
// kubelet comes up with the control plane, each informer's first list
// fails and its reflector backs off, exponentially and with jitter: the
// node's pods, and the Services their containers' variables need, would
// then arrive seconds after the API server does.
func (k *kubelet) startInformers(ctx context.Context) {
	select {
	case <-k.node.Registered():
	case <-ctx.Done():
		return
	}
	k.shared.Start(ctx.Done())
	k.nodePods.Start(ctx.Done())
}

// syncWhenServicesSynced syncs every pod once the Services are listed:
// until then the containers of API pods cannot get their service
// variables and their syncs fail; such a pod then starts at once, not at
// its next periodic sync.
func (k *kubelet) syncWhenServicesSynced(ctx context.Context) {
	if cache.WaitForCacheSync(ctx.Done(), k.shared.Core().V1().Services().Informer().HasSynced) {
		k.workers.SyncAll()
	}
}

// staticPodsChanged takes the manifest directory's pods.
func (k *kubelet) staticPodsChanged(pods []*corev1.Pod) {
	for _, uid := range k.pods.setStatic(pods) {
		k.workers.DeletePod(uid)
	}
	for _, p := range pods {
		k.workers.UpdatePod(p)
	}
	k.staticOnce.Do(func() { close(k.staticLoaded) })
	k.kickMirrors()
}

// apiPodChanged takes a pod of this node from the API server.
func (k *kubelet) apiPodChanged(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	pod = markAPISource(pod)
	if k.pods.setAPIPod(pod) {
		k.workers.UpdatePod(pod)
		return
	}
	// A mirror pod appeared or changed: its static pod's status can be
	// written now.
	if static, ok := k.pods.staticFor(pod); ok {
		k.workers.Resync(static.UID)
	}
	k.kickMirrors()
}

func (k *kubelet) apiPodDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if k.pods.deleteAPIPod(pod) {
		// Gone from the API (deleted at once, or force-deleted): stop
		// it, as upstream's HandlePodRemoves.
		k.workers.DeletePod(pod.UID)
		return
	}
	k.kickMirrors()
}

// markAPISource annotates a pod with its source, as upstream's API source
// does, so that the parts below tell it from static pods.
func markAPISource(pod *corev1.Pod) *corev1.Pod {
	if pod.Annotations[staticpod.ConfigSourceAnnotationKey] == staticpod.APIServerSource {
		return pod
	}
	pod = pod.DeepCopy()
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[staticpod.ConfigSourceAnnotationKey] = staticpod.APIServerSource
	return pod
}

func (k *kubelet) kickMirrors() {
	select {
	case k.mirrorKick <- struct{}{}:
	default:
	}
}

// mirrorLoop keeps a mirror pod in the API for every static pod, once the
// node is registered (a mirror pod is owned by its Node).
func (k *kubelet) mirrorLoop(ctx context.Context) {
	select {
	case <-k.node.Registered():
	case <-ctx.Done():
		return
	}
	if !cache.WaitForCacheSync(ctx.Done(), k.podHandler.HasSynced) {
		return
	}
	tick := time.NewTicker(mirrorSyncPeriod)
	defer tick.Stop()
	for {
		if err := k.mirrors.Sync(ctx, k.pods.staticPods(), k.pods.mirrorPods()); err != nil && ctx.Err() == nil {
			k.log.Warn("mirror pods", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-k.mirrorKick:
		}
	}
}

// networkCheckPeriod is how often the kubelet looks for the pod network
// turning ready.
const networkCheckPeriod = 250 * time.Millisecond

// syncWhenNetworkReady syncs every pod as soon as the pod network turns
// ready (kindnetd wrote the CNI config), so that pods bound while it was
// not start at once rather than at their next periodic sync.
func (k *kubelet) syncWhenNetworkReady(ctx context.Context) {
	tick := time.NewTicker(networkCheckPeriod)
	defer tick.Stop()
	wasReady := k.node.NetworkError() == nil
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ready := k.node.NetworkError() == nil
		if ready && !wasReady {
			k.workers.SyncAll()
		}
		wasReady = ready
	}
}

// removeOrphansOnce cleans up after pods deleted while the kubelet was
// away, once both sources have told what exists.
func (k *kubelet) removeOrphansOnce(ctx context.Context) {
	select {
	case <-k.staticLoaded:
	case <-ctx.Done():
		return
	}
	if !cache.WaitForCacheSync(ctx.Done(), k.podHandler.HasSynced) {
		return
	}
	if err := k.workers.RemoveOrphans(ctx, k.pods.knownUIDs()); err != nil && ctx.Err() == nil {
		k.log.Warn("removing the pods of a previous run", "error", err)
	}
}
