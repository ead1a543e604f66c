package create

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/cluster/internal/parallel"
	"github.com/kindish/kindish/cluster/kubeconfig"
)

// runtimeReadyLine is what a node's PID 1 (nodeagent/init) prints once
// containerd answers.
const runtimeReadyLine = "kindish-node: containerd is ready"

// waitForRuntimes waits until containerd answers in every node.
func waitForRuntimes(ctx context.Context, c *Context) error {
	return waitForLine(ctx, c, runtimeReadyLine)
}

func waitStatus(c *Context) string {
	if c.Options.Wait <= 0 {
		return ""
	}
	return fmt.Sprintf("Waiting ≤ %s for the nodes and system pods to be Ready", c.Options.Wait)
}

// waitForNodes waits, when asked, until the cluster is ready for work:
// every node Ready (its kubelet reports the runtime and the CNI ready),
// then every pod in kube-system Ready, so that cluster DNS answers.
func waitForNodes(ctx context.Context, c *Context) error {
	if c.Options.Wait <= 0 {
		return nil
	}
	client, err := adminClient(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.Options.Wait)
	defer cancel()
	for {
		var notReady []string
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err == nil {
			notReady = notReadyNodes(c.Nodes, nodes)
		}
		var pods *corev1.PodList
		if err == nil && len(notReady) == 0 {
			pods, err = client.CoreV1().Pods(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{})
			if err == nil {
				notReady = notReadyPods(pods)
			}
		}
		if err == nil && len(notReady) == 0 && pods != nil && len(pods.Items) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("%v not Ready after %s (see `kubectl describe`, and `kindish export logs`)", notReady, c.Options.Wait)
			}
			return err
		case <-time.After(pollInterval):
		}
	}
}

// notReadyPods names the pods that are not Ready, as "pod/<name>".
func notReadyPods(list *corev1.PodList) []string {
	var names []string
	for _, p := range list.Items {
		ready := false
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if !ready && p.Status.Phase != corev1.PodSucceeded {
			names = append(names, "pod/"+p.Name)
		}
	}
	return names
}

func notReadyNodes(planned []PlannedNode, list *corev1.NodeList) []string {
	ready := map[string]bool{}
	if list != nil {
		for _, n := range list.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready[n.Name] = true
				}
			}
		}
	}
	var names []string
	for _, n := range planned {
		if !ready[n.Name] {
			names = append(names, "node/"+n.Name)
		}
	}
	return names
}

func waitForLine(ctx context.Context, c *Context, line string) error {
	return parallel.ForEach(c.Nodes, func(_ int, n PlannedNode) error {
		return c.Provider.WaitForLogLine(ctx, n.Name, line)
	})
}

// writeKubeconfig merges the admin's kubeconfig, pointed at the published
// API server port, into the user's kubeconfig file.
func writeKubeconfig(_ context.Context, c *Context) error {
	cert, key := c.PKI.AdminClient()
	cfg := kubeconfig.Build(c.Options.Config.Name, c.hostServer(), c.PKI.CACert(), cert, key)
	c.kubeconfigWritten = true
	if err := kubeconfig.Merge(c.Options.KubeconfigPath, cfg); err != nil {
		return err
	}
	return nil
}
