package nodestatus

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestRegistrationCreatesNode(t *testing.T) {
	controlPlaneTaint := corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name       string
		labels     map[string]string
		taints     []corev1.Taint
		wantLabels map[string]string
	}{
		{
			name: "worker carries the kubelet's own labels and no taints",
			wantLabels: map[string]string{
				"kubernetes.io/hostname":  testNode,
				"kubernetes.io/os":        "linux",
				"kubernetes.io/arch":      "amd64",
				"beta.kubernetes.io/os":   "linux",
				"beta.kubernetes.io/arch": "amd64",
			},
		},
		{
			name:   "control plane adds its role label and registers with its taint",
			labels: map[string]string{"node-role.kubernetes.io/control-plane": "", "tier": "gold"},
			taints: []corev1.Taint{controlPlaneTaint},
			wantLabels: map[string]string{
				"kubernetes.io/hostname":                testNode,
				"kubernetes.io/os":                      "linux",
				"kubernetes.io/arch":                    "amd64",
				"beta.kubernetes.io/os":                 "linux",
				"beta.kubernetes.io/arch":               "amd64",
				"node-role.kubernetes.io/control-plane": "",
				"tier":                                  "gold",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			cfg := testConfig(client, newReadyRuntime())
			cfg.Labels = tt.labels
			cfg.Taints = tt.taints
			rec := &testRecorder{}
			cfg.Recorder = rec
			m := newTestManager(t, cfg)
			start(t, m)
			<-m.Registered()

			node := getNode(t, client)
			if diff := cmp.Diff(tt.wantLabels, node.Labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.taints, node.Spec.Taints); diff != "" {
				t.Errorf("taints (-want +got):\n%s", diff)
			}
			if got := node.Annotations[controllerManagedAttachAnnotation]; got != "true" {
				t.Errorf("annotation %s = %q, want \"true\"", controllerManagedAttachAnnotation, got)
			}
			wantAddrs := []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: "172.18.0.3"},
				{Type: corev1.NodeHostName, Address: testNode},
			}
			if diff := cmp.Diff(wantAddrs, node.Status.Addresses); diff != "" {
				t.Errorf("addresses (-want +got):\n%s", diff)
			}
			swap := int64(1 << 30)
			wantInfo := corev1.NodeSystemInfo{
				MachineID:               "0123456789abcdef0123456789abcdef",
				SystemUUID:              "4c4c4544-0000-1000-8000-000000000000",
				BootID:                  "boot-1",
				KernelVersion:           "6.1.0-18-amd64",
				OSImage:                 "Debian GNU/Linux 12 (bookworm)",
				ContainerRuntimeVersion: "containerd://1.6.20",
				KubeletVersion:          "v1.36.4",
				OperatingSystem:         "linux",
				Architecture:            "amd64",
				Swap:                    &corev1.NodeSwapStatus{Capacity: &swap},
			}
			if diff := cmp.Diff(wantInfo, node.Status.NodeInfo); diff != "" {
				t.Errorf("nodeInfo (-want +got):\n%s", diff)
			}
			if got := node.Status.DaemonEndpoints.KubeletEndpoint.Port; got != 10250 {
				t.Errorf("kubelet endpoint port = %d, want 10250", got)
			}
			if got := node.Status.Capacity.Cpu().String(); got != "4" {
				t.Errorf("cpu capacity = %s, want 4", got)
			}

			var condTypes []corev1.NodeConditionType
			for _, c := range node.Status.Conditions {
				condTypes = append(condTypes, c.Type)
			}
			wantTypes := []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure, corev1.NodeReady}
			if diff := cmp.Diff(wantTypes, condTypes); diff != "" {
				t.Errorf("condition types (-want +got):\n%s", diff)
			}
			ready := condition(node, corev1.NodeReady)
			if ready.Status != corev1.ConditionTrue || ready.Reason != "KubeletReady" || ready.Message != "kubelet is posting ready status" {
				t.Errorf("Ready = %s %s %q, want True KubeletReady \"kubelet is posting ready status\"", ready.Status, ready.Reason, ready.Message)
			}

			wantEvents := []string{"Starting", "NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"}
			if diff := cmp.Diff(wantEvents, rec.reasons()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			starting, _ := rec.find("Starting")
			wantRef := &corev1.ObjectReference{Kind: "Node", Name: testNode, UID: types.UID(testNode)}
			if diff := cmp.Diff(wantRef, starting.object); diff != "" || starting.message != "Starting kubelet." {
				t.Errorf("Starting event = %+v %q, want on %+v, \"Starting kubelet.\"", starting.object, starting.message, wantRef)
			}
			memory, _ := rec.find("NodeHasSufficientMemory")
			if want := "Node kindish-worker status is now: NodeHasSufficientMemory"; memory.message != want {
				t.Errorf("NodeHasSufficientMemory message = %q, want %q", memory.message, want)
			}
		})
	}
}

func TestRegistrationRetriesUntilAPIServerAnswers(t *testing.T) {
	client := fake.NewClientset()
	failFirst(client, "create", "nodes", 3)
	m := newTestManager(t, testConfig(client, newReadyRuntime()))
	start(t, m)
	<-m.Registered()

	if got := countActions(client, "create", "nodes", ""); got != 4 {
		t.Errorf("node creates = %d, want 3 refused and 1 accepted", got)
	}
	if getNode(t, client) == nil {
		t.Fatal("node not created")
	}
}

func TestReregistrationUpdatesExistingNode(t *testing.T) {
	otherTaint := corev1.Taint{Key: "example.com/maintenance", Effect: corev1.TaintEffectNoExecute}
	existing := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: testNode,
			Labels: map[string]string{
				"kubernetes.io/hostname": "old-hostname",
				"kubernetes.io/os":       "linux",
				"example.com/rack":       "r1",
			},
		},
		Spec: corev1.NodeSpec{
			PodCIDR: "10.244.1.0/24",
			Taints:  []corev1.Taint{otherTaint},
		},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: "172.18.0.9"},
				{Type: corev1.NodeInternalIP, Address: "172.18.0.10"},
				{Type: corev1.NodeExternalIP, Address: "192.0.2.1"},
				{Type: corev1.NodeHostName, Address: "old-hostname"},
			},
			Capacity: corev1.ResourceList{
				corev1.ResourceCPU:                     resource.MustParse("1"),
				corev1.ResourceName("example.com/gpu"): resource.MustParse("2"),
			},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.35.0", KubeProxyVersion: "v1.35.0", BootID: "boot-1"},
		},
	}
	client := fake.NewClientset(existing)
	cfg := testConfig(client, newReadyRuntime())
	cfg.Labels = map[string]string{"tier": "gold"}
	cfg.Taints = []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}
	m := newTestManager(t, cfg)
	start(t, m)

	waitFor(t, "the status to be updated", func() bool {
		node := getNode(t, client)
		return node.Status.NodeInfo.KubeletVersion == "v1.36.4"
	})
	node := getNode(t, client)
	for key, want := range map[string]string{
		"kubernetes.io/hostname": testNode,
		"kubernetes.io/arch":     "amd64",
		"tier":                   "gold",
		"example.com/rack":       "r1",
	} {
		if got, ok := node.Labels[key]; !ok || got != want {
			t.Errorf("label %s = %q (present %t), want %q", key, got, ok, want)
		}
	}
	if diff := cmp.Diff([]corev1.Taint{otherTaint}, node.Spec.Taints); diff != "" {
		t.Errorf("taints changed on re-registration (-want +got):\n%s", diff)
	}
	if node.Spec.PodCIDR != "10.244.1.0/24" {
		t.Errorf("podCIDR = %q, want the controller's 10.244.1.0/24 kept", node.Spec.PodCIDR)
	}
	wantAddrs := []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: "172.18.0.3"},
		{Type: corev1.NodeHostName, Address: testNode},
	}
	if diff := cmp.Diff(wantAddrs, node.Status.Addresses); diff != "" {
		t.Errorf("addresses (-want +got):\n%s", diff)
	}
	if got := node.Status.Capacity.Cpu().String(); got != "4" {
		t.Errorf("cpu capacity = %s, want 4", got)
	}
	if got := node.Status.Capacity[corev1.ResourceName("example.com/gpu")]; got.String() != "2" {
		t.Errorf("extended resource capacity = %s, want 2 kept", got.String())
	}
	if got := node.Status.NodeInfo.KubeProxyVersion; got != "" {
		t.Errorf("kubeProxyVersion = %q, want it cleared", got)
	}
	if got := countActions(client, "create", "nodes", ""); got != 1 {
		t.Errorf("node creates = %d, want 1", got)
	}
}

func TestLeaseIsCreatedAndRenewed(t *testing.T) {
	client := fake.NewClientset()
	const nodeUID = types.UID("5f2b3c1e-node-uid")
	client.PrependReactor("create", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		// The fake keeps what it is given; an API server would set the UID.
		a.(k8stesting.CreateAction).GetObject().(*corev1.Node).UID = nodeUID
		return false, nil, nil
	})
	m := newTestManager(t, testConfig(client, newReadyRuntime()))
	start(t, m)

	leases := client.CoordinationV1().Leases("kube-node-lease")
	var firstRenew time.Time
	waitFor(t, "the lease", func() bool {
		lease, err := leases.Get(context.Background(), testNode, metav1.GetOptions{})
		if err != nil {
			return false
		}
		firstRenew = lease.Spec.RenewTime.Time
		return true
	})
	lease, err := leases.Get(context.Background(), testNode, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := *lease.Spec.HolderIdentity; got != testNode {
		t.Errorf("holderIdentity = %q, want %q", got, testNode)
	}
	if got := *lease.Spec.LeaseDurationSeconds; got != 40 {
		t.Errorf("leaseDurationSeconds = %d, want 40", got)
	}
	wantOwners := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: testNode, UID: nodeUID}}
	if diff := cmp.Diff(wantOwners, lease.OwnerReferences); diff != "" {
		t.Errorf("ownerReferences (-want +got):\n%s", diff)
	}

	waitFor(t, "the lease to be renewed", func() bool {
		lease, err := leases.Get(context.Background(), testNode, metav1.GetOptions{})
		return err == nil && lease.Spec.RenewTime.After(firstRenew)
	})
	if got := countActions(client, "create", "leases", ""); got != 1 {
		t.Errorf("lease creates = %d, want 1", got)
	}
}

func TestLeaseIsRecreatedWhenDeleted(t *testing.T) {
	client := fake.NewClientset()
	m := newTestManager(t, testConfig(client, newReadyRuntime()))
	start(t, m)

	leases := client.CoordinationV1().Leases("kube-node-lease")
	waitFor(t, "the lease", func() bool {
		_, err := leases.Get(context.Background(), testNode, metav1.GetOptions{})
		return err == nil
	})
	if err := leases.Delete(context.Background(), testNode, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lease to be created again", func() bool {
		return countActions(client, "create", "leases", "") == 2
	})
}

func TestReadyFollowsRuntimeNetwork(t *testing.T) {
	client := fake.NewClientset()
	rt := newReadyRuntime()
	cfg := testConfig(client, rt)
	// Only a change of readiness may post the status in this test.
	cfg.StatusUpdateFrequency = time.Hour
	rec := &testRecorder{}
	cfg.Recorder = rec
	m := newTestManager(t, cfg)
	start(t, m)
	<-m.Registered()

	readyIs := func(status corev1.ConditionStatus) func() bool {
		return func() bool {
			c := condition(getNode(t, client), corev1.NodeReady)
			return c != nil && c.Status == status
		}
	}
	waitFor(t, "Ready=True", readyIs(corev1.ConditionTrue))
	if err := m.NetworkError(); err != nil {
		t.Errorf("NetworkError with the network ready = %v, want nil", err)
	}

	rt.setNetwork(false, "NetworkPluginNotReady", "Network plugin returns error: cni plugin not initialized")
	waitFor(t, "Ready=False", readyIs(corev1.ConditionFalse))
	ready := condition(getNode(t, client), corev1.NodeReady)
	const wantMessage = "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"
	if ready.Reason != "KubeletNotReady" || ready.Message != wantMessage {
		t.Errorf("Ready = %s %q, want KubeletNotReady %q", ready.Reason, ready.Message, wantMessage)
	}
	if err := m.NetworkError(); err == nil || err.Error() != wantMessage {
		t.Errorf("NetworkError = %v, want %q", err, wantMessage)
	}
	if err := m.RuntimeError(); err != nil {
		t.Errorf("RuntimeError with the runtime ready = %v, want nil", err)
	}

	rt.setNetwork(true, "", "")
	waitFor(t, "Ready=True again", readyIs(corev1.ConditionTrue))
	ready = condition(getNode(t, client), corev1.NodeReady)
	if ready.Reason != "KubeletReady" || ready.Message != "kubelet is posting ready status" {
		t.Errorf("Ready = %s %q, want KubeletReady", ready.Reason, ready.Message)
	}
	waitFor(t, "the NodeReady event", func() bool { return slices.Contains(rec.reasons(), "NodeReady") })
	reasons := rec.reasons()
	notReady := slices.Index(reasons, "NodeNotReady")
	if notReady < 0 || slices.Index(reasons, "NodeReady") < notReady {
		t.Errorf("events = %v, want NodeNotReady then NodeReady", reasons)
	}
	if e, _ := rec.find("NodeNotReady"); e.message != "Node kindish-worker status is now: NodeNotReady" {
		t.Errorf("NodeNotReady message = %q", e.message)
	}
}

func TestTriggerPostsStatusAtOnce(t *testing.T) {
	client := fake.NewClientset()
	cfg := testConfig(client, newReadyRuntime())
	cfg.StatusUpdateFrequency = time.Hour
	cfg.RuntimeCheckInterval = time.Hour
	m := newTestManager(t, cfg)
	start(t, m)
	<-m.Registered()

	waitFor(t, "the first status update", func() bool { return countActions(client, "patch", "nodes", "status") == 1 })
	m.Trigger()
	waitFor(t, "the triggered status update", func() bool { return countActions(client, "patch", "nodes", "status") == 2 })
}

func TestUnchangedStatusIsNotPosted(t *testing.T) {
	client := fake.NewClientset()
	cfg := testConfig(client, newReadyRuntime())
	cfg.StatusReportFrequency = time.Hour
	m := newTestManager(t, cfg)
	start(t, m)
	<-m.Registered()

	waitFor(t, "the first status update", func() bool { return countActions(client, "patch", "nodes", "status") == 1 })
	gets := countActions(client, "get", "nodes", "")
	waitFor(t, "several more status computations", func() bool { return countActions(client, "get", "nodes", "") >= gets+5 })
	if got := countActions(client, "patch", "nodes", "status"); got != 1 {
		t.Errorf("status patches = %d, want 1: nothing changed", got)
	}
}

func TestNotReadyWhileRuntimeHasNotAnswered(t *testing.T) {
	client := fake.NewClientset()
	rt := newReadyRuntime()
	rt.statusErr = context.DeadlineExceeded
	cfg := testConfig(client, rt)
	m := newTestManager(t, cfg)
	start(t, m)
	<-m.Registered()

	ready := condition(getNode(t, client), corev1.NodeReady)
	const want = "container runtime status check may not have completed yet"
	if ready.Status != corev1.ConditionFalse || ready.Message != want {
		t.Errorf("Ready = %s %q, want False %q", ready.Status, ready.Message, want)
	}
}

func TestNewRejectsIncompleteConfig(t *testing.T) {
	client := fake.NewClientset()
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"no node name", func(c *Config) { c.NodeName = "" }},
		{"no client", func(c *Config) { c.Client = nil }},
		{"no runtime", func(c *Config) { c.Runtime = nil }},
		{"no machine info", func(c *Config) { c.Machine = MachineInfo{} }},
		{"storage fraction above one", func(c *Config) { c.Reservation = &Reservation{EphemeralStorageFraction: 2} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(client, newReadyRuntime())
			tt.mutate(&cfg)
			if _, err := New(cfg); err == nil {
				t.Error("New accepted the config")
			}
		})
	}
}
