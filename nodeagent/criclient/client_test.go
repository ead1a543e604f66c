package criclient

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeRuntime is an in-process CRI runtime holding a fixed set of images.
type fakeRuntime struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeapi.UnimplementedImageServiceServer
	images []*runtimeapi.Image
	// notFoundCode answers absent images with gRPC NotFound instead of the
	// CRI's empty status, as some runtimes do.
	notFoundCode bool
}

func (f *fakeRuntime) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: "fake", RuntimeVersion: "1.6.20", RuntimeApiVersion: "v1"}, nil
}

func (f *fakeRuntime) ListImages(context.Context, *runtimeapi.ListImagesRequest) (*runtimeapi.ListImagesResponse, error) {
	return &runtimeapi.ListImagesResponse{Images: f.images}, nil
}

func (f *fakeRuntime) ImageStatus(_ context.Context, req *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	for _, img := range f.images {
		for _, tag := range img.RepoTags {
			if tag == req.GetImage().GetImage() {
				return &runtimeapi.ImageStatusResponse{Image: img}, nil
			}
		}
	}
	if f.notFoundCode {
		return nil, status.Error(codes.NotFound, "no such image")
	}
	return &runtimeapi.ImageStatusResponse{}, nil
}

var (
	nginx = &runtimeapi.Image{
		Id:          "sha256:605c77e624ddb75e6110f997c58876baa13f8754486b461117934b24a9dc3a85",
		RepoTags:    []string{"docker.io/library/nginx:latest"},
		RepoDigests: []string{"docker.io/library/nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31"},
		Size:        141_500_000,
	}
	pause = &runtimeapi.Image{
		Id:       "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
		RepoTags: []string{"docker.io/kindish/pause:v0.1.0", "localhost:5000/pause"},
		Size:     311_000,
		Pinned:   true,
	}
	untagged = &runtimeapi.Image{
		Id:          "sha256:ffff00000000aaaa",
		RepoDigests: []string{"docker.io/library/busybox@sha256:abcd"},
		Size:        4_000_000,
	}
)

// serve starts the fake on a unix socket in a temporary directory and
// returns the socket's path.
func serve(t *testing.T, f *fakeRuntime) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "cri.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(srv, f)
	runtimeapi.RegisterImageServiceServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return sock
}

func dial(t *testing.T, f *fakeRuntime) *Client {
	t.Helper()
	c, err := Dial(context.Background(), serve(t, f))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDialFailsFastNamingTheSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "absent.sock")
	_, err := Dial(context.Background(), sock)
	if err == nil || !strings.Contains(err.Error(), sock) {
		t.Fatalf("Dial of a missing socket: got %v, want an error naming %s", err, sock)
	}
}

func TestImageIDReturnsTheConfigDigest(t *testing.T) {
	c := dial(t, &fakeRuntime{images: []*runtimeapi.Image{nginx, pause}})
	id, err := c.ImageID(context.Background(), "docker.io/library/nginx:latest")
	if err != nil {
		t.Fatal(err)
	}
	if id != nginx.Id {
		t.Fatalf("got %q, want %q", id, nginx.Id)
	}
}

func TestImageIDOfAnAbsentImageIsNotFound(t *testing.T) {
	for _, tc := range []struct {
		name string
		fake *fakeRuntime
	}{
		{"empty status, as the CRI specifies", &fakeRuntime{images: []*runtimeapi.Image{nginx}}},
		{"gRPC NotFound, as some runtimes answer", &fakeRuntime{images: []*runtimeapi.Image{nginx}, notFoundCode: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, tc.fake)
			id, err := c.ImageID(context.Background(), "docker.io/library/redis:7")
			if !errors.Is(err, ErrNotFound) || id != "" {
				t.Fatalf("got (%q, %v), want (\"\", ErrNotFound)", id, err)
			}
			if !strings.Contains(err.Error(), "docker.io/library/redis:7") {
				t.Fatalf("error %q does not name the image", err)
			}
		})
	}
}

func TestListImagesKeepsTagsAndIDs(t *testing.T) {
	c := dial(t, &fakeRuntime{images: []*runtimeapi.Image{pause, nginx}})
	imgs, err := c.ListImages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 {
		t.Fatalf("got %d images, want 2", len(imgs))
	}
	// Sorted by ID.
	if imgs[0].ID != pause.Id || imgs[1].ID != nginx.Id {
		t.Fatalf("order: %s, %s", imgs[0].ID, imgs[1].ID)
	}
	if !imgs[0].Pinned || len(imgs[0].RepoTags) != 2 || imgs[1].RepoTags[0] != "docker.io/library/nginx:latest" || imgs[1].Size != nginx.Size {
		t.Fatalf("fields lost: %+v", imgs)
	}
}

func TestVersion(t *testing.T) {
	c := dial(t, &fakeRuntime{})
	v, err := c.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v != (Version{APIVersion: "0.1.0", RuntimeName: "fake", RuntimeVersion: "1.6.20", RuntimeAPIVersion: "v1"}) {
		t.Fatalf("got %+v", v)
	}
}

func TestCommandImageID(t *testing.T) {
	sock := serve(t, &fakeRuntime{images: []*runtimeapi.Image{nginx}})
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--socket", sock, "image-id", "docker.io/library/nginx:latest"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != nginx.Id+"\n" {
		t.Fatalf("printed %q", got)
	}
	err := run(context.Background(), []string{"--socket", "unix://" + sock, "image-id", "docker.io/library/redis:7"}, &out, &out)
	if err == nil || err.Error() != "image docker.io/library/redis:7 not found" {
		t.Fatalf("absent image: got %v", err)
	}
}

func TestCommandImagesPrintsCrictlTable(t *testing.T) {
	sock := serve(t, &fakeRuntime{images: []*runtimeapi.Image{nginx, pause, untagged}})
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--socket", sock, "images"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"IMAGE                       TAG                 IMAGE ID            SIZE",
		"docker.io/kindish/pause     v0.1.0              0a1b2c3d4e5f6       311kB",
		"localhost:5000/pause        <none>              0a1b2c3d4e5f6       311kB",
		"docker.io/library/nginx     latest              605c77e624ddb       142MB",
		"docker.io/library/busybox   <none>              ffff00000000a       4MB",
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("got\n%s", out.String())
	}
	for i := range want {
		if strings.TrimRight(got[i], " ") != want[i] {
			t.Errorf("line %d:\ngot  %q\nwant %q", i, got[i], want[i])
		}
	}
}

func TestCommandRejectsBadUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"pull", "x"}, {"image-id"}, {"images", "extra"}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out, &out); err == nil {
			t.Errorf("%q: want a usage error", args)
		}
	}
}
