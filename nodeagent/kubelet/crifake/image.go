package crifake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sort"

	"github.com/distribution/reference"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Image is an image as a test describes it. Only one reference is needed:
// the ID defaults to a digest of the first tag, the size to 1 MiB.
type Image struct {
	// ID is the config digest, "sha256:<64 hex>".
	ID string
	// RepoTags are references to the image; they are stored normalized
	// ("busybox" becomes "docker.io/library/busybox:latest").
	RepoTags    []string
	RepoDigests []string
	Size        uint64
	// UID, or else Username, is the user the image runs as; both unset
	// means root.
	UID      *int64
	Username string
}

type image struct {
	id          string
	repoTags    []string
	repoDigests []string
	size        uint64
	uid         *int64
	username    string
}

// Normalize returns a reference as containerd stores it: domain and
// "library/" filled in and ":latest" added when there is neither tag nor
// digest. A reference that does not parse is returned unchanged.
func Normalize(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.TagNameOnly(named).String()
}

func newImage(img Image) *image {
	out := &image{
		id:       img.ID,
		size:     img.Size,
		uid:      img.UID,
		username: img.Username,
	}
	for _, t := range img.RepoTags {
		out.repoTags = append(out.repoTags, Normalize(t))
	}
	for _, d := range img.RepoDigests {
		out.repoDigests = append(out.repoDigests, Normalize(d))
	}
	if out.id == "" {
		seed := "image"
		if len(out.repoTags) > 0 {
			seed = out.repoTags[0]
		}
		sum := sha256.Sum256([]byte(seed))
		out.id = "sha256:" + hex.EncodeToString(sum[:])
	}
	if out.size == 0 {
		out.size = 1 << 20
	}
	return out
}

func (img *image) displayName(fallback string) string {
	if len(img.repoTags) > 0 {
		return img.repoTags[0]
	}
	return fallback
}

func (img *image) digestRef() string {
	if len(img.repoDigests) > 0 {
		return img.repoDigests[0]
	}
	return img.id
}

func (img *image) api() *runtimeapi.Image {
	out := &runtimeapi.Image{
		Id:          img.id,
		RepoTags:    append([]string(nil), img.repoTags...),
		RepoDigests: append([]string(nil), img.repoDigests...),
		Size:        img.size,
		Username:    img.username,
		Spec:        &runtimeapi.ImageSpec{Image: img.id},
	}
	if img.uid != nil {
		out.Uid = &runtimeapi.Int64Value{Value: *img.uid}
	}
	return out
}

// lookupImage finds an image by ID (with or without "sha256:") or by any of
// its references. The caller holds r.mu.
func (r *Runtime) lookupImage(ref string) *image {
	if ref == "" {
		return nil
	}
	if img, ok := r.images[ref]; ok {
		return img
	}
	if img, ok := r.images["sha256:"+ref]; ok {
		return img
	}
	norm := Normalize(ref)
	for _, img := range r.images {
		for _, t := range append(append([]string(nil), img.repoTags...), img.repoDigests...) {
			if t == norm {
				return img
			}
		}
	}
	return nil
}

// ImageStatus reports an image; an absent image is a response without one,
// not an error, as in CRI.
func (r *Runtime) ImageStatus(_ context.Context, in *runtimeapi.ImageStatusRequest, _ ...grpc.CallOption) (*runtimeapi.ImageStatusResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("ImageStatus"); err != nil {
		return nil, err
	}
	img := r.lookupImage(in.GetImage().GetImage())
	if img == nil {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	return &runtimeapi.ImageStatusResponse{Image: img.api()}, nil
}

// PullImage fetches an image registered with SetPullable. Any other
// reference fails as containerd fails on a registry that lacks it.
func (r *Runtime) PullImage(_ context.Context, in *runtimeapi.PullImageRequest, _ ...grpc.CallOption) (*runtimeapi.PullImageResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("PullImage"); err != nil {
		return nil, err
	}
	ref := in.GetImage().GetImage()
	norm := Normalize(ref)
	if err, ok := r.pullErrors[norm]; ok {
		return nil, err
	}
	img, ok := r.registry[norm]
	if !ok {
		return nil, status.Errorf(codes.NotFound,
			"failed to pull and unpack image %q: failed to resolve reference %q: %s: not found", norm, norm, norm)
	}
	if existing := r.lookupImage(norm); existing != nil {
		return &runtimeapi.PullImageResponse{ImageRef: existing.id}, nil
	}
	stored := newImage(img)
	r.images[stored.id] = stored
	return &runtimeapi.PullImageResponse{ImageRef: stored.id}, nil
}

// ListImages lists the images the runtime holds.
func (r *Runtime) ListImages(_ context.Context, in *runtimeapi.ListImagesRequest, _ ...grpc.CallOption) (*runtimeapi.ListImagesResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("ListImages"); err != nil {
		return nil, err
	}
	want := in.GetFilter().GetImage().GetImage()
	var out []*runtimeapi.Image
	for _, img := range r.images {
		if want != "" && r.lookupImage(want) != img {
			continue
		}
		out = append(out, img.api())
	}
	sortImages(out)
	return &runtimeapi.ListImagesResponse{Images: out}, nil
}

func sortImages(imgs []*runtimeapi.Image) {
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].Id < imgs[j].Id })
}

// RemoveImage forgets an image; removing an absent one succeeds.
func (r *Runtime) RemoveImage(_ context.Context, in *runtimeapi.RemoveImageRequest, _ ...grpc.CallOption) (*runtimeapi.RemoveImageResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("RemoveImage"); err != nil {
		return nil, err
	}
	if img := r.lookupImage(in.GetImage().GetImage()); img != nil {
		delete(r.images, img.id)
	}
	return &runtimeapi.RemoveImageResponse{}, nil
}

// ImageFsInfo reports no filesystems.
func (r *Runtime) ImageFsInfo(context.Context, *runtimeapi.ImageFsInfoRequest, ...grpc.CallOption) (*runtimeapi.ImageFsInfoResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("ImageFsInfo"); err != nil {
		return nil, err
	}
	return &runtimeapi.ImageFsInfoResponse{}, nil
}

// StreamImages is not implemented.
func (r *Runtime) StreamImages(context.Context, *runtimeapi.StreamImagesRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[runtimeapi.StreamImagesResponse], error) {
	return nil, unimplemented("StreamImages")
}
