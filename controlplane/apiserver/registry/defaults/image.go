package defaults

import (
	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
)

// pullPolicy is the pull policy of an image that names none: Always for
// the latest tag, written or implied, IfNotPresent otherwise. An image
// named by digest alone has no implied tag; one that also carries the
// latest tag is still pulled Always. A reference that does not parse gets
// IfNotPresent; validation or the kubelet reports it.
func pullPolicy(image string) corev1.PullPolicy {
	if imageTag(image) == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// imageTag is the tag an image reference asks for, "latest" when it gives
// neither tag nor digest, and "" when it gives a digest only or does not
// parse.
func imageTag(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return ""
	}
	if tagged, ok := named.(reference.Tagged); ok {
		return tagged.Tag()
	}
	if _, ok := named.(reference.Digested); ok {
		return ""
	}
	return "latest"
}
