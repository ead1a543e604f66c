package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kindish/kindish/images/nodeimage"
)

// SourceEnv points at a kindish source tree to build images from, for a
// kindish binary run from elsewhere.
const SourceEnv = "KINDISH_SOURCE"

const modulePath = "github.com/kindish/kindish"

// BuildNodeImage builds the node image from the kindish source tree.
func (m *Manager) BuildNodeImage(ctx context.Context, image string) error {
	if image == "" {
		image = DefaultImage()
	}
	src, err := sourceDir()
	if err != nil {
		return fmt.Errorf("build node image %s: %w", image, err)
	}
	m.status.Start(fmt.Sprintf("Building node image (%s)", image))
	err = nodeimage.Build(ctx, nodeimage.Options{Image: image, SourceDir: src, Logger: m.log, Docker: m.docker.Client()})
	m.status.End(err == nil)
	return err
}

// ensureImage builds kindish's own node image when it is missing, so that a
// new user never has to know it exists. Other images must be present: there
// is no registry to pull from.
func (m *Manager) ensureImage(ctx context.Context, image string) error {
	ok, err := nodeimage.ImageExists(ctx, m.docker.Client(), image)
	if err != nil || ok {
		return err
	}
	if image != DefaultImage() {
		return fmt.Errorf("node image %s is not present locally and there is no registry to pull it from; build it with `kindish build node-image --image %s`", image, image)
	}
	src, err := sourceDir()
	if err != nil {
		return fmt.Errorf("node image %s is missing and cannot be built: %w", image, err)
	}
	m.log.Info("node image missing: building it", "image", image, "source", src)
	return nodeimage.Build(ctx, nodeimage.Options{Image: image, SourceDir: src, Logger: m.log, Docker: m.docker.Client()})
}

// sourceDir finds the kindish source tree: $KINDISH_SOURCE, else the
// nearest enclosing module of the working directory or of the executable.
func sourceDir() (string, error) {
	if dir := os.Getenv(SourceEnv); dir != "" {
		if !isSourceTree(dir) {
			return "", fmt.Errorf("$%s=%s is not the kindish source tree (no go.mod of module %s)", SourceEnv, dir, modulePath)
		}
		return dir, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
	}
	for _, start := range starts {
		for dir := start; ; dir = filepath.Dir(dir) {
			if isSourceTree(dir) {
				return dir, nil
			}
			if dir == filepath.Dir(dir) {
				break
			}
		}
	}
	return "", errors.New("no kindish source tree found above the working directory or the kindish binary; run kindish from its source tree or set $" + SourceEnv)
}

func isSourceTree(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	return strings.TrimSpace(string(first)) == "module "+modulePath
}
