package volume

import (
	"context"
	"errors"
	"maps"

	corev1 "k8s.io/api/core/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// projectedPayload is upstream's projected collectData: all sources into
// one payload, and the errors of all failing sources together, so that one
// event tells the user everything that is wrong.
func (m *Manager) projectedPayload(ctx context.Context, pod *corev1.Pod, volume string, src *corev1.ProjectedVolumeSource) (map[string]fileProjection, error) {
	defaultMode := modeOr(src.DefaultMode, corev1.ProjectedVolumeSourceDefaultMode)
	fsUser, fsGroup := fsUserOf(pod), fsGroupOf(pod)
	payload := map[string]fileProjection{}
	var errs []error
	for _, s := range src.Sources {
		switch {
		case s.Secret != nil:
			optional := isOptional(s.Secret.Optional)
			secret, err := m.getSecret(ctx, pod.Namespace, s.Secret.Name, optional)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			p, err := secretPayload(s.Secret.Items, secret, defaultMode, optional)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			maps.Copy(payload, p)
		case s.ConfigMap != nil:
			optional := isOptional(s.ConfigMap.Optional)
			cm, err := m.getConfigMap(ctx, pod.Namespace, s.ConfigMap.Name, optional)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			p, err := configMapPayload(s.ConfigMap.Items, cm, defaultMode, optional)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			maps.Copy(payload, p)
		case s.DownwardAPI != nil:
			p, err := m.downwardAPIPayload(ctx, pod, s.DownwardAPI.Items, defaultMode)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			maps.Copy(payload, p)
		case s.ServiceAccountToken != nil:
			token, err := m.tokens.token(ctx, pod, volume, s.ServiceAccountToken)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			// With an fsGroup, the ownership pass turns 0600 into 0640.
			mode := defaultMode
			if fsUser != nil || fsGroup != nil {
				mode = 0o600
			}
			payload[s.ServiceAccountToken.Path] = fileProjection{data: []byte(token), mode: mode, fsUser: fsUser}
		case s.ClusterTrustBundle != nil:
			errs = append(errs, errors.New("clusterTrustBundle projections are not supported by this kubelet"))
		case s.PodCertificate != nil:
			errs = append(errs, errors.New("podCertificate projections are not supported by this kubelet"))
		}
	}
	return payload, utilerrors.NewAggregate(errs)
}
