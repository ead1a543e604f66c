package create

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// controlPlaneTimeout bounds the control plane's start: the kubelet runs
// etcd and the API server from their manifests, which takes seconds; four
// minutes is kubeadm's own bound.
const controlPlaneTimeout = 4 * time.Minute

// pollInterval spaces the checks of a starting cluster: short, since the
// create command's speed is the point.
const pollInterval = 50 * time.Millisecond

// hostServer is the API server's URL from the host: the published port,
// on loopback when it listens everywhere.
func (c *Context) hostServer() string {
	host := c.APIServer.Address
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "https://" + net.JoinHostPort(host, fmt.Sprint(c.APIServer.Port))
}

// adminClient reaches the API server from the host, as the admin.
func adminClient(c *Context) (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(adminRESTConfig(c))
}

// waitForControlPlane waits until the API server, a static pod of the
// control-plane node's kubelet, answers ready.
func waitForControlPlane(ctx context.Context, c *Context) error {
	client, err := adminClient(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, controlPlaneTimeout)
	defer cancel()
	var last error
	for {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil {
			return nil
		}
		last = fmt.Errorf("%w: %s", err, body)
		select {
		case <-ctx.Done():
			return fmt.Errorf("the API server did not answer ready within %s (see `kindish export logs`): %w", controlPlaneTimeout, last)
		case <-time.After(pollInterval):
		}
	}
}

// waitForNodesRegistered waits until every node's kubelet registered its
// Node.
func waitForNodesRegistered(ctx context.Context, c *Context) error {
	client, err := adminClient(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, controlPlaneTimeout)
	defer cancel()
	for {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		missing := missingNodes(c.Nodes, nodes)
		if err == nil && len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("nodes %v did not register within %s (see `kindish export logs`)", missing, controlPlaneTimeout)
			}
			return errors.Join(err, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

func missingNodes(planned []PlannedNode, list *corev1.NodeList) []string {
	have := map[string]bool{}
	if list != nil {
		for _, n := range list.Items {
			have[n.Name] = true
		}
	}
	var missing []string
	for _, n := range planned {
		if !have[n.Name] {
			missing = append(missing, n.Name)
		}
	}
	return missing
}
