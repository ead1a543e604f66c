package kuberuntime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The reasons a container waits for its image, upstream's.
var (
	ErrImagePull        = errors.New("ErrImagePull")
	ErrImagePullBackOff = errors.New("ImagePullBackOff")
	ErrImageNeverPull   = errors.New("ErrImageNeverPull")
	ErrInvalidImageName = errors.New("InvalidImageName")
	ErrImageInspect     = errors.New("ImageInspectError")
)

// Event reasons about images, upstream's.
const (
	EventPulling           = "Pulling"
	EventPulled            = "Pulled"
	EventInspectFailed     = "InspectFailed"
	EventErrImageNeverPull = "ErrImageNeverPull"
)

// withDefaultTag adds ":latest" to an image with neither tag nor digest,
// without qualifying its name: the runtime resolves short names itself.
func withDefaultTag(image string) (string, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", fmt.Errorf("couldn't parse image name %q: %w", image, err)
	}
	_, tagged := named.(reference.Tagged)
	_, digested := named.(reference.Digested)
	if !tagged && !digested {
		return image + ":latest", nil
	}
	return image, nil
}

// pullPolicy is the container's policy, defaulted as the API server does
// for pods that did not come through it: Always for :latest or no tag,
// IfNotPresent otherwise.
func pullPolicy(c *corev1.Container) corev1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	named, err := reference.ParseNormalizedNamed(c.Image)
	if err != nil {
		return corev1.PullIfNotPresent
	}
	if tagged, ok := named.(reference.Tagged); ok && tagged.Tag() != "latest" {
		return corev1.PullIfNotPresent
	}
	if _, ok := named.(reference.Digested); ok {
		return corev1.PullIfNotPresent
	}
	return corev1.PullAlways
}

func imageBackOffKey(pod *corev1.Pod, image string) string {
	return fmt.Sprintf("%s_%s", pod.UID, image)
}

// ensureImage makes sure the container's image is present, pulling it as
// its pull policy says, and returns the runtime's image ID. Failed pulls
// back off per pod and image: a pull is not retried before the back-off
// has passed, and the container waits with ImagePullBackOff meanwhile.
func (m *Manager) ensureImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container, ref *corev1.ObjectReference, sandboxConfig *runtimeapi.PodSandboxConfig) (imageRef, message string, err error) {
	image, err := withDefaultTag(c.Image)
	if err != nil {
		msg := fmt.Sprintf("Failed to apply default image tag %q: %v", c.Image, err)
		m.event(ref, corev1.EventTypeWarning, EventInspectFailed, msg)
		return "", msg, ErrInvalidImageName
	}
	spec := &runtimeapi.ImageSpec{Image: image, UserSpecifiedImage: c.Image, Annotations: copyStrings(pod.Annotations)}
	st, err := m.images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: spec})
	if err != nil {
		msg := fmt.Sprintf("Failed to inspect image %q: %v", c.Image, err)
		m.event(ref, corev1.EventTypeWarning, EventInspectFailed, msg)
		return "", msg, ErrImageInspect
	}
	present := st.GetImage() != nil

	switch policy := pullPolicy(c); {
	case policy == corev1.PullNever && !present:
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		m.event(ref, corev1.EventTypeWarning, EventErrImageNeverPull, msg)
		return "", msg, ErrImageNeverPull
	case policy == corev1.PullNever, policy == corev1.PullIfNotPresent && present:
		m.event(ref, corev1.EventTypeNormal, EventPulled, fmt.Sprintf("Container image %q already present on machine", c.Image))
		return st.GetImage().GetId(), "", nil
	}

	key := imageBackOffKey(pod, c.Image)
	if m.imageBackOff.IsInBackOffSinceUpdate(key, m.clock.Now()) {
		msg := fmt.Sprintf("Back-off pulling image %q", c.Image)
		m.event(ref, corev1.EventTypeNormal, EventBackOff, msg)
		return "", msg, ErrImagePullBackOff
	}
	m.event(ref, corev1.EventTypeNormal, EventPulling, fmt.Sprintf("Pulling image %q", c.Image))
	start := m.clock.Now()
	pulled, err := m.images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: spec, SandboxConfig: sandboxConfig})
	if err != nil {
		m.event(ref, corev1.EventTypeWarning, EventFailed, fmt.Sprintf("Failed to pull image %q: %v", c.Image, err))
		m.imageBackOff.Next(key, m.clock.Now())
		return "", err.Error(), ErrImagePull
	}
	took := m.clock.Since(start).Truncate(time.Millisecond)
	var size uint64
	if st, err := m.images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: pulled.GetImageRef()}}); err == nil {
		size = st.GetImage().GetSize()
	}
	m.event(ref, corev1.EventTypeNormal, EventPulled, fmt.Sprintf("Successfully pulled image %q in %v (%v including waiting). Image size: %v bytes.", c.Image, took, took, size))
	m.imageBackOff.GC()
	return pulled.GetImageRef(), "", nil
}
