package registry

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/kindish/kindish/cluster/provider/docker"
	"github.com/kindish/kindish/images/archive"
	imageregistry "github.com/kindish/kindish/images/registry"
)

// testEngine connects to the Docker engine, or skips the test.
func testEngine(t *testing.T) (*client.Client, *docker.Provider) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	p, err := docker.New(ctx, nil)
	if err != nil {
		t.Skipf("the registry runs in a Docker container, and the Docker engine is unreachable: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p.Client(), p
}

// keepNetwork removes the kindish network at the end of the test when the
// test is what created it.
func keepNetwork(t *testing.T, c *client.Client) {
	t.Helper()
	if _, err := c.NetworkInspect(t.Context(), docker.NetworkName, network.InspectOptions{}); err == nil {
		return
	}
	t.Cleanup(func() {
		// Fails, and so keeps it, when nodes of someone else joined it.
		c.NetworkRemove(context.Background(), docker.NetworkName)
	})
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testLogger writes to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// tinyImage loads into the engine an image of one small file whose
// content is new every run, so that its first push must upload it.
func tinyImage(t *testing.T, c *client.Client, ref string) {
	t.Helper()
	content := make([]byte, 4096)
	rand.Read(content)
	layer, err := archive.NewLayer([]archive.File{archive.Bytes("/data", content, 0o644)})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH, OS: "linux",
		Config: v1.Config{Entrypoint: []string{"/data"}},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		t.Fatal(err)
	}
	if _, err := imageregistry.Load(t.Context(), c, ref, img); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.ImageRemove(context.Background(), ref, image.RemoveOptions{Force: true, PruneChildren: true})
	})
}

// blobUploads counts the uploads a transport starts.
type blobUploads struct {
	inner http.RoundTripper
	n     atomic.Int64
}

func (b *blobUploads) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/blobs/uploads/") {
		b.n.Add(1)
	}
	return b.inner.RoundTrip(req)
}

func TestRegistryServesPushedImagesOverMutualTLSAcrossRestarts(t *testing.T) {
	c, p := testEngine(t)
	ctx := t.Context()
	keepNetwork(t, c)

	source, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := imageregistry.Build(ctx, c, imageregistry.BuildOptions{SourceDir: source, Logger: testLogger(t)}); err != nil {
		t.Fatalf("build the registry image: %v", err)
	}

	name := "kindish-registry-test-" + randomSuffix(t)
	opts := Options{Name: name, Volume: name, StateDir: t.TempDir(), Logger: testLogger(t)}
	t.Cleanup(func() {
		ctx := context.Background()
		if err := c.ContainerRemove(ctx, name, container.RemoveOptions{Force: true}); err != nil {
			t.Errorf("remove container %s: %v", name, err)
		}
		if err := c.VolumeRemove(ctx, name, true); err != nil {
			t.Errorf("remove volume %s: %v", name, err)
		}
	})

	// Two processes of one user at once: one creates, the other finds.
	var (
		wg   sync.WaitGroup
		regs [2]*Registry
		errs [2]error
	)
	for i := range regs {
		wg.Go(func() { regs[i], errs[i] = Ensure(ctx, c, p, opts) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("Ensure: %v", err)
		}
	}
	r := regs[0]
	first, err := c.ContainerInspect(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if r.Host() != name+":5000" || !strings.HasPrefix(r.Address(), "127.0.0.1:") {
		t.Errorf("Host %q, Address %q", r.Host(), r.Address())
	}
	if first.Config.User != "65534:65534" {
		t.Errorf("registry runs as %q, want nobody", first.Config.User)
	}

	ref := "kindish-registry-test/tiny:" + randomSuffix(t)
	tinyImage(t, c, ref)
	uploads := &blobUploads{inner: r.transport}
	r.transport = uploads
	digest, err := r.Push(ctx, ref)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if n := uploads.n.Load(); n != 2 {
		t.Errorf("first push started %d uploads, want 2 (the layer and the config)", n)
	}
	uploads.n.Store(0)
	again, err := r.Push(ctx, ref)
	if err != nil {
		t.Fatalf("second push: %v", err)
	}
	if n := uploads.n.Load(); n != 0 || again != digest {
		t.Errorf("second push of the same image: %d uploads, digest %s; want none and %s", n, again, digest)
	}

	// An image the engine lacks: the error names it.
	if _, err := r.Push(ctx, ref+"-absent"); err == nil || !strings.Contains(err.Error(), ref+"-absent") {
		t.Errorf("push of a missing image: %v", err)
	}

	// Pulled back over mutual TLS, where the nodes look for it.
	loc, _ := r.Locate(ref)
	if want := "docker.io/" + ref; loc.String() != want {
		t.Errorf("stored as %s, want %s", loc, want)
	}
	manifestURL := "https://" + r.Address() + "/v2/" + loc.Repository + "/manifests/" + loc.Tag
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, manifestURL, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := (&http.Client{Transport: r.Transport()}).Do(req)
	if err != nil {
		t.Fatalf("GET manifest: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != digest.String() {
		t.Errorf("GET %s: %s, digest %q, want 200 and %s\n%s", manifestURL, resp.Status, resp.Header.Get("Docker-Content-Digest"), digest, body)
	}
	if !strings.Contains(string(body), `"application/vnd.oci.image.layer.v1.tar"`) {
		t.Errorf("manifest does not list an uncompressed layer:\n%s", body)
	}

	// Nothing anonymous: a client that trusts the CA but has no
	// certificate, or one from another CA, is turned away.
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(r.pki.CACert)
	other, err := loadOrCreatePKI(t.TempDir(), name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	otherCert, _ := tls.X509KeyPair(other.ClientCert, other.ClientKey)
	for what, certs := range map[string][]tls.Certificate{"no certificate": nil, "another CA's certificate": {otherCert}} {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
		resp, err := hc.Get("https://" + r.Address() + "/v2/")
		if err == nil {
			resp.Body.Close()
			t.Errorf("a client with %s got %s, want a refused handshake", what, resp.Status)
		} else {
			t.Logf("a client with %s: %v", what, err)
		}
	}

	// Ensure again: the same container.
	if _, err := Ensure(ctx, c, p, opts); err != nil {
		t.Fatal(err)
	}
	if now, _ := c.ContainerInspect(ctx, name); now.ID != first.ID {
		t.Errorf("an idempotent Ensure replaced the container")
	}

	// docker restart: the image is still there (at a new port, maybe).
	if err := c.ContainerRestart(ctx, name, container.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err = Ensure(ctx, c, p, opts)
	if err != nil {
		t.Fatalf("Ensure after restart: %v", err)
	}
	if ok, err := r.Has(ctx, ref, digest); !ok || err != nil {
		t.Errorf("after a restart, Has(%s, %s) = %v, %v", ref, digest, ok, err)
	}

	// A lost PKI: nothing can talk to that container any more, so it is
	// replaced, and its volume keeps the images.
	if err := os.RemoveAll(opts.StateDir); err != nil {
		t.Fatal(err)
	}
	r, err = Ensure(ctx, c, p, opts)
	if err != nil {
		t.Fatalf("Ensure after losing the PKI: %v", err)
	}
	if now, _ := c.ContainerInspect(ctx, name); now.ID == first.ID {
		t.Error("the container kept certificates nobody holds any more")
	}
	if ok, err := r.Has(ctx, ref, digest); !ok || err != nil {
		t.Errorf("after recreating the container, Has(%s, %s) = %v, %v", ref, digest, ok, err)
	}
	if ok, err := r.Has(ctx, ref+"-absent", v1.Hash{}); ok || err != nil {
		t.Errorf("Has of an image never pushed = %v, %v", ok, err)
	}
}
