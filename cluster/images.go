package cluster

import (
	"context"
	"fmt"

	"github.com/kindish/kindish/images/workload"
)

// BuildImages builds the workload images that tests run (busybox, nginx and
// kindish/testbox) from the kindish source tree and loads into the local
// engine those it lacks, one status line per image. `kindish load
// docker-image` then brings them into a cluster.
func (m *Manager) BuildImages(ctx context.Context) ([]workload.Result, error) {
	src, err := sourceDir()
	if err != nil {
		return nil, fmt.Errorf("build workload images: %w", err)
	}
	return workload.Build(ctx, workload.Options{
		SourceDir: src,
		Logger:    m.log,
		Status:    m.status,
		Docker:    m.docker.Client(),
	})
}
