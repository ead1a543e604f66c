package testbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"

	"github.com/kindish/kindish/cluster/version"
)

// serviceAccountDir is where the kubelet mounts a pod's ServiceAccount
// token, CA and namespace, and where rest.InClusterConfig reads them.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// The environment the kubelet gives every container, which
// rest.InClusterConfig reads to find the API server.
const (
	envServiceHost = "KUBERNETES_SERVICE_HOST"
	envServicePort = "KUBERNETES_SERVICE_PORT"
)

func runKubePods(ctx context.Context, p Process, args []string) error {
	fs := newFlagSet(p, "kube-pods [--namespace NS]", `List the pods of a namespace through the API server, as a program in a pod
does with client-go: the in-cluster configuration (KUBERNETES_SERVICE_HOST,
KUBERNETES_SERVICE_PORT and the pod's ServiceAccount token) and a core/v1
client. Prints "NAME PHASE" a line, sorted by name. A refusal (403) is the
API server's own message.`)
	namespace := fs.String("namespace", "", "the namespace to list; the pod's own (from its ServiceAccount mount) when empty")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if _, err := parseArgs(fs, args, 0, 0); err != nil {
		return err
	}
	if *timeout <= 0 {
		return usageErrorf(fs, "--timeout: want a positive duration, got %v", *timeout)
	}

	cfg, err := inClusterConfig()
	if err != nil {
		return err
	}
	if *namespace == "" {
		if *namespace, err = ownNamespace(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	pods, err := listPods(ctx, cfg, *namespace)
	if err != nil {
		return err
	}
	return writePodPhases(p.Stdout, pods)
}

// listPods lists a namespace's pods through a REST client that knows
// core/v1 alone. client-go's generated client (typed/core/v1) sends the
// same request but imports kubernetes/scheme, which registers the types of
// all 55 k8s.io/api group versions: testbox would be 26 MB, not 14.
func listPods(ctx context.Context, cfg *rest.Config, namespace string) ([]corev1.Pod, error) {
	scheme := runtime.NewScheme()
	// core/v1's types, and meta/v1's Status, which carries a refusal.
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("register core/v1: %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.APIPath = "/api"
	cfg.GroupVersion = &corev1.SchemeGroupVersion
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	cfg.UserAgent = "testbox/" + version.Version
	client, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("make a core/v1 client: %w", err)
	}
	var pods corev1.PodList
	if err := client.Get().Namespace(namespace).Resource("pods").Do(ctx).Into(&pods); err != nil {
		// A refusal is a StatusError whose text is the Status message:
		// `pods is forbidden: User "system:serviceaccount:..." cannot list ...`.
		return nil, fmt.Errorf("list pods in namespace %s: %w", namespace, err)
	}
	return pods.Items, nil
}

// inClusterConfig is rest.InClusterConfig, with errors that say what is
// missing: client-go's own names only the variables, or gives a bare
// "no such file" for the token.
func inClusterConfig() (*rest.Config, error) {
	var unset []string
	for _, name := range []string{envServiceHost, envServicePort} {
		if os.Getenv(name) == "" {
			unset = append(unset, name)
		}
	}
	if len(unset) > 0 {
		return nil, fmt.Errorf("not in a pod: %s unset (the kubelet sets %s and %s in every container)",
			strings.Join(unset, " and "), envServiceHost, envServicePort)
	}
	token := serviceAccountDir + "/token"
	if _, err := os.Stat(token); err != nil {
		return nil, fmt.Errorf("no ServiceAccount token at %s (is automountServiceAccountToken false?): %w", token, err)
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("in-cluster configuration: %w", err)
	}
	return cfg, nil
}

// ownNamespace is the pod's namespace, as kubectl finds it in a pod.
func ownNamespace() (string, error) {
	data, err := os.ReadFile(serviceAccountDir + "/namespace")
	if err != nil {
		return "", fmt.Errorf("find the pod's namespace (or pass --namespace): %w", err)
	}
	ns := strings.TrimSpace(string(data))
	if ns == "" {
		return "", errors.New("find the pod's namespace (or pass --namespace): " + serviceAccountDir + "/namespace is empty")
	}
	return ns, nil
}

// writePodPhases prints "NAME PHASE" a line, sorted by name, "<none>" for
// a pod with no phase yet, as kubectl shows an unset field.
func writePodPhases(w io.Writer, pods []corev1.Pod) error {
	pods = slices.SortedFunc(slices.Values(pods), func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	var b strings.Builder
	for _, pod := range pods {
		phase := string(pod.Status.Phase)
		if phase == "" {
			phase = "<none>"
		}
		fmt.Fprintf(&b, "%s %s\n", pod.Name, phase)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
