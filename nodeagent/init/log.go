package nodeinit

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// logger writes the init's own lines to the container log, where the host
// side reads the milestones, and a timestamped copy to init.log, next to
// the services' logs.
type logger struct {
	mu     sync.Mutex
	stdout io.Writer
	file   *os.File
}

const linePrefix = "kindish-node: "

func openLogger(stdout io.Writer, dir string) (*logger, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	path := filepath.Join(dir, "init.log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open init log: %w", err)
	}
	return &logger{stdout: stdout, file: f}, nil
}

// printf writes one line, "kindish-node: " and the message.
func (l *logger) printf(format string, args ...any) {
	line := linePrefix + fmt.Sprintf(format, args...) + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	// A log that cannot be written has nowhere to report to: ignore errors.
	_, _ = io.WriteString(l.stdout, line)
	_, _ = io.WriteString(l.file, time.Now().Format(time.RFC3339Nano)+" "+line)
}

func (l *logger) close() { l.file.Close() }
