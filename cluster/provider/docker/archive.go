package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"

	"github.com/docker/docker/errdefs"
)

// CopyFrom streams a path of the node as a tar archive through the archive
// API, which works on stopped nodes too. Entries are named from the path's
// base name ("/var/log/pods" gives "pods/..."); symlinks are archived as
// links, not followed.
func (p *Provider) CopyFrom(ctx context.Context, node, path string) (io.ReadCloser, error) {
	rc, _, err := p.docker.CopyFromContainer(ctx, node, path)
	if errdefs.IsNotFound(err) {
		// Either the node or the path is missing; the engine's message
		// says which.
		return nil, fmt.Errorf("copy %s from node %s: %w (%w)", path, node, fs.ErrNotExist, err)
	}
	if err != nil {
		return nil, fmt.Errorf("copy %s from node %s: %w", path, node, err)
	}
	return rc, nil
}

// EngineInfo writes `docker info` as indented JSON.
func (p *Provider) EngineInfo(ctx context.Context, w io.Writer) error {
	info, err := p.docker.Info(ctx)
	if err != nil {
		return fmt.Errorf("docker info: %w", err)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(info)
}
