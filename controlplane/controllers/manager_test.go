package controllers

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
	"github.com/kindish/kindish/controlplane/controllers/rootcacert"
)

// managerOptions are kubeadm's settings against the test API server, as
// system:kube-controller-manager.
func managerOptions(t *testing.T, env *apiservertest.Env) Options {
	t.Helper()
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, env.PKI.CACert(), 0o600); err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.RestConfig = env.ConfigFor(t, "system:kube-controller-manager")
	o.SecurePort = 0
	o.LeaderElect = true
	o.UseServiceAccountCredentials = true
	o.AllocateNodeCIDRs = true
	o.ServiceClusterIPRange = "10.96.0.0/16"
	o.Controllers = []string{"*", "bootstrapsigner", "tokencleaner"}
	o.RootCAFile = caFile
	return o
}

// TestRunAgainstAPIServer runs the manager as kubeadm configures it: it
// takes the Lease, runs each controller as its own ServiceAccount (which
// only works if RBAC lets each do its job), and gives the Lease up when
// stopped.
func TestRunAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	admin := env.Client
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := managerOptions(t, env)
	o.SecurePort = freePort(t)
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, o) }()

	var holder string
	poll(t, "the Lease held", func() (bool, error) {
		lease, err := admin.CoordinationV1().Leases("kube-system").Get(ctx, "kube-controller-manager", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if lease.Spec.HolderIdentity != nil {
			holder = *lease.Spec.HolderIdentity
		}
		return holder != "", nil
	})
	host, _ := os.Hostname()
	if !strings.HasPrefix(holder, host+"_") {
		t.Errorf("holder identity %q, want <hostname>_<uuid>", holder)
	}

	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kind-worker"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "default ServiceAccount in team-a", func() (bool, error) {
		_, err := admin.CoreV1().ServiceAccounts("team-a").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	poll(t, "kube-root-ca.crt in team-a", func() (bool, error) {
		cm, err := admin.CoreV1().ConfigMaps("team-a").Get(ctx, rootcacert.ConfigMapName, metav1.GetOptions{})
		return err == nil && cm.Data["ca.crt"] == string(env.PKI.CACert()), nil
	})
	poll(t, "a pod range on kind-worker", func() (bool, error) {
		n, err := admin.CoreV1().Nodes().Get(ctx, "kind-worker", metav1.GetOptions{})
		return err == nil && n.Spec.PodCIDR == "10.244.0.0/24", nil
	})
	for _, sa := range []string{"service-account-controller", "root-ca-cert-publisher", "node-controller"} {
		if _, err := admin.CoreV1().ServiceAccounts("kube-system").Get(ctx, sa, metav1.GetOptions{}); err != nil {
			t.Errorf("controller account kube-system/%s: %v", sa, err)
		}
	}
	// kubeadm's probes skip verification of the self-signed certificate.
	https := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	base := fmt.Sprintf("https://127.0.0.1:%d", o.SecurePort)
	if status, body := get(t, https, base+"/healthz"); status != http.StatusOK || body != "ok" {
		t.Errorf("/healthz: %d %q", status, body)
	}
	_, metrics := get(t, https, base+"/metrics")
	for _, want := range []string{
		`leader_election_master_status{name="kube-controller-manager"} 1`,
		`running_managed_controllers{manager="kube-controller-manager",name="taint-eviction-controller"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	poll(t, "the LeaderElection event", func() (bool, error) {
		events, err := admin.CoreV1().Events("kube-system").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == "LeaderElection" && e.Message == holder+" became leader" && e.InvolvedObject.Kind == "Lease" {
				return true, nil
			}
		}
		return false, nil
	})

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	lease, err := admin.CoordinationV1().Leases("kube-system").Get(context.Background(), "kube-controller-manager", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Fatalf("Lease still held by %q after shutdown", *h)
	}
}

// TestStandbyTakesOverWhenLeaderStops runs two managers: one leads, the
// other waits, and takes over when the first stops.
func TestStandbyTakesOverWhenLeaderStops(t *testing.T) {
	env := apiservertest.Start(t)
	admin := env.Client
	holder := func() string {
		lease, err := admin.CoordinationV1().Leases("kube-system").Get(context.Background(), "kube-controller-manager", metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil {
			return ""
		}
		return *lease.Spec.HolderIdentity
	}
	start := func() (context.CancelFunc, chan error) {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- Run(ctx, managerOptions(t, env)) }()
		return cancel, errc
	}
	stopFirst, firstDone := start()
	defer stopFirst()
	var first string
	poll(t, "a leader", func() (bool, error) { first = holder(); return first != "", nil })
	stopSecond, secondDone := start()
	defer func() { stopSecond(); <-secondDone }()

	// The standby retries every 2 s; give it the time to try twice.
	time.Sleep(5 * time.Second)
	if h := holder(); h != first {
		t.Fatalf("leader changed to %q while %q was running", h, first)
	}
	stopFirst()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	poll(t, "the standby leading", func() (bool, error) { h := holder(); return h != "" && h != first, nil })
}

func TestRunRejectsUnknownControllers(t *testing.T) {
	o := DefaultOptions()
	o.RestConfig = &rest.Config{Host: "https://127.0.0.1:1"}
	o.Controllers = []string{"*", "-nodeipam", "frobnicator"}
	err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), `"frobnicator" is not in the list of known controllers`) {
		t.Fatalf("Run: %v, want the unknown controller named", err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func poll(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) { return cond() })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
