package workload

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeDocker keeps images by reference and ID, as the engine does, and
// loads `docker save` archives into them. Only the calls loading makes
// are implemented.
type fakeDocker struct {
	Docker // nil: any other call panics
	t      *testing.T
	images map[string]image.InspectResponse
	loads  [][]string // the references of each load
	// loadErr, when set, is what the engine answers a load with.
	loadErr string
	removed []string
}

func (f *fakeDocker) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if img, ok := f.images[ref]; ok {
		return img, nil
	}
	return image.InspectResponse{}, notFound{}
}

func (f *fakeDocker) ImageLoad(_ context.Context, r io.Reader, _ ...client.ImageLoadOption) (image.LoadResponse, error) {
	if f.loadErr != "" {
		io.Copy(io.Discard, r)
		msg, _ := json.Marshal(map[string]any{"errorDetail": map[string]string{"message": f.loadErr}, "error": f.loadErr})
		return image.LoadResponse{Body: io.NopCloser(strings.NewReader(string(msg) + "\n")), JSON: true}, nil
	}
	configs := map[string][]byte{}
	var manifest []struct {
		Config   string
		RepoTags []string
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.t.Fatalf("load: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			f.t.Fatalf("load: %v", err)
		}
		switch {
		case h.Name == "manifest.json":
			if err := json.Unmarshal(b, &manifest); err != nil {
				f.t.Fatalf("load: manifest.json: %v", err)
			}
		case strings.HasSuffix(h.Name, ".json"):
			configs[h.Name] = b
		}
	}
	var tags []string
	for _, m := range manifest {
		var cfg struct{ Config ocispec.ImageConfig }
		if err := json.Unmarshal(configs[m.Config], &cfg); err != nil {
			f.t.Fatalf("load: config %s: %v", m.Config, err)
		}
		img := image.InspectResponse{
			ID:     "sha256:" + strings.TrimSuffix(m.Config, ".json"),
			Config: &dockerspec.DockerOCIImageConfig{ImageConfig: cfg.Config},
		}
		f.images[img.ID] = img
		for _, tag := range m.RepoTags {
			f.images[tag] = img
			tags = append(tags, tag)
		}
	}
	f.loads = append(f.loads, tags)
	body := `{"stream":"Loaded image: ` + strings.Join(tags, ", ") + `\n"}` + "\n"
	return image.LoadResponse{Body: io.NopCloser(strings.NewReader(body)), JSON: true}, nil
}

func (f *fakeDocker) ImageRemove(_ context.Context, id string, _ image.RemoveOptions) ([]image.DeleteResponse, error) {
	f.removed = append(f.removed, id)
	return nil, nil
}

type notFound struct{}

func (notFound) Error() string { return "No such image" }
func (notFound) NotFound()     {}

// recorder is a Status that keeps its lines.
type recorder struct{ lines []string }

func (r *recorder) Start(msg string) { r.lines = append(r.lines, msg) }
func (r *recorder) End(bool)         {}

func testBuilder(docker *fakeDocker, st Status) *builder {
	return &builder{docker: docker, log: slog.New(slog.DiscardHandler), status: st}
}

// Docker is sent an image only when a reference lacks it; an image of
// ours that a reference moved away from is removed, another one is not.
func TestLoadSendsOnlyWhatDockerLacks(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "testbox")
	os.WriteFile(bin, []byte("testbox v1"), 0o755)
	docker := &fakeDocker{t: t, images: map[string]image.InspectResponse{}}
	st := &recorder{}
	b := testBuilder(docker, st)
	ctx := context.Background()

	first, err := b.ensureLoaded(ctx, testboxImage(bin))
	if err != nil {
		t.Fatal(err)
	}
	if !first.Loaded || len(docker.loads) != 1 || !slices.Equal(docker.loads[0], []string{"kindish/testbox:latest", Testbox()}) {
		t.Fatalf("loaded %v (%v), want one load of both tags", docker.loads, first.Loaded)
	}
	if got := docker.images[Testbox()].ID; got != first.ID {
		t.Errorf("Docker has %s, the build computed %s", got, first.ID)
	}

	// Unchanged: nothing sent.
	again, err := b.ensureLoaded(ctx, testboxImage(bin))
	if err != nil {
		t.Fatal(err)
	}
	if again.Loaded || len(docker.loads) != 1 || again.ID != first.ID {
		t.Errorf("an unchanged image was loaded again: %v, %d loads", again, len(docker.loads))
	}

	// One tag moved elsewhere (by hand): loaded again, under both tags.
	docker.images[TestboxLatest] = image.InspectResponse{ID: "sha256:other", Config: &dockerspec.DockerOCIImageConfig{}}
	if _, err := b.ensureLoaded(ctx, testboxImage(bin)); err != nil {
		t.Fatal(err)
	}
	if len(docker.loads) != 2 {
		t.Errorf("%d loads, want the image loaded again for the moved tag", len(docker.loads))
	}
	if len(docker.removed) != 0 {
		t.Errorf("removed %v: an image that is not ours", docker.removed)
	}

	// A new binary is a new image; the one it replaces is removed.
	os.WriteFile(bin, []byte("testbox v2"), 0o755)
	changed, err := b.ensureLoaded(ctx, testboxImage(bin))
	if err != nil {
		t.Fatal(err)
	}
	if changed.ID == first.ID || !changed.Loaded {
		t.Errorf("a changed binary kept the image %s", changed.ID)
	}
	if !slices.Equal(docker.removed, []string{first.ID}) {
		t.Errorf("removed %v, want the replaced %s", docker.removed, first.ID)
	}
	want := []string{
		"Loading " + Testbox() + ", kindish/testbox:latest (0.0 MB)",
		Testbox() + ", kindish/testbox:latest is up to date (0.0 MB)",
	}
	for _, w := range want {
		if !slices.Contains(st.lines, w) {
			t.Errorf("status lines %q lack %q", st.lines, w)
		}
	}
}

func TestLoadReportsTheEnginesError(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "testbox")
	os.WriteFile(bin, []byte("testbox"), 0o755)
	docker := &fakeDocker{t: t, images: map[string]image.InspectResponse{}, loadErr: "no space left on device"}
	_, err := testBuilder(docker, noStatus{}).ensureLoaded(context.Background(), testboxImage(bin))
	if err == nil || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), Testbox()) {
		t.Errorf("err = %v, want the engine's error and the image", err)
	}
}
