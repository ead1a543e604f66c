package envvars

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeServices lists services from memory, or fails with err.
type fakeServices struct {
	services []*corev1.Service
	err      error
}

func (f fakeServices) List(namespace string) ([]*corev1.Service, error) {
	if f.err != nil {
		return nil, f.err
	}
	var out []*corev1.Service
	for _, s := range f.services {
		if s.Namespace == namespace {
			out = append(out, s)
		}
	}
	return out, nil
}

// fakeConfigMaps holds configMaps whose content the API server would
// reject, which only an in-memory getter can return.
type fakeConfigMaps map[string]*corev1.ConfigMap

func (f fakeConfigMaps) GetConfigMap(_ context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	if cm, ok := f[namespace+"/"+name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("configmaps"), name)
}

var (
	kubernetesSvc = service("default", "kubernetes", "10.96.0.1", port("https", 443, corev1.ProtocolTCP))
	kubernetesEnv = []string{
		"KUBERNETES_SERVICE_HOST=10.96.0.1",
		"KUBERNETES_SERVICE_PORT=443",
		"KUBERNETES_SERVICE_PORT_HTTPS=443",
		"KUBERNETES_PORT=tcp://10.96.0.1:443",
		"KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443",
		"KUBERNETES_PORT_443_TCP_PROTO=tcp",
		"KUBERNETES_PORT_443_TCP_PORT=443",
		"KUBERNETES_PORT_443_TCP_ADDR=10.96.0.1",
	}
)

func configMap(ns, name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
}

func secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func newPod(c corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-0", UID: "0f2c-uid"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{c}, NodeName: "kindish-worker"},
	}
}

func ptr[T any](v T) *T { return &v }

func strs(kvs []*runtimeapi.KeyValue) []string {
	out := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, kv.GetKey()+"="+string(kv.GetValue()))
	}
	return out
}

// apiResolver is a Resolver over a fake API server holding objs.
func apiResolver(objs ...runtime.Object) *Resolver {
	client := APIObjects{Client: fake.NewClientset(objs...)}
	return &Resolver{ConfigMaps: client, Secrets: client, Services: fakeServices{services: []*corev1.Service{kubernetesSvc}}}
}

func TestEnvServiceVariablesFollowEnableServiceLinks(t *testing.T) {
	nsSvc := service("ns", "db", "10.96.7.7", port("", 5432, corev1.ProtocolTCP))
	otherNsSvc := service("other", "cache", "10.96.8.8", port("", 6379, corev1.ProtocolTCP))
	defaultSvc := service("default", "registry", "10.96.9.9", port("", 5000, corev1.ProtocolTCP))
	shadowing := service("ns", "kubernetes", "10.96.4.4", port("", 80, corev1.ProtocolTCP))
	dbEnv := []string{
		"DB_SERVICE_HOST=10.96.7.7", "DB_SERVICE_PORT=5432", "DB_PORT=tcp://10.96.7.7:5432",
		"DB_PORT_5432_TCP=tcp://10.96.7.7:5432", "DB_PORT_5432_TCP_PROTO=tcp",
		"DB_PORT_5432_TCP_PORT=5432", "DB_PORT_5432_TCP_ADDR=10.96.7.7",
	}
	tests := []struct {
		name      string
		namespace string
		links     *bool
		services  []*corev1.Service
		want      []string
	}{
		{
			name:  "links on: the namespace's services and kubernetes, sorted by name",
			links: ptr(true), services: []*corev1.Service{kubernetesSvc, nsSvc, otherNsSvc, defaultSvc},
			want: append(append([]string{}, dbEnv...), kubernetesEnv...),
		},
		{
			name: "links unset means on", services: []*corev1.Service{kubernetesSvc, nsSvc},
			want: append(append([]string{}, dbEnv...), kubernetesEnv...),
		},
		{
			name: "links off: kubernetes only", links: ptr(false),
			services: []*corev1.Service{kubernetesSvc, nsSvc, defaultSvc},
			want:     kubernetesEnv,
		},
		{
			name: "a kubernetes service in the pod's namespace wins over default's", links: ptr(true),
			services: []*corev1.Service{kubernetesSvc, shadowing},
			want: []string{
				"KUBERNETES_SERVICE_HOST=10.96.4.4", "KUBERNETES_SERVICE_PORT=80", "KUBERNETES_PORT=tcp://10.96.4.4:80",
				"KUBERNETES_PORT_80_TCP=tcp://10.96.4.4:80", "KUBERNETES_PORT_80_TCP_PROTO=tcp",
				"KUBERNETES_PORT_80_TCP_PORT=80", "KUBERNETES_PORT_80_TCP_ADDR=10.96.4.4",
			},
		},
		{
			name: "links off in default: kubernetes only", namespace: "default", links: ptr(false),
			services: []*corev1.Service{kubernetesSvc, defaultSvc},
			want:     kubernetesEnv,
		},
		{
			name: "links on in default: all of default's services", namespace: "default", links: ptr(true),
			services: []*corev1.Service{kubernetesSvc, defaultSvc},
			want: append(append([]string{}, kubernetesEnv...),
				"REGISTRY_SERVICE_HOST=10.96.9.9", "REGISTRY_SERVICE_PORT=5000", "REGISTRY_PORT=tcp://10.96.9.9:5000",
				"REGISTRY_PORT_5000_TCP=tcp://10.96.9.9:5000", "REGISTRY_PORT_5000_TCP_PROTO=tcp",
				"REGISTRY_PORT_5000_TCP_PORT=5000", "REGISTRY_PORT_5000_TCP_ADDR=10.96.9.9"),
		},
		{
			name: "a headless kubernetes service gives nothing", links: ptr(true),
			services: []*corev1.Service{service("default", "kubernetes", corev1.ClusterIPNone)},
			want:     []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := newPod(corev1.Container{Name: "app"})
			if tt.namespace != "" {
				pod.Namespace = tt.namespace
			}
			pod.Spec.EnableServiceLinks = tt.links
			r := &Resolver{Services: fakeServices{services: tt.services}}
			got, err := r.Env(context.Background(), pod, &pod.Spec.Containers[0], nil, "")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(strs(got), tt.want) {
				t.Errorf("got\n%q\nwant\n%q", strs(got), tt.want)
			}
		})
	}
}

func TestEnvWithoutServiceListerHasNoServiceVariables(t *testing.T) {
	pod := newPod(corev1.Container{Name: "app", Env: []corev1.EnvVar{{Name: "A", Value: "$(KUBERNETES_SERVICE_HOST)"}}})
	got, err := (&Resolver{}).Env(context.Background(), pod, &pod.Spec.Containers[0], nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A=$(KUBERNETES_SERVICE_HOST)"}; !reflect.DeepEqual(strs(got), want) {
		t.Errorf("got %q, want %q", strs(got), want)
	}
}

func TestEnvServiceListFailureFailsTheContainer(t *testing.T) {
	pod := newPod(corev1.Container{Name: "app"})
	r := &Resolver{Services: fakeServices{err: errors.New("cache broken")}}
	_, err := r.Env(context.Background(), pod, &pod.Spec.Containers[0], nil, "")
	if err == nil || !strings.HasPrefix(err.Error(), "failed to list services when setting up env vars") {
		t.Errorf("err = %v, want the upstream message", err)
	}
}

func TestEnvWaitsForServicesUnlessStatic(t *testing.T) {
	tests := []struct {
		name    string
		source  string
		synced  bool
		wantErr bool
	}{
		{"an API pod waits for the first service list", "api", false, true},
		{"a pod without a source is treated as from the API", "", false, true},
		{"a static pod does not wait", "file", false, false},
		{"an API pod goes once services are read", "api", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := newPod(corev1.Container{Name: "app"})
			if tt.source != "" {
				pod.Annotations = map[string]string{"kubernetes.io/config.source": tt.source}
			}
			r := &Resolver{Services: fakeServices{}, ServicesSynced: func() bool { return tt.synced }}
			_, err := r.Env(context.Background(), pod, &pod.Spec.Containers[0], nil, "")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && err.Error() != "services have not yet been read at least once, cannot construct envvars" {
				t.Errorf("err = %q, want upstream's message", err)
			}
		})
	}
}

func TestEnvFromSources(t *testing.T) {
	objs := []runtime.Object{
		configMap("ns", "cfg", map[string]string{"LEVEL": "debug", "app.mode": "fast"}),
		secret("ns", "creds", map[string]string{"USER": "admin", "PASSWORD": "s3cret"}),
		configMap("other", "elsewhere", map[string]string{"NOPE": "x"}),
	}
	tests := []struct {
		name    string
		envFrom []corev1.EnvFromSource
		want    []string
		wantErr string
	}{
		{
			name:    "a configMap's keys, sorted, dotted keys included",
			envFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
			want:    []string{"LEVEL=debug", "app.mode=fast"},
		},
		{
			name:    "a secret's keys with a prefix",
			envFrom: []corev1.EnvFromSource{{Prefix: "DB_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}}},
			want:    []string{"DB_PASSWORD=s3cret", "DB_USER=admin"},
		},
		{
			name: "a later source overrides an earlier one in place",
			envFrom: []corev1.EnvFromSource{
				{Prefix: "X_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
				{Prefix: "X_LEV", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}},
				{Prefix: "X_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			},
			want: []string{"X_LEVEL=debug", "X_app.mode=fast", "X_LEVPASSWORD=s3cret", "X_LEVUSER=admin"},
		},
		{
			name:    "a missing optional configMap is skipped",
			envFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "elsewhere"}, Optional: ptr(true)}}},
			want:    []string{},
		},
		{
			name:    "a missing optional secret is skipped",
			envFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: ptr(true)}}},
			want:    []string{},
		},
		{
			name:    "a missing configMap fails with the kubelet's message",
			envFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "elsewhere"}}}},
			wantErr: `configmap "elsewhere" not found`,
		},
		{
			name:    "a missing secret fails with the kubelet's message",
			envFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: ptr(false)}}},
			wantErr: `secret "gone" not found`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := newPod(corev1.Container{Name: "app", EnvFrom: tt.envFrom})
			r := apiResolver(objs...)
			r.Services = nil
			got, err := r.Env(context.Background(), pod, &pod.Spec.Containers[0], nil, "")
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if !apierrors.IsNotFound(err) {
					t.Errorf("err is not a NotFound: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(strs(got), tt.want) {
				t.Errorf("got %q, want %q", strs(got), tt.want)
			}
		})
	}
}

func TestEnvFromSkipsKeysNoEnvironmentCanHold(t *testing.T) {
	cms := fakeConfigMaps{"ns/odd": configMap("ns", "odd", map[string]string{"GOOD": "1", "A=B": "2", "tab\there": "3"})}
	events := record.NewFakeRecorder(10)
	r := &Resolver{ConfigMaps: cms, Events: events}
	pod := newPod(corev1.Container{Name: "app", EnvFrom: []corev1.EnvFromSource{
		{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "odd"}}},
	}})
	got, err := r.Env(context.Background(), pod, &pod.Spec.Containers[0], nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"GOOD=1"}; !reflect.DeepEqual(strs(got), want) {
		t.Errorf("got %q, want %q", strs(got), want)
	}
	select {
	case e := <-events.Events:
		want := "Warning InvalidEnvironmentVariableNames Keys [A=B, tab\there] from the EnvFrom configMap ns/odd were skipped since they are considered invalid environment variable names."
		if e != want {
			t.Errorf("event %q, want %q", e, want)
		}
	default:
		t.Error("no event about the skipped keys")
	}
}

func TestEnvKeyReferences(t *testing.T) {
	objs := []runtime.Object{
		configMap("ns", "cfg", map[string]string{"level": "debug"}),
		secret("ns", "creds", map[string]string{"password": "s3cret"}),
	}
	cmRef := func(name, key string, optional *bool) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: optional}}
	}
	secretRef := func(name, key string, optional *bool) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: optional}}
	}
	tests := []struct {
		name    string
		source  *corev1.EnvVarSource
		want    []string
		wantErr string
	}{
		{name: "configMap key", source: cmRef("cfg", "level", nil), want: []string{"V=debug"}},
		{name: "secret key", source: secretRef("creds", "password", nil), want: []string{"V=s3cret"}},
		{name: "missing configMap", source: cmRef("nope", "level", nil), wantErr: `configmap "nope" not found`},
		{name: "missing configMap key", source: cmRef("cfg", "nokey", ptr(false)), wantErr: "couldn't find key nokey in ConfigMap ns/cfg"},
		{name: "missing secret", source: secretRef("nope", "k", nil), wantErr: `secret "nope" not found`},
		{name: "missing secret key", source: secretRef("creds", "k", nil), wantErr: "couldn't find key k in Secret ns/creds"},
		{name: "optional missing configMap leaves the variable out", source: cmRef("nope", "level", ptr(true)), want: []string{}},
		{name: "optional missing configMap key leaves the variable out", source: cmRef("cfg", "nokey", ptr(true)), want: []string{}},
		{name: "optional missing secret leaves the variable out", source: secretRef("nope", "k", ptr(true)), want: []string{}},
		{name: "optional missing secret key leaves the variable out", source: secretRef("creds", "k", ptr(true)), want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := newPod(corev1.Container{Name: "app", Env: []corev1.EnvVar{{Name: "V", ValueFrom: tt.source}}})
			r := apiResolver(objs...)
			r.Services = nil
			got, err := r.Env(context.Background(), pod, &pod.Spec.Containers[0], nil, "")
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(strs(got), tt.want) {
				t.Errorf("got %q, want %q", strs(got), tt.want)
			}
		})
	}
}

func TestEnvWithoutGettersFailsReferences(t *testing.T) {
	tests := []struct {
		name    string
		c       corev1.Container
		wantErr string
	}{
		{"configMap", corev1.Container{Name: "app", EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}},
			"couldn't get configMap ns/cfg, no kubeClient defined"},
		{"secret", corev1.Container{Name: "app", Env: []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k", Optional: ptr(true)}}}}},
			"couldn't get secret ns/s, no kubeClient defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := newPod(tt.c)
			_, err := (&Resolver{}).Env(context.Background(), pod, &pod.Spec.Containers[0], nil, "")
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestEnvPrecedenceAndExpansion(t *testing.T) {
	objs := []runtime.Object{
		configMap("ns", "cfg", map[string]string{"LEVEL": "debug", "HOST": "from-configmap"}),
	}
	tests := []struct {
		name string
		env  []corev1.EnvVar
		want []string
	}{
		{
			name: "env overrides envFrom in envFrom's place",
			env:  []corev1.EnvVar{{Name: "LEVEL", Value: "info"}, {Name: "NEW", Value: "n"}},
			want: append([]string{"HOST=from-configmap", "LEVEL=info", "NEW=n"}, kubernetesEnv...),
		},
		{
			name: "an explicit variable replaces a service variable",
			env:  []corev1.EnvVar{{Name: "KUBERNETES_SERVICE_HOST", Value: "api.example"}},
			want: append([]string{"HOST=from-configmap", "LEVEL=debug", "KUBERNETES_SERVICE_HOST=api.example"}, kubernetesEnv[1:]...),
		},
		{
			name: "references see envFrom, earlier env and service variables",
			env: []corev1.EnvVar{
				{Name: "URL", Value: "https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)/$(LEVEL)"},
				{Name: "COPY", Value: "[$(URL)]"},
			},
			want: append([]string{"HOST=from-configmap", "LEVEL=debug", "URL=https://10.96.0.1:443/debug", "COPY=[https://10.96.0.1:443/debug]"}, kubernetesEnv...),
		},
		{
			name: "a reference to a later variable stays as written",
			env:  []corev1.EnvVar{{Name: "A", Value: "$(B)"}, {Name: "B", Value: "b"}},
			want: append([]string{"HOST=from-configmap", "LEVEL=debug", "A=$(B)", "B=b"}, kubernetesEnv...),
		},
		{
			name: "a redefined variable is seen with its new value afterwards",
			env:  []corev1.EnvVar{{Name: "LEVEL", Value: "$(LEVEL)-verbose"}, {Name: "SHOW", Value: "$(LEVEL)"}},
			want: append([]string{"HOST=from-configmap", "LEVEL=debug-verbose", "SHOW=debug-verbose"}, kubernetesEnv...),
		},
		{
			name: "an escaped reference and an empty value",
			env:  []corev1.EnvVar{{Name: "LIT", Value: "$$(LEVEL)"}, {Name: "EMPTY"}},
			want: append([]string{"HOST=from-configmap", "LEVEL=debug", "LIT=$(LEVEL)", "EMPTY="}, kubernetesEnv...),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := newPod(corev1.Container{Name: "app", Env: tt.env, EnvFrom: []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			}})
			got, err := apiResolver(objs...).Env(context.Background(), pod, &pod.Spec.Containers[0], nil, "")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(strs(got), tt.want) {
				t.Errorf("got\n%q\nwant\n%q", strs(got), tt.want)
			}
		})
	}
}

func TestEnvFieldReferences(t *testing.T) {
	fieldEnv := func(path string) corev1.EnvVar {
		return corev1.EnvVar{Name: "V", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}}
	}
	tests := []struct {
		name        string
		path        string
		hostNetwork bool
		podIPs      []string
		hostIP      string
		want        string
		wantErr     string
	}{
		{name: "name", path: "metadata.name", want: "web-0"},
		{name: "namespace", path: "metadata.namespace", want: "ns"},
		{name: "uid", path: "metadata.uid", want: "0f2c-uid"},
		{name: "one label", path: "metadata.labels['app']", want: "web"},
		{name: "a missing label is empty", path: "metadata.labels['nope']", want: ""},
		{name: "one annotation with a prefix", path: "metadata.annotations['example.com/owner']", want: "team \"a\""},
		{name: "all labels, sorted and quoted", path: "metadata.labels", want: "app=\"web\"\ntier=\"front\""},
		{name: "all annotations", path: "metadata.annotations", want: "example.com/owner=\"team \\\"a\\\"\""},
		{name: "node name", path: "spec.nodeName", want: "kindish-worker"},
		{name: "service account", path: "spec.serviceAccountName", want: "builder"},
		{name: "host IP", path: "status.hostIP", hostIP: "172.18.0.3", want: "172.18.0.3"},
		{name: "host IPs", path: "status.hostIPs", hostIP: "172.18.0.3", want: "172.18.0.3"},
		{name: "unknown host IP fails", path: "status.hostIP", wantErr: "host IP unknown"},
		{name: "pod IP", path: "status.podIP", podIPs: []string{"10.244.1.5"}, hostIP: "172.18.0.3", want: "10.244.1.5"},
		{name: "pod IP of the node's family first", path: "status.podIP", podIPs: []string{"fd00::5", "10.244.1.5"}, hostIP: "172.18.0.3", want: "10.244.1.5"},
		{name: "pod IPs, one per family, node's first", path: "status.podIPs", podIPs: []string{"fd00::5", "10.244.1.5", "10.244.1.6"}, hostIP: "172.18.0.3", want: "10.244.1.5,fd00::5"},
		{name: "pod IP before the sandbox has one", path: "status.podIP", want: ""},
		{name: "a hostNetwork pod's IP is the host's", path: "status.podIP", hostNetwork: true, hostIP: "172.18.0.3", want: "172.18.0.3"},
		{name: "an invalid label subscript fails", path: "metadata.labels['bad key']", wantErr: "invalid key subscript in metadata.labels['bad key']: "},
		{name: "a subscript on another field fails", path: "metadata.name['x']", wantErr: "field label does not support subscript: metadata.name['x']"},
		{name: "an unknown field fails", path: "spec.hostname", wantErr: "field label not supported: spec.hostname"},
		{name: "a field without a value fails", path: "status.phase", wantErr: "unsupported fieldPath: status.phase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := newPod(corev1.Container{Name: "app", Env: []corev1.EnvVar{fieldEnv(tt.path)}})
			pod.Labels = map[string]string{"app": "web", "tier": "front"}
			pod.Annotations = map[string]string{"example.com/owner": "team \"a\""}
			pod.Spec.ServiceAccountName = "builder"
			pod.Spec.HostNetwork = tt.hostNetwork
			got, err := (&Resolver{}).Env(context.Background(), pod, &pod.Spec.Containers[0], tt.podIPs, tt.hostIP)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want prefix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"V=" + tt.want}; !reflect.DeepEqual(strs(got), want) {
				t.Errorf("got %q, want %q", strs(got), want)
			}
		})
	}
}

func TestEnvFieldReferenceAPIVersion(t *testing.T) {
	for _, tt := range []struct {
		version string
		wantErr bool
	}{{"v1", false}, {"", false}, {"v2", true}} {
		t.Run("apiVersion "+tt.version, func(t *testing.T) {
			pod := newPod(corev1.Container{Name: "app", Env: []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: tt.version, FieldPath: "metadata.name"}}}}})
			_, err := (&Resolver{}).Env(context.Background(), pod, &pod.Spec.Containers[0], nil, "")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && err.Error() != "unsupported pod version: v2" {
				t.Errorf("err = %q", err)
			}
		})
	}
}

func TestEnvResourceReferences(t *testing.T) {
	allocatable := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("4"),
		corev1.ResourceMemory:           resource.MustParse("8Gi"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	limited := corev1.ResourceRequirements{
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("250m"),
			corev1.ResourceMemory: resource.MustParse("64Mi"),
			"hugepages-2Mi":       resource.MustParse("4Mi"),
		},
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse("100m"),
			corev1.ResourceMemory:           resource.MustParse("32Mi"),
			corev1.ResourceEphemeralStorage: resource.MustParse("1Gi"),
		},
	}
	tests := []struct {
		name      string
		resources corev1.ResourceRequirements
		podLimits corev1.ResourceList
		field     string
		divisor   string
		container string
		want      string
		wantErr   string
	}{
		{name: "cpu limit rounds up to whole cores", resources: limited, field: "limits.cpu", want: "1"},
		{name: "cpu limit in millicores", resources: limited, field: "limits.cpu", divisor: "1m", want: "250"},
		{name: "memory limit in bytes", resources: limited, field: "limits.memory", want: "67108864"},
		{name: "memory limit in Mi", resources: limited, field: "limits.memory", divisor: "1Mi", want: "64"},
		{name: "cpu request", resources: limited, field: "requests.cpu", divisor: "1m", want: "100"},
		{name: "memory request", resources: limited, field: "requests.memory", divisor: "1Mi", want: "32"},
		{name: "ephemeral-storage request", resources: limited, field: "requests.ephemeral-storage", divisor: "1Gi", want: "1"},
		{name: "hugepages limit", resources: limited, field: "limits.hugepages-2Mi", divisor: "1Mi", want: "4"},
		{name: "an unset cpu limit is the node's allocatable", field: "limits.cpu", want: "4"},
		{name: "an unset memory limit is the node's allocatable", field: "limits.memory", divisor: "1Gi", want: "8"},
		{name: "an unset ephemeral-storage limit is the node's allocatable", resources: limited, field: "limits.ephemeral-storage", divisor: "1Gi", want: "100"},
		{name: "an unset cpu limit is the pod-level limit when set", podLimits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}, field: "limits.cpu", want: "2"},
		{name: "an unset request stays zero", field: "requests.cpu", want: "0"},
		{name: "another container's limit, defaulted too", resources: limited, container: "sidecar", field: "limits.memory", divisor: "1Gi", want: "8"},
		{name: "an unknown container fails", container: "ghost", field: "limits.cpu", wantErr: "container ghost not found"},
		{name: "an unknown resource fails", field: "limits.gpu", wantErr: "unsupported container resource : limits.gpu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel := &corev1.ResourceFieldSelector{Resource: tt.field, ContainerName: tt.container}
			if tt.divisor != "" {
				sel.Divisor = resource.MustParse(tt.divisor)
			}
			app := corev1.Container{Name: "app", Resources: tt.resources, Env: []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: sel}}}}
			pod := newPod(app)
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "sidecar"})
			if tt.podLimits != nil {
				pod.Spec.Resources = &corev1.ResourceRequirements{Limits: tt.podLimits}
			}
			r := &Resolver{NodeAllocatable: allocatable}
			got, err := r.Env(context.Background(), pod, &pod.Spec.Containers[0], nil, "")
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"V=" + tt.want}; !reflect.DeepEqual(strs(got), want) {
				t.Errorf("got %q, want %q", strs(got), want)
			}
			if _, set := pod.Spec.Containers[1].Resources.Limits[corev1.ResourceCPU]; set {
				t.Error("defaulting changed the caller's pod")
			}
		})
	}
}

func TestInformerServicesListsOneNamespace(t *testing.T) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, s := range []*corev1.Service{kubernetesSvc, service("ns", "db", "10.96.7.7", port("", 5432, "")), service("other", "x", "10.96.1.1", port("", 1, ""))} {
		if err := indexer.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := InformerServices{Lister: corelisters.NewServiceLister(indexer)}.List("ns")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "db" {
		t.Errorf("got %v, want only ns/db", got)
	}
}
