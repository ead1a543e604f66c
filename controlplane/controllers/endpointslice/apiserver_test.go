package endpointslice_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/record"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
	"github.com/kindish/kindish/controlplane/controllers/endpoints"
	"github.com/kindish/kindish/controlplane/controllers/endpointslice"
	"github.com/kindish/kindish/controlplane/controllers/garbagecollector"
)

// cluster is a real API server with the Endpoints, EndpointSlice and
// garbage collector controllers running as their own ServiceAccounts
// (--use-service-account-credentials), so that the bootstrap RBAC roles
// are proven enough. There is no kubelet: tests set pod IPs and
// readiness as one would.
type cluster struct {
	ctx    context.Context
	admin  kubernetes.Interface
	nextIP atomic.Int32
}

const (
	zonedNode = "worker-a"
	plainNode = "worker-b"
	zone      = "zone-a"
)

func asServiceAccount(t *testing.T, env *apiservertest.Env, account string) kubernetes.Interface {
	t.Helper()
	cfg := env.ConfigFor(t, "system:serviceaccount:kube-system:"+account, "system:serviceaccounts", "system:serviceaccounts:kube-system")
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func startCluster(t *testing.T) *cluster {
	env := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	c := &cluster{ctx: ctx, admin: env.Client}

	for _, n := range []*corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: zonedNode, Labels: map[string]string{corev1.LabelTopologyZone: zone}}},
		{ObjectMeta: metav1.ObjectMeta{Name: plainNode}},
	} {
		if _, err := c.admin.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// Informers read as the manager, as upstream's shared informers do.
	manager, err := kubernetes.NewForConfig(env.ConfigFor(t, "system:kube-controller-manager"))
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(manager, 0)
	recorder := record.NewFakeRecorder(1000)
	sliceController := endpointslice.New(asServiceAccount(t, env, "endpointslice-controller"), factory, recorder, endpointslice.Config{})
	endpointsController := endpoints.New(asServiceAccount(t, env, "endpoint-controller"), factory, recorder, endpoints.Config{})

	gcCfg := env.ConfigFor(t, "system:serviceaccount:kube-system:generic-garbage-collector", "system:serviceaccounts", "system:serviceaccounts:kube-system")
	gcClient := kubernetes.NewForConfigOrDie(gcCfg)
	gcMetadata, err := metadata.NewForConfig(gcCfg)
	if err != nil {
		t.Fatal(err)
	}
	gcFactory := informers.NewSharedInformerFactory(gcClient, 0)
	gc := garbagecollector.New(gcClient, gcFactory, gcMetadata, recorder, nil)

	var wg sync.WaitGroup
	wg.Go(func() { sliceController.Run(ctx, 2) })
	wg.Go(func() { endpointsController.Run(ctx, 2) })
	wg.Go(func() { gc.Run(ctx, 2) })
	factory.Start(ctx.Done())
	gcFactory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		factory.Shutdown()
		gcFactory.Shutdown()
	})
	return c
}

func (c *cluster) namespace(t *testing.T, name string) {
	t.Helper()
	if _, err := c.admin.CoreV1().Namespaces().Create(c.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (c *cluster) service(t *testing.T, svc *corev1.Service) *corev1.Service {
	t.Helper()
	created, err := c.admin.CoreV1().Services(svc.Namespace).Create(c.ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create service %s: %v", svc.Name, err)
	}
	return created
}

// podSpec describes a pod as a test wants it.
type podSpec struct {
	name, node          string
	labels              map[string]string
	ports               []corev1.ContainerPort
	hostname, subdomain string
	notReady            bool
}

// pod creates a pod bound to its node, then reports it running with an
// IP and its readiness, as the node's kubelet would.
func (c *cluster) pod(t *testing.T, namespace string, spec podSpec) {
	t.Helper()
	if err := c.createPod(namespace, spec); err != nil {
		t.Fatal(err)
	}
}

// createPod is pod for goroutines other than the test's.
func (c *cluster) createPod(namespace string, spec podSpec) error {
	if spec.node == "" {
		spec.node = zonedNode
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: spec.name, Labels: spec.labels},
		Spec: corev1.PodSpec{
			NodeName:   spec.node,
			Hostname:   spec.hostname,
			Subdomain:  spec.subdomain,
			Containers: []corev1.Container{{Name: "app", Image: "busybox", Ports: spec.ports}},
		},
	}
	pod, err := c.admin.CoreV1().Pods(namespace).Create(c.ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create pod %s: %w", spec.name, err)
	}
	n := c.nextIP.Add(1)
	ip := fmt.Sprintf("10.244.%d.%d", n/250, n%250+2)
	ready := corev1.ConditionTrue
	if spec.notReady {
		ready = corev1.ConditionFalse
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = ip
	pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready, LastTransitionTime: metav1.Now()}}
	if _, err := c.admin.CoreV1().Pods(namespace).UpdateStatus(c.ctx, pod, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update status of pod %s: %w", spec.name, err)
	}
	return nil
}

func (c *cluster) slices(t *testing.T, namespace, service string) []discoveryv1.EndpointSlice {
	t.Helper()
	list, err := c.admin.DiscoveryV1().EndpointSlices(namespace).List(c.ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + service})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func (c *cluster) endpoints(t *testing.T, namespace, name string) *corev1.Endpoints {
	t.Helper()
	ep, err := c.admin.CoreV1().Endpoints(namespace).Get(c.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// eventually polls check until it returns "" (nothing wrong), and fails
// with its last complaint after a timeout.
func eventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		complaint := check()
		if complaint == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(complaint)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sliceEndpoint is an endpoint with the ports of its slice.
type sliceEndpoint struct {
	discoveryv1.Endpoint
	ports string
	slice string
}

// byPod indexes the endpoints of slices by pod name.
func byPod(slices []discoveryv1.EndpointSlice) map[string]sliceEndpoint {
	out := map[string]sliceEndpoint{}
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			out[ep.TargetRef.Name] = sliceEndpoint{Endpoint: ep, ports: describePorts(s.Ports), slice: s.Name}
		}
	}
	return out
}

func describePorts(ports []discoveryv1.EndpointPort) string {
	var parts []string
	for _, p := range ports {
		parts = append(parts, fmt.Sprintf("%s:%d/%s", *p.Name, *p.Port, *p.Protocol))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// endpointsAddresses summarizes Endpoints as "ports: ready pods | not
// ready pods" per subset, sorted.
func endpointsAddresses(ep *corev1.Endpoints) []string {
	if ep == nil {
		return nil
	}
	var out []string
	for _, s := range ep.Subsets {
		var ports, ready, notReady []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d", p.Name, p.Port))
		}
		for _, a := range s.Addresses {
			ready = append(ready, a.TargetRef.Name)
		}
		for _, a := range s.NotReadyAddresses {
			notReady = append(notReady, a.TargetRef.Name)
		}
		sort.Strings(ports)
		sort.Strings(ready)
		sort.Strings(notReady)
		out = append(out, strings.Join(ports, ",")+": "+strings.Join(ready, ",")+" | "+strings.Join(notReady, ","))
	}
	sort.Strings(out)
	return out
}

func conditions(ep discoveryv1.Endpoint) string {
	b := func(p *bool) string {
		if p == nil {
			return "nil"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("ready=%s serving=%s terminating=%s", b(ep.Conditions.Ready), b(ep.Conditions.Serving), b(ep.Conditions.Terminating))
}

func webService(namespace, name string, selector map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	if len(ports) == 0 {
		ports = []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{"tier": "web"}},
		Spec:       corev1.ServiceSpec{Selector: selector, Ports: ports},
	}
}

func TestAgainstAPIServer(t *testing.T) {
	c := startCluster(t)

	t.Run("three pods, one not ready", func(t *testing.T) {
		c.namespace(t, "three")
		svc := c.service(t, webService("three", "web", map[string]string{"app": "web"}))
		c.pod(t, "three", podSpec{name: "a", labels: map[string]string{"app": "web"}})
		c.pod(t, "three", podSpec{name: "b", node: plainNode, labels: map[string]string{"app": "web"}})
		c.pod(t, "three", podSpec{name: "c", labels: map[string]string{"app": "web"}, notReady: true})
		c.pod(t, "three", podSpec{name: "other", labels: map[string]string{"app": "other"}})

		eventually(t, func() string {
			got := byPod(c.slices(t, "three", "web"))
			if len(got) != 3 || got["c"].Conditions.Ready == nil || *got["c"].Conditions.Ready {
				return fmt.Sprintf("slices list %v, want a, b ready and c not", slices.Sorted(maps.Keys(got)))
			}
			return ""
		})
		list := c.slices(t, "three", "web")
		if len(list) != 1 {
			t.Fatalf("got %d slices, want 1", len(list))
		}
		s := list[0]
		if !strings.HasPrefix(s.Name, "web-") || s.AddressType != discoveryv1.AddressTypeIPv4 {
			t.Errorf("slice %s of address type %s, want web-<suffix> of IPv4", s.Name, s.AddressType)
		}
		if s.Labels[discoveryv1.LabelManagedBy] != endpointslice.ManagedBy || s.Labels["tier"] != "web" {
			t.Errorf("slice labels %v, want the manager's and the service's", s.Labels)
		}
		if _, headless := s.Labels[corev1.IsHeadlessService]; headless {
			t.Error("slice of a service with a cluster IP is labelled headless")
		}
		if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != svc.UID ||
			s.OwnerReferences[0].Controller == nil || !*s.OwnerReferences[0].Controller ||
			s.OwnerReferences[0].BlockOwnerDeletion == nil || !*s.OwnerReferences[0].BlockOwnerDeletion {
			t.Errorf("slice owner references %+v, want the service as controller blocking deletion", s.OwnerReferences)
		}
		if _, err := time.Parse(time.RFC3339Nano, s.Annotations[corev1.EndpointsLastChangeTriggerTime]); err != nil {
			t.Errorf("slice trigger time annotation %q: %v", s.Annotations[corev1.EndpointsLastChangeTriggerTime], err)
		}
		got := byPod(list)
		for pod, want := range map[string]string{
			"a": "ready=true serving=true terminating=false",
			"b": "ready=true serving=true terminating=false",
			"c": "ready=false serving=false terminating=false",
		} {
			if conditions(got[pod].Endpoint) != want {
				t.Errorf("pod %s: %s, want %s", pod, conditions(got[pod].Endpoint), want)
			}
		}
		if a := got["a"]; a.Zone == nil || *a.Zone != zone || a.NodeName == nil || *a.NodeName != zonedNode {
			t.Errorf("pod a on %s: zone %v node %v", zonedNode, a.Zone, a.NodeName)
		}
		if b := got["b"]; b.Zone != nil {
			t.Errorf("pod b on a node without zone has zone %q", *b.Zone)
		}
		if got["a"].ports != "http:8080/TCP" {
			t.Errorf("slice ports %s, want http:8080/TCP", got["a"].ports)
		}

		eventually(t, func() string {
			if got, want := endpointsAddresses(c.endpoints(t, "three", "web")), []string{"http:8080: a,b | c"}; !slices.Equal(got, want) {
				return fmt.Sprintf("endpoints %q, want %q", got, want)
			}
			return ""
		})
		ep := c.endpoints(t, "three", "web")
		if ep.Labels["tier"] != "web" {
			t.Errorf("endpoints labels %v, want the service's labels", ep.Labels)
		}
		// As upstream, a write that no pod or Service change triggered
		// clears the trigger time, so it may be absent; when present it is
		// a time.
		if tt, ok := ep.Annotations[corev1.EndpointsLastChangeTriggerTime]; ok {
			if _, err := time.Parse(time.RFC3339Nano, tt); err != nil {
				t.Errorf("endpoints trigger time annotation %q: %v", tt, err)
			}
		}

		// Level-triggered and idempotent: with nothing changing, nothing
		// is written (the API server's defaults cause no endless updates).
		sliceVersion, epVersion := s.ResourceVersion, ep.ResourceVersion
		time.Sleep(2500 * time.Millisecond)
		if now := c.slices(t, "three", "web"); len(now) != 1 || now[0].ResourceVersion != sliceVersion {
			t.Errorf("slice rewritten with nothing changed")
		}
		if now := c.endpoints(t, "three", "web"); now.ResourceVersion != epVersion {
			t.Errorf("endpoints rewritten with nothing changed")
		}

		// Readiness changes update the same slice in place.
		pod, err := c.admin.CoreV1().Pods("three").Get(c.ctx, "c", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod.Status.Conditions[0].Status = corev1.ConditionTrue
		pod.Status.Conditions[0].LastTransitionTime = metav1.Now()
		if _, err := c.admin.CoreV1().Pods("three").UpdateStatus(c.ctx, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() string {
			now := c.slices(t, "three", "web")
			if len(now) != 1 || now[0].Name != s.Name || conditions(byPod(now)["c"].Endpoint) != "ready=true serving=true terminating=false" {
				return fmt.Sprintf("slices %d, want %s updated with c ready", len(now), s.Name)
			}
			return ""
		})
	})

	t.Run("named target ports and pods lacking them", func(t *testing.T) {
		c.namespace(t, "named")
		c.service(t, webService("named", "web", map[string]string{"app": "web"},
			corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromString("web")},
			corev1.ServicePort{Name: "metrics", Port: 9090, TargetPort: intstr.FromInt32(9090)},
		))
		c.pod(t, "named", podSpec{name: "web8080", labels: map[string]string{"app": "web"}, ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 8080}}})
		c.pod(t, "named", podSpec{name: "web8081", labels: map[string]string{"app": "web"}, ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 8081}}})
		// A port of the right name but another protocol does not match.
		c.pod(t, "named", podSpec{name: "udp", labels: map[string]string{"app": "web"}, ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 8080, Protocol: corev1.ProtocolUDP}}})
		c.pod(t, "named", podSpec{name: "bare", labels: map[string]string{"app": "web"}})

		want := map[string]string{
			"web8080": "http:8080/TCP,metrics:9090/TCP",
			"web8081": "http:8081/TCP,metrics:9090/TCP",
			"udp":     "metrics:9090/TCP",
			"bare":    "metrics:9090/TCP",
		}
		eventually(t, func() string {
			got := byPod(c.slices(t, "named", "web"))
			for pod, ports := range want {
				if got[pod].ports != ports {
					return fmt.Sprintf("pod %s in a slice of ports %q, want %q", pod, got[pod].ports, ports)
				}
			}
			return ""
		})
		if got := c.slices(t, "named", "web"); len(got) != 3 {
			t.Errorf("got %d slices, want one per set of ports (3)", len(got))
		}
		eventually(t, func() string {
			got := endpointsAddresses(c.endpoints(t, "named", "web"))
			want := []string{"http:8080: web8080 | ", "http:8081: web8081 | ", "metrics:9090: bare,udp,web8080,web8081 | "}
			if !slices.Equal(got, want) {
				return fmt.Sprintf("endpoints %q, want %q", got, want)
			}
			return ""
		})
	})

	t.Run("headless service with hostnames", func(t *testing.T) {
		c.namespace(t, "headless")
		svc := webService("headless", "db", map[string]string{"app": "db"})
		svc.Spec.ClusterIP = corev1.ClusterIPNone
		c.service(t, svc)
		c.pod(t, "headless", podSpec{name: "db-0", labels: map[string]string{"app": "db"}, hostname: "db-0", subdomain: "db"})
		c.pod(t, "headless", podSpec{name: "db-1", labels: map[string]string{"app": "db"}, hostname: "db-1", subdomain: "elsewhere"})
		c.pod(t, "headless", podSpec{name: "db-2", labels: map[string]string{"app": "db"}})

		eventually(t, func() string {
			list := c.slices(t, "headless", "db")
			got := byPod(list)
			if len(got) != 3 {
				return fmt.Sprintf("slices list %d pods, want 3", len(got))
			}
			if h := got["db-0"].Hostname; h == nil || *h != "db-0" {
				return fmt.Sprintf("db-0 hostname %v, want db-0", h)
			}
			if got["db-1"].Hostname != nil || got["db-2"].Hostname != nil {
				return "pods whose subdomain is not the service have a hostname"
			}
			if _, ok := list[0].Labels[corev1.IsHeadlessService]; !ok {
				return fmt.Sprintf("slice labels %v lack %s", list[0].Labels, corev1.IsHeadlessService)
			}
			return ""
		})
		eventually(t, func() string {
			ep := c.endpoints(t, "headless", "db")
			if ep == nil || len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 3 {
				return fmt.Sprintf("endpoints %q, want one subset of 3", endpointsAddresses(ep))
			}
			if _, ok := ep.Labels[corev1.IsHeadlessService]; !ok {
				return fmt.Sprintf("endpoints labels %v lack %s", ep.Labels, corev1.IsHeadlessService)
			}
			hostnames := map[string]string{}
			for _, a := range ep.Subsets[0].Addresses {
				hostnames[a.TargetRef.Name] = a.Hostname
			}
			if want := map[string]string{"db-0": "db-0", "db-1": "", "db-2": ""}; !maps.Equal(hostnames, want) {
				return fmt.Sprintf("endpoints hostnames %v, want %v", hostnames, want)
			}
			return ""
		})
	})

	t.Run("terminating pod", func(t *testing.T) {
		c.namespace(t, "terminating")
		c.service(t, webService("terminating", "web", map[string]string{"app": "web"}))
		c.pod(t, "terminating", podSpec{name: "stays", labels: map[string]string{"app": "web"}})
		c.pod(t, "terminating", podSpec{name: "goes", labels: map[string]string{"app": "web"}})
		eventually(t, func() string {
			if got := endpointsAddresses(c.endpoints(t, "terminating", "web")); !slices.Equal(got, []string{"http:8080: goes,stays | "}) {
				return fmt.Sprintf("endpoints %q before deletion", got)
			}
			return ""
		})
		// Bound to a node whose kubelet never confirms, the pod stays
		// terminating.
		if err := c.admin.CoreV1().Pods("terminating").Delete(c.ctx, "goes", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		pod, err := c.admin.CoreV1().Pods("terminating").Get(c.ctx, "goes", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("deleted pod on a node: %v, want it terminating", err)
		}
		if pod.DeletionTimestamp == nil {
			t.Fatal("deleted pod on a node has no deletionTimestamp")
		}
		eventually(t, func() string {
			got := byPod(c.slices(t, "terminating", "web"))
			if conditions(got["goes"].Endpoint) != "ready=false serving=true terminating=true" {
				return fmt.Sprintf("terminating pod: %s", conditions(got["goes"].Endpoint))
			}
			if conditions(got["stays"].Endpoint) != "ready=true serving=true terminating=false" {
				return fmt.Sprintf("remaining pod: %s", conditions(got["stays"].Endpoint))
			}
			return ""
		})
		eventually(t, func() string {
			if got := endpointsAddresses(c.endpoints(t, "terminating", "web")); !slices.Equal(got, []string{"http:8080: stays | "}) {
				return fmt.Sprintf("endpoints %q, want the terminating pod gone", got)
			}
			return ""
		})
	})

	t.Run("selector change", func(t *testing.T) {
		c.namespace(t, "selector")
		c.service(t, webService("selector", "web", map[string]string{"version": "v1"}))
		c.pod(t, "selector", podSpec{name: "v1-a", labels: map[string]string{"version": "v1"}})
		c.pod(t, "selector", podSpec{name: "v1-b", labels: map[string]string{"version": "v1"}})
		c.pod(t, "selector", podSpec{name: "v2-a", labels: map[string]string{"version": "v2"}})
		var before string
		eventually(t, func() string {
			list := c.slices(t, "selector", "web")
			if got := slices.Sorted(maps.Keys(byPod(list))); !slices.Equal(got, []string{"v1-a", "v1-b"}) {
				return fmt.Sprintf("slices list %v before the change", got)
			}
			before = list[0].Name
			return ""
		})
		svc, err := c.admin.CoreV1().Services("selector").Get(c.ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		svc.Spec.Selector = map[string]string{"version": "v2"}
		if _, err := c.admin.CoreV1().Services("selector").Update(c.ctx, svc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() string {
			list := c.slices(t, "selector", "web")
			if got := slices.Sorted(maps.Keys(byPod(list))); !slices.Equal(got, []string{"v2-a"}) {
				return fmt.Sprintf("slices list %v after the change, want v2-a", got)
			}
			// Minimal churn: the old slice is reused, not replaced.
			if len(list) != 1 || list[0].Name != before {
				return fmt.Sprintf("%d slices after the change, want %s reused", len(list), before)
			}
			return ""
		})
		eventually(t, func() string {
			if got := endpointsAddresses(c.endpoints(t, "selector", "web")); !slices.Equal(got, []string{"http:8080: v2-a | "}) {
				return fmt.Sprintf("endpoints %q after the change", got)
			}
			return ""
		})
	})

	t.Run("service deletion removes both", func(t *testing.T) {
		c.namespace(t, "deletion")
		c.service(t, webService("deletion", "web", map[string]string{"app": "web"}))
		c.pod(t, "deletion", podSpec{name: "a", labels: map[string]string{"app": "web"}})
		eventually(t, func() string {
			if len(c.slices(t, "deletion", "web")) != 1 || c.endpoints(t, "deletion", "web") == nil {
				return "no slice or endpoints before deletion"
			}
			return ""
		})
		if err := c.admin.CoreV1().Services("deletion").Delete(c.ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() string {
			if n := len(c.slices(t, "deletion", "web")); n != 0 {
				return fmt.Sprintf("%d slices left after the service was deleted", n)
			}
			if c.endpoints(t, "deletion", "web") != nil {
				return "endpoints left after the service was deleted"
			}
			return ""
		})
	})

	t.Run("slices changed or deleted by others are put back", func(t *testing.T) {
		c.namespace(t, "tamper")
		c.service(t, webService("tamper", "web", map[string]string{"app": "web"}))
		c.pod(t, "tamper", podSpec{name: "a", labels: map[string]string{"app": "web"}})
		c.pod(t, "tamper", podSpec{name: "b", labels: map[string]string{"app": "web"}})
		restored := func() string {
			if got := slices.Sorted(maps.Keys(byPod(c.slices(t, "tamper", "web")))); !slices.Equal(got, []string{"a", "b"}) {
				return fmt.Sprintf("slices list %v, want a and b", got)
			}
			return ""
		}
		eventually(t, restored)

		s := c.slices(t, "tamper", "web")[0]
		s.Endpoints = s.Endpoints[:1]
		if _, err := c.admin.DiscoveryV1().EndpointSlices("tamper").Update(c.ctx, &s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, restored)

		s = c.slices(t, "tamper", "web")[0]
		if err := c.admin.DiscoveryV1().EndpointSlices("tamper").Delete(c.ctx, s.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, restored)

		ep := c.endpoints(t, "tamper", "web")
		if ep == nil {
			t.Fatal("no endpoints")
		}
		if err := c.admin.CoreV1().Endpoints("tamper").Delete(c.ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() string {
			now := c.endpoints(t, "tamper", "web")
			if now == nil || now.UID == ep.UID {
				return "deleted endpoints not recreated"
			}
			return ""
		})
	})

	t.Run("service without pods keeps a placeholder slice", func(t *testing.T) {
		c.namespace(t, "empty")
		c.service(t, webService("empty", "web", map[string]string{"app": "none"}))
		eventually(t, func() string {
			list := c.slices(t, "empty", "web")
			if len(list) != 1 || len(list[0].Endpoints) != 0 || len(list[0].Ports) != 0 {
				return fmt.Sprintf("%d slices, want one empty placeholder", len(list))
			}
			return ""
		})
		eventually(t, func() string {
			if ep := c.endpoints(t, "empty", "web"); ep == nil || len(ep.Subsets) != 0 {
				return "want empty endpoints"
			}
			return ""
		})
	})

	t.Run("more than 100 pods split into slices", func(t *testing.T) {
		c.namespace(t, "many")
		c.service(t, webService("many", "web", map[string]string{"app": "web"}))
		const pods = 150
		var wg sync.WaitGroup
		names := make(chan string, pods)
		for i := range pods {
			names <- fmt.Sprintf("pod-%03d", i)
		}
		close(names)
		for range 8 {
			wg.Go(func() {
				for name := range names {
					if err := c.createPod("many", podSpec{name: name, labels: map[string]string{"app": "web"}}); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		eventually(t, func() string {
			// How full each slice is depends on how the pods arrived
			// (syncs fill existing slices before making new ones); the
			// cap does not.
			list := c.slices(t, "many", "web")
			var sizes []int
			total := 0
			for _, s := range list {
				sizes = append(sizes, len(s.Endpoints))
				total += len(s.Endpoints)
			}
			if len(byPod(list)) != pods || total != pods || len(list) < 2 || slices.Max(sizes) > endpointslice.DefaultMaxEndpointsPerSlice {
				return fmt.Sprintf("slices of sizes %v listing %d pods, want %d pods once each, at most %d a slice",
					sizes, len(byPod(list)), pods, endpointslice.DefaultMaxEndpointsPerSlice)
			}
			return ""
		})
		eventually(t, func() string {
			ep := c.endpoints(t, "many", "web")
			if ep == nil || len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != pods {
				return fmt.Sprintf("endpoints %+v, want %d addresses in one subset", ep, pods)
			}
			return ""
		})
	})
}
