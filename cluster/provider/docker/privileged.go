package docker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
)

// Whether a daemon accepts --privileged does not change while it runs, and
// finding out costs a failed container start per node (about a second on a
// loaded machine). The answer is remembered per daemon in the user's cache.

// privilegedRefusedFile is where the refusal of the daemon is remembered;
// empty when the daemon cannot be identified.
func (p *Provider) privilegedRefusedFile(ctx context.Context) string {
	info, err := p.docker.Info(ctx)
	if err != nil || info.ID == "" {
		return ""
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	// The daemon's ID and version: an upgraded daemon is asked again.
	id := strings.NewReplacer(":", "_", "/", "_").Replace(info.ID + "-" + info.ServerVersion)
	return filepath.Join(dir, "kindish", "engines", id, "privileged-refused")
}

// loadPrivilegedRefusal reads what an earlier run learnt about the daemon.
func (p *Provider) loadPrivilegedRefusal(ctx context.Context) {
	p.refusalOnce.Do(func() {
		p.refusalFile = p.privilegedRefusedFile(ctx)
		if p.refusalFile == "" {
			return
		}
		if _, err := os.Stat(p.refusalFile); err == nil {
			p.privilegedRefused.Store(true)
			p.log.Info("this Docker daemon refuses --privileged (remembered); using an explicit capability set", "cache", p.refusalFile)
		}
	})
}

// rememberPrivilegedRefusal records the refusal for later runs. Failing to
// write the cache only costs time, so it is not an error.
func (p *Provider) rememberPrivilegedRefusal() {
	if p.refusalFile == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(p.refusalFile), 0o755); err == nil {
		_ = os.WriteFile(p.refusalFile, nil, 0o644)
	}
}
