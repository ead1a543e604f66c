package integration

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
)

// Timing of the simulated node: upstream's kubelet renews its Lease
// every 10s (a quarter of its 40s duration); a second keeps the tests'
// short grace periods far away.
const (
	leaseRenewInterval   = time.Second
	leaseDurationSeconds = 40
	// podResync revisits every pod, so that a pod held back by a
	// podPolicy moves on soon after the test releases it.
	podResync = 200 * time.Millisecond
)

// podPolicy is how the simulated nodes run pods, decided by the test.
// The zero value runs every pod at once and completes one-shot pods
// (restartPolicy Never or OnFailure) as soon as they run.
type podPolicy struct {
	// holdReady keeps a running pod not ready while it says so, as a
	// failing readiness probe would.
	holdReady func(*corev1.Pod) bool
	// holdCompletion keeps a running one-shot pod running while it says
	// so.
	holdCompletion func(*corev1.Pod) bool
}

// fakeKubelet is a simulated node: it registers its Node (Ready, with
// capacity), renews its Lease in kube-node-lease, and runs the pods bound
// to it by status alone: Running and Ready with an IP from the node's
// pod range, Succeeded when a one-shot pod is done, and gone (deleted
// with grace period 0, as the kubelet does once containers stop) when
// the pod is being deleted. It acts as system:node:<name>, as kubelets
// do. Stop makes the node fall silent, as if its machine died.
type fakeKubelet struct {
	name   string
	ip     string
	client kubernetes.Interface
	policy podPolicy

	cancel context.CancelFunc
	done   chan struct{}

	pods  corelisters.PodLister
	queue workqueue.TypedRateLimitingInterface[string]

	mu      sync.Mutex
	podCIDR netip.Prefix
	nextIP  netip.Addr
}

// startFakeKubelet registers the node and starts renewing its Lease and
// running its pods until Stop or ctx's end.
func startFakeKubelet(ctx context.Context, client kubernetes.Interface, name, ip string, policy podPolicy) (*fakeKubelet, error) {
	k := &fakeKubelet{name: name, ip: ip, client: client, policy: policy, done: make(chan struct{})}
	if err := k.register(ctx); err != nil {
		return nil, fmt.Errorf("register node %s: %w", name, err)
	}
	ctx, k.cancel = context.WithCancel(ctx)
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", name).String()
	}))
	podInformer := factory.Core().V1().Pods()
	k.pods = podInformer.Lister()
	k.queue = workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			k.queue.Add(key)
		}
	}
	_, _ = podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	factory.Start(ctx.Done())

	var wg sync.WaitGroup
	wg.Go(func() { k.renewLeases(ctx) })
	wg.Go(func() {
		if !cache.WaitForCacheSync(ctx.Done(), podInformer.Informer().HasSynced) {
			return
		}
		ticker := time.NewTicker(podResync)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				pods, _ := k.pods.List(everything)
				for _, p := range pods {
					enqueue(p)
				}
			}
		}
	})
	for range 2 {
		wg.Go(func() { k.work(ctx) })
	}
	go func() {
		<-ctx.Done()
		k.queue.ShutDown()
		wg.Wait()
		factory.Shutdown()
		close(k.done)
	}()
	return k, nil
}

// Stop silences the node: no more Lease renewals, no more pod updates.
// The Node and its pods stay as they were.
func (k *fakeKubelet) Stop() {
	k.cancel()
	<-k.done
}

// register creates the Node, or takes over an existing one, and posts a
// Ready status.
func (k *fakeKubelet) register(ctx context.Context) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: k.name,
		Labels: map[string]string{
			corev1.LabelHostname:   k.name,
			corev1.LabelOSStable:   "linux",
			corev1.LabelArchStable: "amd64",
		},
	}}
	if _, err := k.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return k.postStatus(ctx)
}

// postStatus sets the Node's status as a healthy kubelet reports it.
func (k *fakeKubelet) postStatus(ctx context.Context) error {
	var lastErr error
	for range 5 {
		node, err := k.client.CoreV1().Nodes().Get(ctx, k.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		capacity := corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse("4"),
			corev1.ResourceMemory:           resource.MustParse("8Gi"),
			corev1.ResourcePods:             resource.MustParse("110"),
			corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
		}
		node.Status.Capacity = capacity
		node.Status.Allocatable = capacity.DeepCopy()
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: k.ip}, {Type: corev1.NodeHostName, Address: k.name}}
		node.Status.NodeInfo = corev1.NodeSystemInfo{
			KubeletVersion: "v1.34.0", ContainerRuntimeVersion: "containerd://2.1.0",
			OperatingSystem: "linux", Architecture: "amd64", OSImage: "Debian GNU/Linux 13 (trixie)",
		}
		condition := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, message string) corev1.NodeCondition {
			return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: message, LastHeartbeatTime: now, LastTransitionTime: now}
		}
		node.Status.Conditions = []corev1.NodeCondition{
			condition(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			condition(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			condition(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			condition(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
		}
		_, lastErr = k.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		if !apierrors.IsConflict(lastErr) {
			return lastErr
		}
	}
	return lastErr
}

// renewLeases keeps the node's Lease fresh, as the kubelet's heartbeat.
func (k *fakeKubelet) renewLeases(ctx context.Context) {
	ticker := time.NewTicker(leaseRenewInterval)
	defer ticker.Stop()
	for {
		// A failed renewal is retried at the next tick, as upstream's.
		_ = k.renewLease(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (k *fakeKubelet) renewLease(ctx context.Context) error {
	leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	lease, err := leases.Get(ctx, k.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		node, err := k.client.CoreV1().Nodes().Get(ctx, k.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Name: k.name, Namespace: corev1.NamespaceNodeLease,
				// The Lease goes with its Node, as upstream's kubelet sets it.
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}},
			},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(k.name), LeaseDurationSeconds: ptr.To[int32](leaseDurationSeconds), RenewTime: &now},
		}
		_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease.Spec.HolderIdentity = ptr.To(k.name)
	lease.Spec.LeaseDurationSeconds = ptr.To[int32](leaseDurationSeconds)
	lease.Spec.RenewTime = &now
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

func (k *fakeKubelet) work(ctx context.Context) {
	for {
		key, quit := k.queue.Get()
		if quit {
			return
		}
		if err := k.syncPod(ctx, key); err != nil && ctx.Err() == nil {
			k.queue.AddRateLimited(key)
		} else {
			k.queue.Forget(key)
		}
		k.queue.Done(key)
	}
}

// syncPod makes one step in a pod's life on this node.
func (k *fakeKubelet) syncPod(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := k.pods.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	pods := k.client.CoreV1().Pods(namespace)
	if cached.DeletionTimestamp != nil {
		// The containers are stopped at once; the kubelet then removes
		// the pod for good, as it does after the grace period.
		err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0), Preconditions: metav1.NewUIDPreconditions(string(cached.UID))})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	pod := cached.DeepCopy()
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		return nil
	case corev1.PodRunning:
		oneShot := pod.Spec.RestartPolicy == corev1.RestartPolicyNever || pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure
		switch {
		case oneShot && !k.holds(k.policy.holdCompletion, pod):
			complete(pod)
		case !isPodReady(pod) && !k.holds(k.policy.holdReady, pod):
			setReady(pod, true)
		default:
			return nil
		}
	default:
		ip, err := k.allocateIP(ctx)
		if err != nil {
			return err
		}
		start(pod, k.ip, ip)
		setReady(pod, !k.holds(k.policy.holdReady, pod))
	}
	_, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	return err
}

func (k *fakeKubelet) holds(hold func(*corev1.Pod) bool, pod *corev1.Pod) bool {
	return hold != nil && hold(pod)
}

// allocateIP gives out the addresses of the node's pod range in order,
// as host-local IPAM does; the range comes from the controller manager's
// node IPAM.
func (k *fakeKubelet) allocateIP(ctx context.Context) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.podCIDR.IsValid() {
		node, err := k.client.CoreV1().Nodes().Get(ctx, k.name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		if node.Spec.PodCIDR == "" {
			return "", fmt.Errorf("node %s has no pod range yet", k.name)
		}
		if k.podCIDR, err = netip.ParsePrefix(node.Spec.PodCIDR); err != nil {
			return "", err
		}
		// .0 is the network, .1 the node's gateway.
		k.nextIP = k.podCIDR.Addr().Next().Next()
	}
	ip := k.nextIP
	if !k.podCIDR.Contains(ip) {
		return "", fmt.Errorf("node %s: pod range %s exhausted", k.name, k.podCIDR)
	}
	k.nextIP = ip.Next()
	return ip.String(), nil
}

// start sets the status of a pod whose sandbox and containers just
// started.
func start(pod *corev1.Pod, hostIP, podIP string) {
	now := metav1.Now()
	pod.Status.Phase = corev1.PodRunning
	pod.Status.HostIP = hostIP
	pod.Status.HostIPs = []corev1.HostIP{{IP: hostIP}}
	pod.Status.PodIP = podIP
	pod.Status.PodIPs = []corev1.PodIP{{IP: podIP}}
	pod.Status.StartTime = &now
	setCondition(pod, corev1.PodReadyToStartContainers, corev1.ConditionTrue, "")
	setCondition(pod, corev1.PodInitialized, corev1.ConditionTrue, "")
	pod.Status.ContainerStatuses = nil
	for i, c := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name:        c.Name,
			Image:       c.Image,
			ImageID:     "sha256:" + fmt.Sprintf("%064x", i),
			ContainerID: fmt.Sprintf("containerd://%s-%d", pod.UID, i),
			Started:     ptr.To(true),
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
}

// setReady sets the pod's and its containers' readiness.
func setReady(pod *corev1.Pod, ready bool) {
	status, reason := corev1.ConditionTrue, ""
	if !ready {
		status, reason = corev1.ConditionFalse, "ContainersNotReady"
	}
	setCondition(pod, corev1.ContainersReady, status, reason)
	setCondition(pod, corev1.PodReady, status, reason)
	for i := range pod.Status.ContainerStatuses {
		pod.Status.ContainerStatuses[i].Ready = ready
	}
}

// complete sets the status of a pod whose containers all exited 0.
func complete(pod *corev1.Pod) {
	now := metav1.Now()
	pod.Status.Phase = corev1.PodSucceeded
	setCondition(pod, corev1.PodReadyToStartContainers, corev1.ConditionFalse, "")
	setCondition(pod, corev1.ContainersReady, corev1.ConditionFalse, "PodCompleted")
	setCondition(pod, corev1.PodReady, corev1.ConditionFalse, "PodCompleted")
	for i := range pod.Status.ContainerStatuses {
		cs := &pod.Status.ContainerStatuses[i]
		started := now
		if cs.State.Running != nil {
			started = cs.State.Running.StartedAt
		}
		cs.Ready, cs.Started = false, ptr.To(false)
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 0, Reason: "Completed", StartedAt: started, FinishedAt: now, ContainerID: cs.ContainerID,
		}}
	}
}

func setCondition(pod *corev1.Pod, t corev1.PodConditionType, status corev1.ConditionStatus, reason string) {
	now := metav1.Now()
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason = status, reason
		return
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: t, Status: status, Reason: reason, LastTransitionTime: now})
}

func isPodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
