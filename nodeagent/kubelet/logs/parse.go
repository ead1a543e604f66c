package logs

import (
	"bytes"
	"fmt"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	// timeFormatIn reads the runtime's timestamps, whose trailing zeros
	// may be cut.
	timeFormatIn = time.RFC3339Nano
	// timeFormatOut is upstream's RFC3339NanoFixed: always nine digits,
	// so that prefixed lines line up.
	timeFormatOut = "2006-01-02T15:04:05.000000000Z07:00"

	streamStdout = runtimeapi.Stdout
	streamStderr = runtimeapi.Stderr
)

// record is one line of a CRI log file.
type record struct {
	timestamp time.Time
	stream    runtimeapi.LogStreamType
	// log is the captured text, with its newline unless the record is
	// partial: the runtime splits a long line into partial records (tag
	// P) ended by a full one (tag F), so writing them one after the other
	// joins the line again.
	log []byte
}

// parseCRILog parses "<RFC 3339 time> <stdout|stderr> <tags> <text>\n",
// where tags are ':'-separated and the first says P (partial) or F (full).
func parseCRILog(line []byte, rec *record) error {
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return fmt.Errorf("timestamp is not found")
	}
	t, err := time.Parse(timeFormatIn, string(ts))
	if err != nil {
		return fmt.Errorf("unexpected timestamp format %q: %w", timeFormatIn, err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return fmt.Errorf("stream type is not found")
	}
	s := runtimeapi.LogStreamType(stream)
	if s != streamStdout && s != streamStderr {
		return fmt.Errorf("unexpected stream type %q", stream)
	}
	tags, text, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return fmt.Errorf("log tag is not found")
	}
	first, _, _ := bytes.Cut(tags, []byte(runtimeapi.LogTagDelimiter))
	if runtimeapi.LogTag(first) == runtimeapi.LogTagPartial {
		text = bytes.TrimSuffix(text, []byte{'\n'})
	}
	rec.timestamp, rec.stream, rec.log = t, s, text
	return nil
}
