package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// testEnv is a Manager over a temporary root, a fake API and a fake clock.
// The fake API answers TokenRequests with "token-<n>" tokens that expire
// when asked, measured on the fake clock.
type testEnv struct {
	m      *Manager
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	root   string

	mu        sync.Mutex
	requests  []tokenRequestCall
	tokenFail error
}

type tokenRequestCall struct {
	namespace, serviceAccount string
	spec                      authenticationv1.TokenRequestSpec
}

func newTestEnv(t *testing.T, objs ...runtime.Object) *testEnv {
	t.Helper()
	env := &testEnv{
		client: fake.NewClientset(objs...),
		clock:  clocktesting.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		root:   t.TempDir(),
	}
	env.client.PrependReactor("create", "serviceaccounts", env.createToken)
	env.m = New(Config{RootDir: env.root, Client: env.client, NodeName: "node-1", Clock: env.clock})
	env.m.mountPoints = func() ([]string, error) { return nil, nil }
	return env
}

func (env *testEnv) createToken(action k8stesting.Action) (bool, runtime.Object, error) {
	create, ok := action.(k8stesting.CreateAction)
	if !ok || action.GetSubresource() != "token" {
		return false, nil, nil
	}
	tr := create.GetObject().(*authenticationv1.TokenRequest).DeepCopy()
	env.mu.Lock()
	defer env.mu.Unlock()
	if env.tokenFail != nil {
		return true, nil, env.tokenFail
	}
	name := action.(k8stesting.CreateActionImpl).Name
	env.requests = append(env.requests, tokenRequestCall{namespace: action.GetNamespace(), serviceAccount: name, spec: tr.Spec})
	tr.Status.Token = fmt.Sprintf("token-%d", len(env.requests))
	tr.Status.ExpirationTimestamp = metav1.NewTime(env.clock.Now().Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second))
	return true, tr, nil
}

func (env *testEnv) tokenRequests() []tokenRequestCall {
	env.mu.Lock()
	defer env.mu.Unlock()
	return append([]tokenRequestCall(nil), env.requests...)
}

func (env *testEnv) failTokens(err error) {
	env.mu.Lock()
	defer env.mu.Unlock()
	env.tokenFail = err
}

func (env *testEnv) volumePath(pod *corev1.Pod, plugin, name string) string {
	return filepath.Join(env.root, "pods", string(pod.UID), "volumes", plugin, name)
}

// testPod is a pod with one container "app" and the given volumes.
func testPod(vols ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web", Namespace: "default", UID: "0b7c9a2e-uid",
			Labels:      map[string]string{"app": "web", "tier": "front"},
			Annotations: map[string]string{"note": "hi \"there\""},
		},
		Spec: corev1.PodSpec{
			ServiceAccountName: "builder",
			Containers: []corev1.Container{{
				Name: "app",
				Resources: corev1.ResourceRequirements{
					Limits:   corev1.ResourceList{corev1.ResourceMemory: mustQuantity("128Mi")},
					Requests: corev1.ResourceList{corev1.ResourceCPU: mustQuantity("250m")},
				},
			}},
			Volumes: vols,
		},
	}
}

func configMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Data: data}
}

func secret(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

func ptr[T any](v T) *T { return &v }

// readFile reads a volume file through its visible (symlinked) name.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return info.Mode() & (os.ModePerm | os.ModeSetgid)
}

func fileGID(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return int64(info.Sys().(*syscall.Stat_t).Gid)
}

func dataTarget(t *testing.T, dir string) string {
	t.Helper()
	target, err := os.Readlink(filepath.Join(dir, dataDirName))
	if err != nil {
		t.Fatalf("read ..data link: %v", err)
	}
	return target
}

func wantError(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want %q", want)
	case want != "" && err.Error() != want:
		t.Fatalf("error:\n got %q\nwant %q", err.Error(), want)
	}
}

func wantErrorContaining(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one containing %q", err, want)
	}
}

func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
