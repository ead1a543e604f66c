package envvars

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ConfigMapGetter reads a configMap; a missing one is an error for which
// apierrors.IsNotFound holds.
type ConfigMapGetter interface {
	GetConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
}

// SecretGetter reads a secret; a missing one is an error for which
// apierrors.IsNotFound holds.
type SecretGetter interface {
	GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
}

// ServiceLister lists the services of one namespace.
type ServiceLister interface {
	List(namespace string) ([]*corev1.Service, error)
}

// EventRecorder is the part of client-go's record.EventRecorder used here.
type EventRecorder interface {
	Eventf(object runtime.Object, eventtype, reason, messageFmt string, args ...any)
}

// configSourceAnnotation names where the kubelet got a pod from; a pod
// from anywhere but the API server is a static pod.
const (
	configSourceAnnotation = "kubernetes.io/config.source"
	configSourceAPIServer  = "api"
)

// The groups in which upstream's kubelet reports missing objects: its
// object caches say `configmap "x" not found`, not the API server's
// `configmaps "x" not found`.
var (
	configMapResource = schema.GroupResource{Resource: "configmap"}
	secretResource    = schema.GroupResource{Resource: "secret"}
)

// Resolver computes containers' environments. Its fields are read-only
// once it is in use, and it is then safe for concurrent use.
type Resolver struct {
	// ConfigMaps and Secrets read the objects env and envFrom refer to.
	// When nil, a reference fails as it does in a kubelet without an API
	// server.
	ConfigMaps ConfigMapGetter
	Secrets    SecretGetter
	// Services lists services for the service variables. When nil there
	// are none, as in a kubelet without an API server.
	Services ServiceLister
	// ServicesSynced, when set, tells whether Services has listed the
	// services at least once. Until then API pods are refused, so that no
	// container starts without KUBERNETES_SERVICE_HOST because the kubelet
	// had just started; static pods go ahead, since the API server may be
	// one of them.
	ServicesSynced func() bool
	// NodeAllocatable is what limits.cpu, limits.memory and
	// limits.ephemeral-storage read as when a container sets no limit.
	NodeAllocatable corev1.ResourceList
	// Events, when set, receives a warning on the pod naming the envFrom
	// keys that were skipped.
	Events EventRecorder
}

// Env returns the environment of container c of pod, whose sandbox has
// podIPs, on a node whose address is hostIP.
//
// Variables come in upstream's order of precedence, each layer overriding
// the ones before: service variables, then envFrom sources in order, then
// env entries in order. The list holds the envFrom and env variables in the
// order they were first defined, then the service variables no other
// layer redefined, so the same pod gets the same environment on every start.
//
// For a hostNetwork pod without podIPs, the pod IP is hostIP, as the
// pod's status shows.
func (r *Resolver) Env(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIPs []string, hostIP string) ([]*runtimeapi.KeyValue, error) {
	if r.ServicesSynced != nil && !isStaticPod(pod) && !r.ServicesSynced() {
		return nil, errors.New("services have not yet been read at least once, cannot construct envvars")
	}
	if pod.Spec.HostNetwork && len(podIPs) == 0 && hostIP != "" {
		podIPs = []string{hostIP}
	}

	serviceEnv, serviceOrder, err := r.serviceEnv(pod)
	if err != nil {
		return nil, err
	}

	objs := &objectCache{r: r, namespace: pod.Namespace, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	env := newOrderedEnv()
	for _, from := range c.EnvFrom {
		if err := r.addEnvFrom(ctx, objs, pod, from, env); err != nil {
			return nil, err
		}
	}

	lookup := lookupIn(env.values, serviceEnv)
	var defaulted *corev1.Container
	var defaultedPod *corev1.Pod
	for _, ev := range c.Env {
		value := ev.Value
		switch {
		case value != "":
			value = Expand(value, lookup)
		case ev.ValueFrom == nil:
		case ev.ValueFrom.FieldRef != nil:
			value, err = podFieldValue(ev.ValueFrom.FieldRef, pod, podIPs, hostIP)
			if err != nil {
				return nil, err
			}
		case ev.ValueFrom.ResourceFieldRef != nil:
			if defaulted == nil {
				defaultedPod, defaulted = defaultedLimits(pod, c, r.NodeAllocatable)
			}
			value, err = resourceFieldValue(ev.ValueFrom.ResourceFieldRef, defaultedPod, defaulted)
			if err != nil {
				return nil, err
			}
		case ev.ValueFrom.ConfigMapKeyRef != nil:
			ref := ev.ValueFrom.ConfigMapKeyRef
			optional := ref.Optional != nil && *ref.Optional
			cm, err := objs.configMap(ctx, ref.Name)
			if err != nil {
				if optional && apierrors.IsNotFound(err) {
					continue
				}
				return nil, err
			}
			v, ok := cm.Data[ref.Key]
			if !ok {
				if optional {
					continue
				}
				return nil, fmt.Errorf("couldn't find key %v in ConfigMap %v/%v", ref.Key, pod.Namespace, ref.Name)
			}
			value = v
		case ev.ValueFrom.SecretKeyRef != nil:
			ref := ev.ValueFrom.SecretKeyRef
			optional := ref.Optional != nil && *ref.Optional
			s, err := objs.secret(ctx, ref.Name)
			if err != nil {
				if optional && apierrors.IsNotFound(err) {
					continue
				}
				return nil, err
			}
			v, ok := s.Data[ref.Key]
			if !ok {
				if optional {
					continue
				}
				return nil, fmt.Errorf("couldn't find key %v in Secret %v/%v", ref.Key, pod.Namespace, ref.Name)
			}
			value = string(v)
		case ev.ValueFrom.FileKeyRef != nil:
			return nil, fmt.Errorf("environment variable %q: fileKeyRef is not supported by this kubelet", ev.Name)
		}
		env.set(ev.Name, value)
	}

	out := make([]*runtimeapi.KeyValue, 0, len(env.names)+len(serviceOrder))
	for _, name := range env.names {
		out = append(out, &runtimeapi.KeyValue{Key: name, Value: []byte(env.values[name])})
	}
	for _, name := range serviceOrder {
		if _, redefined := env.values[name]; !redefined {
			out = append(out, &runtimeapi.KeyValue{Key: name, Value: []byte(serviceEnv[name])})
		}
	}
	return out, nil
}

// serviceEnv returns the service variables the pod sees, by name and in
// order.
func (r *Resolver) serviceEnv(pod *corev1.Pod) (map[string]string, []string, error) {
	values := map[string]string{}
	if r.Services == nil {
		return values, nil, nil
	}
	// The API server defaults enableServiceLinks to true; an undefaulted
	// static pod manifest means the same.
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	var inNamespace []*corev1.Service
	if links {
		var err error
		inNamespace, err = r.Services.List(pod.Namespace)
		if err != nil {
			return nil, nil, fmt.Errorf("failed to list services when setting up env vars: %w", err)
		}
	}
	inDefault := inNamespace
	if !links || pod.Namespace != corev1.NamespaceDefault {
		var err error
		inDefault, err = r.Services.List(corev1.NamespaceDefault)
		if err != nil {
			return nil, nil, fmt.Errorf("failed to list services when setting up env vars: %w", err)
		}
	}
	var order []string
	for _, v := range serviceVariables(visibleServices(links, inNamespace, inDefault)) {
		if _, dup := values[v.name]; !dup {
			order = append(order, v.name)
		}
		values[v.name] = v.value
	}
	return values, order, nil
}

// addEnvFrom adds the keys of one envFrom source to env.
func (r *Resolver) addEnvFrom(ctx context.Context, objs *objectCache, pod *corev1.Pod, from corev1.EnvFromSource, env *orderedEnv) error {
	var data map[string]string
	var kind, name string
	switch {
	case from.ConfigMapRef != nil:
		kind, name = "configMap", from.ConfigMapRef.Name
		cm, err := objs.configMap(ctx, name)
		if err != nil {
			if apierrors.IsNotFound(err) && from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
				return nil
			}
			return err
		}
		data = cm.Data
	case from.SecretRef != nil:
		kind, name = "secret", from.SecretRef.Name
		s, err := objs.secret(ctx, name)
		if err != nil {
			if apierrors.IsNotFound(err) && from.SecretRef.Optional != nil && *from.SecretRef.Optional {
				return nil
			}
			return err
		}
		data = make(map[string]string, len(s.Data))
		for k, v := range s.Data {
			data[k] = string(v)
		}
	default:
		return nil
	}

	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var invalid []string
	for _, k := range keys {
		// Upstream checks nothing here since relaxed names went GA, as the
		// API server has validated keys and prefix. A name no environment
		// can hold (empty, '=', control bytes) is still skipped rather than
		// handed to the runtime.
		name := from.Prefix + k
		if len(validation.IsRelaxedEnvVarName(name)) != 0 {
			invalid = append(invalid, name)
			continue
		}
		env.set(name, data[k])
	}
	if len(invalid) > 0 && r.Events != nil {
		r.Events.Eventf(pod, corev1.EventTypeWarning, "InvalidEnvironmentVariableNames",
			"Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment variable names.",
			strings.Join(invalid, ", "), kind, pod.Namespace, name)
	}
	return nil
}

// objectCache reads each configMap and secret at most once per
// environment, so that every variable sees the same version.
type objectCache struct {
	r          *Resolver
	namespace  string
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

func (o *objectCache) configMap(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	if cm, ok := o.configMaps[name]; ok {
		return cm, nil
	}
	if o.r.ConfigMaps == nil {
		return nil, fmt.Errorf("couldn't get configMap %v/%v, no kubeClient defined", o.namespace, name)
	}
	cm, err := o.r.ConfigMaps.GetConfigMap(ctx, o.namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(configMapResource, name)
		}
		return nil, err
	}
	o.configMaps[name] = cm
	return cm, nil
}

func (o *objectCache) secret(ctx context.Context, name string) (*corev1.Secret, error) {
	if s, ok := o.secrets[name]; ok {
		return s, nil
	}
	if o.r.Secrets == nil {
		return nil, fmt.Errorf("couldn't get secret %v/%v, no kubeClient defined", o.namespace, name)
	}
	s, err := o.r.Secrets.GetSecret(ctx, o.namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(secretResource, name)
		}
		return nil, err
	}
	o.secrets[name] = s
	return s, nil
}

// orderedEnv is a set of variables that remembers the order in which names
// were first defined; redefining a name changes its value, not its place.
type orderedEnv struct {
	names  []string
	values map[string]string
}

func newOrderedEnv() *orderedEnv {
	return &orderedEnv{values: map[string]string{}}
}

func (e *orderedEnv) set(name, value string) {
	if _, ok := e.values[name]; !ok {
		e.names = append(e.names, name)
	}
	e.values[name] = value
}

func isStaticPod(pod *corev1.Pod) bool {
	source, ok := pod.Annotations[configSourceAnnotation]
	return ok && source != configSourceAPIServer
}
