package registry

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"sigs.k8s.io/yaml"

	"github.com/kindish/kindish/images"
	"github.com/kindish/kindish/images/gobuild"
)

// The wrapper in the source tree is a module of its own that requires the
// pinned Distribution release and runs its serve command.
func TestTheWrapperModulePinsDistribution(t *testing.T) {
	const dir = "build"
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "module github.com/kindish/kindish/images/registry/build\n") {
		t.Error("the wrapper's go.mod does not declare its own module")
	}
	if !strings.Contains(string(mod), "require github.com/distribution/distribution/v3 "+Version+"\n") {
		t.Errorf("the wrapper's go.mod does not require Distribution %s", Version)
	}
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil || !strings.Contains(string(sum), "github.com/distribution/distribution/v3 "+Version+" h1:") {
		t.Errorf("go.sum lacks Distribution %s: %v", Version, err)
	}
	main, err := os.ReadFile(filepath.Join(dir, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"registry.RootCmd.Execute()",
		// The storage the configuration names must be linked in, or the
		// registry refuses to start.
		`_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"`,
	} {
		if !strings.Contains(string(main), want) {
			t.Errorf("main.go lacks %s", want)
		}
	}
	if strings.Contains(string(main), `"net/http/pprof"`) {
		t.Error("main.go links pprof")
	}
}

func TestConfig(t *testing.T) {
	var cfg struct {
		Version string
		Storage struct {
			Filesystem struct{ RootDirectory string }
			Delete     struct{ Enabled bool }
		}
		HTTP struct {
			Addr         string
			DrainTimeout string
			Debug        *struct{ Addr string }
			TLS          struct {
				Certificate, Key string
				ClientCAs        []string
				ClientAuth       string
				MinimumTLS       string
			}
		}
		Auth   map[string]any
		Health struct {
			StorageDriver struct{ Enabled bool }
		}
	}
	// sigs.k8s.io/yaml matches keys case-insensitively, as the registry's
	// own parser does not: the test checks the spelling below.
	raw := string(Config())
	if err := yaml.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("config is not YAML: %v\n%s", err, raw)
	}
	for _, c := range []struct{ what, got, want string }{
		{"version", cfg.Version, "0.1"},
		{"storage", cfg.Storage.Filesystem.RootDirectory, StorageDir},
		{"listen address", cfg.HTTP.Addr, ":5000"},
		{"certificate", cfg.HTTP.TLS.Certificate, TLSPaths.ServerCert},
		{"key", cfg.HTTP.TLS.Key, TLSPaths.ServerKey},
		{"client authentication", cfg.HTTP.TLS.ClientAuth, "require-and-verify-client-cert"},
		{"minimum TLS", cfg.HTTP.TLS.MinimumTLS, "tls1.3"},
		{"drain timeout", cfg.HTTP.DrainTimeout, "5s"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if !slices.Equal(cfg.HTTP.TLS.ClientCAs, []string{TLSPaths.ClientCA}) {
		t.Errorf("client CAs %q, want %s", cfg.HTTP.TLS.ClientCAs, TLSPaths.ClientCA)
	}
	if cfg.HTTP.Debug != nil || cfg.Auth != nil {
		t.Error("the config opens a debug listener or another authentication: every port is mutual TLS")
	}
	if !cfg.Health.StorageDriver.Enabled || !cfg.Storage.Delete.Enabled {
		t.Error("storage health check or deletes off")
	}
	for _, key := range []string{"rootdirectory:", "clientcas:", "clientauth:", "minimumtls:", "draintimeout:"} {
		if !strings.Contains(raw, key) {
			t.Errorf("config lacks the key %s as the registry spells it", key)
		}
	}
}

func writeBinary(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "registry")
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// tarEntries lists a layer's entries as "path mode uid:gid".
func tarEntries(t *testing.T, l v1.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

func TestImageHoldsTheBinaryAndConfigAndNothingElse(t *testing.T) {
	img, err := NewImage(writeBinary(t, "registry binary"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := append(slices.Clone(cfg.Config.Entrypoint), cfg.Config.Cmd...); !slices.Equal(got, []string{"/registry", "serve", ConfigPath}) {
		t.Errorf("command %q", got)
	}
	if cfg.Config.User != "65534:65534" {
		t.Errorf("user %q, want nobody", cfg.Config.User)
	}
	if !slices.Contains(cfg.Config.Env, "OTEL_TRACES_EXPORTER=none") {
		t.Errorf("environment %q lets tracing dial a collector", cfg.Config.Env)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("%d layers, %v; want the files and the storage directory", len(layers), err)
	}
	files := tarEntries(t, layers[0])
	var names []string
	for name, h := range files {
		if h.Typeflag == tar.TypeReg {
			names = append(names, name)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s owned by %d:%d, want root", name, h.Uid, h.Gid)
		}
	}
	slices.Sort(names)
	if want := []string{"etc/distribution/config.yml", "registry"}; !slices.Equal(names, want) {
		t.Errorf("files %q, want %q (no shell, nothing else)", names, want)
	}
	if h := files["registry"]; h == nil || h.Mode != 0o755 {
		t.Errorf("binary entry %+v, want mode 0755", h)
	}
	storage := tarEntries(t, layers[1])["var/lib/registry/"]
	if storage == nil || storage.Uid != UID || storage.Gid != GID || storage.Mode != 0o700 {
		t.Errorf("storage directory entry %+v, want 0700 owned by %d:%d", storage, UID, GID)
	}
}

func TestImageIsReproducible(t *testing.T) {
	bin := writeBinary(t, "registry binary")
	id := func() v1.Hash {
		img, err := NewImage(bin)
		if err != nil {
			t.Fatal(err)
		}
		h, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	first := id()
	if id() != first {
		t.Error("the same binary gave two image IDs")
	}
	os.WriteFile(bin, []byte("another registry binary"), 0o755)
	if id() == first {
		t.Error("a new binary kept the image ID")
	}
}

// fakeEngine records loads; inspect answers from what it loaded.
type fakeEngine struct {
	images  map[string]string // ref → ID
	loads   []string
	removed []string
}

func (f *fakeEngine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	id, ok := f.images[ref]
	if !ok {
		return image.InspectResponse{}, cerrdefs.ErrNotFound
	}
	return image.InspectResponse{ID: id}, nil
}

func (f *fakeEngine) ImageLoad(_ context.Context, input io.Reader, _ ...client.ImageLoadOption) (image.LoadResponse, error) {
	// Read it back as Docker would: a `docker save` archive.
	data, err := io.ReadAll(input)
	if err != nil {
		return image.LoadResponse{}, err
	}
	opener := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(data))), nil }
	manifest, err := tarball.LoadManifest(opener)
	if err != nil {
		return image.LoadResponse{}, err
	}
	for _, m := range manifest {
		for _, tag := range m.RepoTags {
			f.images[tag] = "sha256:" + strings.TrimSuffix(m.Config, ".json")
			f.loads = append(f.loads, tag)
		}
	}
	return image.LoadResponse{Body: io.NopCloser(strings.NewReader(`{"stream":"Loaded image"}` + "\n"))}, nil
}

func (f *fakeEngine) ImageRemove(_ context.Context, id string, _ image.RemoveOptions) ([]image.DeleteResponse, error) {
	f.removed = append(f.removed, id)
	return nil, nil
}

func TestBuildLoadsOnlyAChangedImage(t *testing.T) {
	bin := writeBinary(t, "registry binary")
	engine := &fakeEngine{images: map[string]string{}}
	id, err := Build(context.Background(), engine, BuildOptions{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(engine.loads, []string{"kindish/registry:" + images.Tag}) {
		t.Errorf("loads %q, want the registry image once", engine.loads)
	}
	if engine.images[Image()] != id {
		t.Errorf("engine holds %s, Build said %s", engine.images[Image()], id)
	}

	if _, err := Build(context.Background(), engine, BuildOptions{Binary: bin}); err != nil {
		t.Fatal(err)
	}
	if len(engine.loads) != 1 {
		t.Errorf("an unchanged image was loaded again: %q", engine.loads)
	}

	os.WriteFile(bin, []byte("a rebuilt registry"), 0o755)
	newID, err := Build(context.Background(), engine, BuildOptions{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	if newID == id || len(engine.loads) != 2 {
		t.Errorf("a new binary: ID %s (was %s), %d loads", newID, id, len(engine.loads))
	}
	if !slices.Equal(engine.removed, []string{id}) {
		t.Errorf("removed %q, want the replaced image %s", engine.removed, id)
	}
}

func TestBuildNeedsASourceOrABinary(t *testing.T) {
	_, err := Build(context.Background(), &fakeEngine{images: map[string]string{}}, BuildOptions{})
	if err == nil || !strings.Contains(err.Error(), "neither a source directory nor a prebuilt binary") {
		t.Errorf("err = %v", err)
	}
}

func TestLoadErrorReadsTheEnginesStream(t *testing.T) {
	for stream, want := range map[string]string{
		`{"stream":"Loaded image: kindish/registry:v1\n"}`:                                  "",
		`{"stream":"x"}` + "\n" + `{"errorDetail":{"message":"no space left"},"error":"x"}`: "no space left",
		`{"error":"archive/tar: invalid tar header"}`:                                       "archive/tar: invalid tar header",
		`not json`: "read the engine's answer",
	} {
		err := loadError(strings.NewReader(stream))
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("loadError(%q) = %v, want %q", stream, err, want)
		}
	}
}

// Whatever both kindish and the wrapper compile, the wrapper requires at
// kindish's version: a machine that has built kindish then compiles only
// Distribution's own packages.
func TestTheWrapperSharesKindishsCompiledDependencies(t *testing.T) {
	if err := gobuild.CheckSharedVersions(filepath.Join("..", "..", "go.mod"), filepath.Join("build", "go.mod")); err != nil {
		t.Error(err)
	}
}
