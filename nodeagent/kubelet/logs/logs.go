// Package logs reads the container log files that the runtime writes in the
// CRI format ("2016-10-06T00:17:09.669794202Z stdout F text") and writes them
// out as a pods/log request asks: tail, since, timestamps, a byte limit, and
// follow. It is upstream's pkg/kubelet/kuberuntime/logs, with polling in place
// of inotify while following.
package logs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// DefaultPollInterval is how long a follower idles at the end of the file
// before it looks again.
const DefaultPollInterval = 200 * time.Millisecond

// Options say which part of a container log to write; NewOptions derives
// them from a pods/log request.
type Options struct {
	// TailLines starts that many lines before the end; negative means the
	// whole file. A partial record counts as a line, as upstream.
	TailLines int64
	// LimitBytes stops after that many bytes are written; negative means
	// no limit.
	LimitBytes int64
	// Since drops records stamped before it.
	Since time.Time
	// Timestamps prefixes each record with its time (RFC 3339, nanoseconds,
	// fixed width) and a space.
	Timestamps bool
	// Follow keeps reading as the file grows, until Running says the
	// container has stopped and the rest of the file is written, or until
	// the context ends.
	Follow bool
	// Running tells a follower whether the container still runs. It is
	// asked each time the reader reaches the end of the file; nil means
	// the container runs until the context ends.
	Running func(ctx context.Context) (bool, error)
	// PollInterval is how long a follower idles at the end of the file;
	// zero means DefaultPollInterval.
	PollInterval time.Duration
}

// NewOptions converts a pods/log request; now anchors SinceSeconds. When
// both SinceSeconds and SinceTime are set, the later bound wins, as upstream.
func NewOptions(apiOpts *corev1.PodLogOptions, now time.Time) Options {
	opts := Options{
		TailLines:  -1,
		LimitBytes: -1,
		Follow:     apiOpts.Follow,
		Timestamps: apiOpts.Timestamps,
	}
	if apiOpts.TailLines != nil {
		opts.TailLines = *apiOpts.TailLines
	}
	if apiOpts.LimitBytes != nil {
		opts.LimitBytes = *apiOpts.LimitBytes
	}
	if apiOpts.SinceSeconds != nil {
		opts.Since = now.Add(-time.Duration(*apiOpts.SinceSeconds) * time.Second)
	}
	if apiOpts.SinceTime != nil && apiOpts.SinceTime.After(opts.Since) {
		opts.Since = apiOpts.SinceTime.Time
	}
	return opts
}

// ReadLogs writes the log file at path to stdout and stderr, each record to
// the stream it was captured from. A nil writer drops its stream, whose
// bytes then do not count against LimitBytes (upstream's split streams).
// It returns the context's error when the context ends a follow.
func ReadLogs(ctx context.Context, path string, opts Options, stdout, stderr io.Writer) error {
	f, err := Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Copy(ctx, opts, stdout, stderr)
}

// File is an open container log. Opening before copying lets a caller
// answer a missing file with an error status before any output starts.
type File struct {
	path string
	f    *os.File
	r    *bufio.Reader
	// offset is where r stands in f, to notice a truncation.
	offset int64
	// next is the file that replaced f at path (rotation); it is switched
	// to once f is read to its end, since the runtime may still have
	// written to f after its rename.
	next *os.File
}

// Open opens the log file at path.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open log file %q: %w", path, err)
	}
	return &File{path: path, f: f, r: bufio.NewReader(f)}, nil
}

// Close closes the file.
func (l *File) Close() error {
	if l.next != nil {
		l.next.Close()
	}
	return l.f.Close()
}

// Copy writes the log as ReadLogs does. Call it once.
func (l *File) Copy(ctx context.Context, opts Options, stdout, stderr io.Writer) error {
	size, err := l.f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("seek log file %q: %w", l.path, err)
	}
	start, err := tailStart(l.f, size, opts.TailLines)
	if err != nil {
		return fmt.Errorf("find the last %d lines of log file %q: %w", opts.TailLines, l.path, err)
	}
	if _, err := l.f.Seek(start, io.SeekStart); err != nil {
		return fmt.Errorf("seek log file %q: %w", l.path, err)
	}
	l.offset = start
	l.r.Reset(l.f)

	interval := opts.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	w := newLogWriter(stdout, stderr, opts)
	var (
		parsedOne bool
		// exited is set once the container has stopped: the reader then
		// goes to the end of the file once more and stops.
		exited bool
		// pending holds the start of a record the runtime is still
		// writing, while following.
		pending []byte
		// Without follow, the tail is fixed when reading starts: lines
		// appended meanwhile are not the last ones any more.
		limited = opts.TailLines >= 0 && !opts.Follow
		left    = opts.TailLines
		rec     record
	)
	for {
		if limited && left == 0 {
			return nil
		}
		line, err := l.r.ReadBytes('\n')
		l.offset += int64(len(line))
		last := false
		switch {
		case err == nil:
			if len(pending) > 0 {
				line = append(pending, line...)
				pending = nil
			}
		case !errors.Is(err, io.EOF):
			return fmt.Errorf("read log file %q: %w", l.path, err)
		case !opts.Follow:
			if len(line) == 0 {
				return nil
			}
			// A last line without its newline is written all the same.
			last = true
		default:
			pending = append(pending, line...)
			if exited {
				return nil
			}
			switched, err := l.followRotation()
			if err != nil {
				return err
			}
			if switched {
				pending = nil
				continue
			}
			running, err := isRunning(ctx, opts.Running)
			if err != nil {
				return fmt.Errorf("check whether the container of log file %q runs: %w", l.path, err)
			}
			if !running {
				exited = true
				continue
			}
			if err := sleep(ctx, interval); err != nil {
				return err
			}
			continue
		}

		if err := parseCRILog(line, &rec); err != nil {
			// A file that does not start as a CRI log is not one; a
			// damaged line later on must not end the stream.
			if !parsedOne {
				return fmt.Errorf("read log file %q: unsupported log format: %q", l.path, line)
			}
			continue
		}
		parsedOne = true
		full, err := w.write(&rec)
		if err != nil {
			return fmt.Errorf("write log of %q: %w", l.path, err)
		}
		if full || last {
			return nil
		}
		if limited {
			left--
		}
	}
}

// followRotation notices, at the end of the file, that the runtime has
// moved on: to a new file at the same path (the file was renamed by log
// rotation), or to the start of the same file (it was truncated in place).
// It reports whether reading should start again.
func (l *File) followRotation() (bool, error) {
	if l.next != nil {
		l.f.Close()
		l.f, l.next = l.next, nil
		l.r.Reset(l.f)
		l.offset = 0
		return true, nil
	}
	onDisk, err := os.Stat(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		// Renamed, and the runtime has not reopened it yet.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat log file %q: %w", l.path, err)
	}
	open, err := l.f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat log file %q: %w", l.path, err)
	}
	if os.SameFile(onDisk, open) {
		if open.Size() >= l.offset {
			return false, nil
		}
		if _, err := l.f.Seek(0, io.SeekStart); err != nil {
			return false, fmt.Errorf("seek log file %q: %w", l.path, err)
		}
		l.r.Reset(l.f)
		l.offset = 0
		return true, nil
	}
	next, err := os.Open(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open rotated log file %q: %w", l.path, err)
	}
	l.next = next
	// Read the old file to its end before switching.
	return true, nil
}

func isRunning(ctx context.Context, running func(context.Context) (bool, error)) (bool, error) {
	if running == nil {
		return true, nil
	}
	return running(ctx)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// tailBlockSize is how much of the file tailStart reads at a time, walking
// back from the end.
const tailBlockSize = 4096

// tailStart is the offset of the n-th line from the end of a file of size
// bytes: the byte after the (n+1)-th newline from the end. A last line
// without its newline is not counted, as upstream's tail.
func tailStart(r io.ReaderAt, size, n int64) (int64, error) {
	if n < 0 {
		return 0, nil
	}
	buf := make([]byte, tailBlockSize)
	var newlines int64
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		chunk := buf[:end-start]
		if _, err := r.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] != '\n' {
				continue
			}
			newlines++
			if newlines > n {
				return start + int64(i) + 1, nil
			}
		}
		end = start
	}
	return 0, nil
}

// logWriter applies since, timestamps and the byte limit to records.
type logWriter struct {
	stdout, stderr io.Writer
	since          time.Time
	timestamps     bool
	remain         int64
}

func newLogWriter(stdout, stderr io.Writer, opts Options) *logWriter {
	w := &logWriter{
		stdout:     stdout,
		stderr:     stderr,
		since:      opts.Since,
		timestamps: opts.Timestamps,
		remain:     math.MaxInt64,
	}
	if opts.LimitBytes >= 0 {
		w.remain = opts.LimitBytes
	}
	return w
}

// write writes one record and reports whether the byte limit is reached.
func (w *logWriter) write(rec *record) (full bool, err error) {
	if w.remain <= 0 {
		return true, nil
	}
	if rec.timestamp.Before(w.since) {
		return false, nil
	}
	stream := w.stdout
	if rec.stream == streamStderr {
		stream = w.stderr
	}
	if stream == nil {
		return false, nil
	}
	line := rec.log
	if w.timestamps {
		line = make([]byte, 0, len(timeFormatOut)+1+len(rec.log))
		line = rec.timestamp.AppendFormat(line, timeFormatOut)
		line = append(line, ' ')
		line = append(line, rec.log...)
	}
	if int64(len(line)) > w.remain {
		line = line[:w.remain]
	}
	n, err := stream.Write(line)
	w.remain -= int64(n)
	if err != nil {
		return false, err
	}
	if n < len(line) {
		return false, io.ErrShortWrite
	}
	return w.remain <= 0, nil
}
