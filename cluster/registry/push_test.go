package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kindish/kindish/images/archive"
)

// fakeRegistry is the distribution API as far as a push goes, over TLS.
type fakeRegistry struct {
	mu        sync.Mutex
	blobs     map[string][]byte // repo@digest
	manifests map[string][]byte // repo:tag and repo@digest
	uploads   int
	// corrupt makes uploads fail the digest check.
	corrupt bool
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := strings.TrimPrefix(r.URL.Path, "/v2/")
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(p, "/blobs/uploads/"):
		f.uploads++
		w.Header().Set("Location", "/v2/"+p+"u1?_state=signed-secret")
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPut && strings.Contains(p, "/blobs/uploads/"):
		repo := p[:strings.Index(p, "/blobs/uploads/")]
		body, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(body)
		if d := r.URL.Query().Get("digest"); f.corrupt || d != "sha256:"+hex.EncodeToString(sum[:]) || r.URL.Query().Get("_state") != "signed-secret" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}`)
			return
		}
		f.blobs[repo+"@"+r.URL.Query().Get("digest")] = body
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodHead && strings.Contains(p, "/blobs/"):
		i := strings.LastIndex(p, "/blobs/")
		b, ok := f.blobs[p[:i]+"@"+p[i+len("/blobs/"):]]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	case strings.Contains(p, "/manifests/"):
		i := strings.LastIndex(p, "/manifests/")
		repo, ref := p[:i], p[i+len("/manifests/"):]
		key := repo + ":" + ref
		if strings.HasPrefix(ref, "sha256:") {
			key = repo + "@" + ref
		}
		if r.Method == http.MethodPut {
			body, _ := io.ReadAll(r.Body)
			sum := sha256.Sum256(body)
			d := "sha256:" + hex.EncodeToString(sum[:])
			f.manifests[key], f.manifests[repo+"@"+d] = body, body
			w.Header().Set("Docker-Content-Digest", d)
			w.WriteHeader(http.StatusCreated)
			return
		}
		body, ok := f.manifests[key]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		sum := sha256.Sum256(body)
		w.Header().Set("Docker-Content-Digest", "sha256:"+hex.EncodeToString(sum[:]))
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusTeapot)
	}
}

func testImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{Architecture: "amd64", OS: "linux", RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		data := make([]byte, 1000+i)
		rand.Read(data)
		l, err := archive.NewLayer([]archive.File{archive.Bytes(fmt.Sprintf("/f%d", i), data, 0o644)})
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

func fakeRegistryClient(t *testing.T) (*fakeRegistry, *Registry) {
	f := &fakeRegistry{blobs: map[string][]byte{}, manifests: map[string][]byte{}}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	r := &Registry{name: "kindish-registry", addr: strings.TrimPrefix(srv.URL, "https://"), transport: srv.Client().Transport, log: slog.New(slog.DiscardHandler)}
	return f, r
}

func TestPushUploadsWhatIsMissingThenTheManifest(t *testing.T) {
	f, r := fakeRegistryClient(t)
	img := testImage(t)
	loc, _ := r.Locate("kindish-test/app:1")
	digest, sent, err := r.api().push(context.Background(), loc, img)
	if err != nil {
		t.Fatal(err)
	}
	if f.uploads != 3 || sent == 0 {
		t.Errorf("%d uploads, %d bytes; want two layers and the config", f.uploads, sent)
	}

	var m v1.Manifest
	if err := json.Unmarshal(f.manifests["docker.io/kindish-test/app:1"], &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("manifest %s, config %s", m.MediaType, m.Config.MediaType)
	}
	cfg, _ := img.ConfigFile()
	for i, l := range m.Layers {
		// Uncompressed, so the layer's digest is its diff ID.
		if l.MediaType != types.OCIUncompressedLayer || l.Digest != cfg.RootFS.DiffIDs[i] || l.Size != int64(len(f.blobs["docker.io/kindish-test/app@"+l.Digest.String()])) {
			t.Errorf("layer %d: %+v", i, l)
		}
	}

	// Again: nothing but the manifest.
	f.uploads = 0
	again, sent, err := r.api().push(context.Background(), loc, img)
	if err != nil || again != digest || f.uploads != 0 || sent != 0 {
		t.Errorf("second push: digest %s (want %s), %d uploads, %d bytes, %v", again, digest, f.uploads, sent, err)
	}

	for _, c := range []struct {
		ref    string
		digest v1.Hash
		want   bool
	}{
		{"kindish-test/app:1", v1.Hash{}, true},
		{"kindish-test/app:1", digest, true},
		{"kindish-test/app:1", v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}, false},
		{"kindish-test/app:2", v1.Hash{}, false},
		{"docker.io/kindish-test/app@" + digest.String(), v1.Hash{}, true},
		{"quay.io/kindish-test/app:1", v1.Hash{}, false},
	} {
		if got, err := r.Has(context.Background(), c.ref, c.digest); got != c.want || err != nil {
			t.Errorf("Has(%s, %v) = %v, %v; want %v", c.ref, c.digest, got, err, c.want)
		}
	}
}

func TestPushErrorsSayWhatTheRegistrySaidAndNoSecret(t *testing.T) {
	f, r := fakeRegistryClient(t)
	f.corrupt = true
	loc, _ := r.Locate("kindish-test/app:1")
	_, _, err := r.api().push(context.Background(), loc, testImage(t))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"layer 0", "PUT https://", "400 Bad Request", "DIGEST_INVALID: provided digest did not match"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "signed-secret") {
		t.Errorf("error shows the upload's state: %v", err)
	}
}

func TestPushRefusesDigests(t *testing.T) {
	_, r := fakeRegistryClient(t)
	_, err := r.Push(context.Background(), "nginx@sha256:"+strings.Repeat("a", 64))
	if err == nil || !strings.Contains(err.Error(), "name it by tag") {
		t.Errorf("err = %v", err)
	}
}
