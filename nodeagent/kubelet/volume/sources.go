package volume

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// errNoClient is what a kubelet without an API server (standalone, or
// before its credentials exist) answers for volumes whose content lives in
// the API.
var errNoClient = errors.New("kube client is not configured")

// getConfigMap reads a configMap for a volume. A missing one is an error
// unless the volume says it is optional, in which case it is empty. The
// not-found error is the one upstream's configMap cache gives, whose text
// ("configmap \"x\" not found") users see in FailedMount events.
func (m *Manager) getConfigMap(ctx context.Context, namespace, name string, optional bool) (*corev1.ConfigMap, error) {
	if m.client == nil {
		return nil, fmt.Errorf("cannot read configmap %q: %w", name, errNoClient)
	}
	cm, err := m.client.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) && optional:
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}, nil
	case apierrors.IsNotFound(err):
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmap"}, name)
	case err != nil:
		return nil, fmt.Errorf("get configmap %q: %w", name, err)
	}
	return cm, nil
}

// getSecret is getConfigMap for secrets.
func (m *Manager) getSecret(ctx context.Context, namespace, name string, optional bool) (*corev1.Secret, error) {
	if m.client == nil {
		return nil, fmt.Errorf("cannot read secret %q: %w", name, errNoClient)
	}
	s, err := m.client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) && optional:
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}, nil
	case apierrors.IsNotFound(err):
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secret"}, name)
	case err != nil:
		return nil, fmt.Errorf("get secret %q: %w", name, err)
	}
	return s, nil
}

// configMapPayload is upstream's configmap.MakePayload: every key (data and
// binaryData) when no items are listed, else the listed keys at their
// paths. A listed key that is missing fails the volume unless optional.
func configMapPayload(items []corev1.KeyToPath, cm *corev1.ConfigMap, defaultMode int32, optional bool) (map[string]fileProjection, error) {
	payload := make(map[string]fileProjection, len(cm.Data)+len(cm.BinaryData))
	if len(items) == 0 {
		for k, v := range cm.Data {
			payload[k] = fileProjection{data: []byte(v), mode: defaultMode}
		}
		for k, v := range cm.BinaryData {
			payload[k] = fileProjection{data: v, mode: defaultMode}
		}
		return payload, nil
	}
	for _, item := range items {
		var data []byte
		if s, ok := cm.Data[item.Key]; ok {
			data = []byte(s)
		} else if b, ok := cm.BinaryData[item.Key]; ok {
			data = b
		} else if optional {
			continue
		} else {
			return nil, fmt.Errorf("configmap references non-existent config key: %s", item.Key)
		}
		payload[item.Path] = fileProjection{data: data, mode: modeOr(item.Mode, defaultMode)}
	}
	return payload, nil
}

// secretPayload is upstream's secret.MakePayload.
func secretPayload(items []corev1.KeyToPath, s *corev1.Secret, defaultMode int32, optional bool) (map[string]fileProjection, error) {
	payload := make(map[string]fileProjection, len(s.Data))
	if len(items) == 0 {
		for k, v := range s.Data {
			payload[k] = fileProjection{data: v, mode: defaultMode}
		}
		return payload, nil
	}
	for _, item := range items {
		data, ok := s.Data[item.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("references non-existent secret key: %s", item.Key)
		}
		payload[item.Path] = fileProjection{data: data, mode: modeOr(item.Mode, defaultMode)}
	}
	return payload, nil
}

func modeOr(mode *int32, def int32) int32 {
	if mode != nil {
		return *mode
	}
	return def
}

func isOptional(b *bool) bool { return b != nil && *b }
