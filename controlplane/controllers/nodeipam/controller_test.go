package nodeipam

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

func node(name string, podCIDRs ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: k8stypes.UID("uid-" + name)}}
	if len(podCIDRs) > 0 {
		n.Spec.PodCIDR = podCIDRs[0]
		n.Spec.PodCIDRs = podCIDRs
	}
	return n
}

// harness is a controller on a fake clientset whose node cache the test
// fills by hand, so that it can lag behind the server as a real one does.
type harness struct {
	t        *testing.T
	client   *fake.Clientset
	factory  informers.SharedInformerFactory
	c        *Controller
	recorder *record.FakeRecorder
}

func newHarness(t *testing.T, cfg Config, nodes ...*corev1.Node) *harness {
	t.Helper()
	objs := make([]runtime.Object, len(nodes))
	for i, n := range nodes {
		objs[i] = n
	}
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	recorder := record.NewFakeRecorder(10)
	c, err := New(client, factory, recorder, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, client: client, factory: factory, c: c, recorder: recorder}
	for _, n := range nodes {
		h.cache(n)
	}
	if err := c.claimExisting(); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) cache(n *corev1.Node) {
	h.t.Helper()
	if err := h.factory.Core().V1().Nodes().Informer().GetIndexer().Update(n); err != nil {
		h.t.Fatal(err)
	}
}

// sync runs sync for the node and returns the pod CIDRs it patched in,
// or nil.
func (h *harness) sync(name string) []string {
	h.t.Helper()
	h.client.ClearActions()
	if err := h.c.sync(context.Background(), name); err != nil {
		h.t.Fatalf("sync %s: %v", name, err)
	}
	for _, a := range h.client.Actions() {
		if a.GetVerb() != "patch" {
			continue
		}
		var patch struct {
			Spec struct {
				PodCIDR  string   `json:"podCIDR"`
				PodCIDRs []string `json:"podCIDRs"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(a.(clienttesting.PatchAction).GetPatch(), &patch); err != nil {
			h.t.Fatal(err)
		}
		if patch.Spec.PodCIDR != patch.Spec.PodCIDRs[0] {
			h.t.Fatalf("patch sets podCIDR %q and podCIDRs %v", patch.Spec.PodCIDR, patch.Spec.PodCIDRs)
		}
		return patch.Spec.PodCIDRs
	}
	return nil
}

var kindCluster = Config{ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}, NodeMaskSizeIPv4: 24}

func TestNodeWithoutRangeGetsNextFreeOne(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		existing []*corev1.Node
		want     []string
	}{
		{name: "first node gets the first range", cfg: kindCluster, existing: nil, want: []string{"10.244.0.0/24"}},
		{
			name:     "ranges of nodes present at start are not handed out",
			cfg:      kindCluster,
			existing: []*corev1.Node{node("a", "10.244.0.0/24"), node("b", "10.244.1.0/24")},
			want:     []string{"10.244.2.0/24"},
		},
		{
			name: "service range inside the cluster range is skipped",
			cfg: Config{
				ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")},
				ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/23")},
			},
			want: []string{"10.0.2.0/24"},
		},
		{
			name: "dual stack gets one range per family",
			cfg: Config{ClusterCIDRs: []netip.Prefix{
				netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("fd00:10:244::/56"),
			}},
			want: []string{"10.244.0.0/24", "fd00:10:244::/64"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.cfg, append(tt.existing, node("new"))...)
			got := h.sync("new")
			if !slices.Equal(got, tt.want) {
				t.Fatalf("node got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNodeWithRangeIsNotPatched(t *testing.T) {
	h := newHarness(t, kindCluster, node("a", "10.244.7.0/24"))
	if got := h.sync("a"); got != nil {
		t.Fatalf("node with a range was patched to %v", got)
	}
}

func TestLaggingCacheDoesNotGiveANodeTwoRanges(t *testing.T) {
	h := newHarness(t, kindCluster, node("a"), node("b"))
	first := h.sync("a")
	// The cache still shows a without a range: the same range again.
	if again := h.sync("a"); !slices.Equal(again, first) {
		t.Fatalf("second sync of a lagging node patched %v, first %v", again, first)
	}
	if other := h.sync("b"); slices.Equal(other, first) {
		t.Fatalf("b got a's range %v", other)
	}
	// Once the cache shows the range, the reservation is done with.
	h.cache(node("a", first...))
	if got := h.sync("a"); got != nil {
		t.Fatalf("node with a range was patched to %v", got)
	}
	if len(h.c.reserved) != 1 {
		t.Fatalf("reservations %v, want only b's", h.c.reserved)
	}
}

func TestExhaustedRangeRecordsEventAndDeletedNodeFreesRange(t *testing.T) {
	small := Config{ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/23")}}
	a, b := node("a", "10.244.0.0/24"), node("b", "10.244.1.0/24")
	h := newHarness(t, small, a, b, node("c"))
	if got := h.sync("c"); got != nil {
		t.Fatalf("node c got %v from an exhausted range", got)
	}
	select {
	case e := <-h.recorder.Events:
		if want := "Normal CIDRNotAvailable Node c status is now: CIDRNotAvailable"; e != want {
			t.Fatalf("event %q, want %q", e, want)
		}
	default:
		t.Fatal("no CIDRNotAvailable event")
	}

	if err := h.factory.Core().V1().Nodes().Informer().GetIndexer().Delete(b); err != nil {
		t.Fatal(err)
	}
	h.c.nodeDeleted(b)
	if h.c.queue.Len() != 1 {
		t.Fatalf("queue holds %d nodes after a range was freed, want the waiting one", h.c.queue.Len())
	}
	key, _ := h.c.queue.Get()
	h.c.queue.Done(key)
	if key != "c" {
		t.Fatalf("requeued %q, want c", key)
	}
	if got := h.sync("c"); !slices.Equal(got, []string{"10.244.1.0/24"}) {
		t.Fatalf("c got %v, want b's freed 10.244.1.0/24", got)
	}
}

func TestFailedPatchReleasesTheRange(t *testing.T) {
	h := newHarness(t, kindCluster, node("a"), node("b"))
	h.client.PrependReactor("patch", "nodes", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.(clienttesting.PatchAction).GetName() == "a" {
			return true, nil, apierrors.NewInternalError(context.Canceled)
		}
		return false, nil, nil
	})
	if err := h.c.sync(context.Background(), "a"); err == nil {
		t.Fatal("sync succeeded although the patch failed; want an error so the node is retried")
	}
	if e := <-h.recorder.Events; !strings.Contains(e, "CIDRAssignmentFailed") {
		t.Fatalf("event %q, want CIDRAssignmentFailed", e)
	}
	if got := h.sync("b"); !slices.Equal(got, []string{"10.244.1.0/24"}) {
		// 10.244.0.0/24 was released, but the rotating candidate moved on.
		t.Fatalf("b got %v", got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "no cluster CIDR", cfg: Config{}},
		{name: "two IPv4 cluster CIDRs", cfg: Config{ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16"), netip.MustParsePrefix("10.1.0.0/16")}}},
		{name: "node mask wider than cluster", cfg: Config{ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}, NodeMaskSizeIPv4: 16}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			if _, err := New(client, informers.NewSharedInformerFactory(client, 0), record.NewFakeRecorder(1), tt.cfg); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

// TestAgainstAPIServer allocates as upstream's node-controller account,
// restarts the controller, exhausts the range and frees one.
func TestAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	ctx := context.Background()
	admin := env.Client
	cfg := Config{ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/22")}}

	run := func() (*record.FakeRecorder, func()) {
		ctx, cancel := context.WithCancel(ctx)
		informerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:kube-controller-manager"))
		controllerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t,
			"system:serviceaccount:kube-system:node-controller",
			"system:serviceaccounts", "system:serviceaccounts:kube-system"))
		factory := informers.NewSharedInformerFactory(informerClient, 0)
		recorder := record.NewFakeRecorder(100)
		c, err := New(controllerClient, factory, recorder, cfg)
		if err != nil {
			t.Fatal(err)
		}
		factory.Start(ctx.Done())
		done := make(chan struct{})
		go func() { defer close(done); c.Run(ctx, 2) }()
		return recorder, func() { cancel(); <-done; factory.Shutdown() }
	}
	createNode := func(name string) {
		if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	_, stop := run()
	for _, n := range []string{"n1", "n2", "n3"} {
		createNode(n)
	}
	seen := map[string]string{}
	for _, n := range []string{"n1", "n2", "n3"} {
		seen[waitForPodCIDR(ctx, t, admin, n)] = n
	}
	if len(seen) != 3 {
		t.Fatalf("three nodes share ranges: %v", seen)
	}
	stop()

	recorder, stop := run()
	defer stop()
	createNode("n4")
	fourth := waitForPodCIDR(ctx, t, admin, "n4")
	if owner, taken := seen[fourth]; taken {
		t.Fatalf("restarted controller gave n4 %s, already n %s's", fourth, owner)
	}

	createNode("n5")
	waitForEvent(t, recorder, "Normal CIDRNotAvailable Node n5 status is now: CIDRNotAvailable")
	freed := waitForPodCIDR(ctx, t, admin, "n2")
	if err := admin.CoreV1().Nodes().Delete(ctx, "n2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := waitForPodCIDR(ctx, t, admin, "n5"); got != freed {
		t.Fatalf("n5 got %s, want n2's freed %s", got, freed)
	}
}

func waitForPodCIDR(ctx context.Context, t *testing.T, client kubernetes.Interface, name string) string {
	t.Helper()
	var cidr string
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if len(n.Spec.PodCIDRs) == 0 {
			return false, nil
		}
		if n.Spec.PodCIDR != n.Spec.PodCIDRs[0] {
			t.Fatalf("node %s: podCIDR %q but podCIDRs %v", name, n.Spec.PodCIDR, n.Spec.PodCIDRs)
		}
		cidr = n.Spec.PodCIDR
		return true, nil
	})
	if err != nil {
		t.Fatalf("node %s pod CIDR: %v", name, err)
	}
	return cidr
}

func waitForEvent(t *testing.T, recorder *record.FakeRecorder, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-recorder.Events:
			if e == want {
				return
			}
		case <-timeout:
			t.Fatalf("no event %q", want)
		}
	}
}
