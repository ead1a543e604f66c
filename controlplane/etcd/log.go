package etcd

import (
	"errors"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/logutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newLogger writes etcd's logs to stderr, one line each (timestamp, level,
// caller, message, then the fields as JSON), as kubectl logs shows them.
func newLogger(level zapcore.Level, stopping *atomic.Bool) *zap.Logger {
	// etcd's own timestamps and field names; no stack traces, which would
	// turn one error into ten lines.
	encoder := zapcore.NewConsoleEncoder(logutil.DefaultZapLoggerConfig.EncoderConfig)
	stderr := zapcore.Lock(os.Stderr)
	core := zapcore.NewCore(encoder, stderr, level)
	// Sampled as etcd samples its own: a flood of one message is cut to
	// one line in a hundred after the first hundred each second.
	core = zapcore.NewSamplerWithOptions(quietCore{core, stopping}, time.Second, 100, 100)
	return zap.New(core, zap.AddCaller(), zap.ErrorOutput(stderr))
}

// quiet wraps a caller's logger in the same filter.
func quiet(lg *zap.Logger, stopping *atomic.Bool) *zap.Logger {
	return lg.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return quietCore{c, stopping} }))
}

// quietCore drops what etcd logs that needs no reader: every listener's
// "use of closed network connection" at error level when the member is
// stopping on purpose, and a warning about an authentication mode kindish
// never uses.
type quietCore struct {
	zapcore.Core
	stopping *atomic.Bool
}

func (c quietCore) With(fields []zapcore.Field) zapcore.Core {
	return quietCore{c.Core.With(fields), c.stopping}
}

func (c quietCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

func (c quietCore) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	if c.routine(ent, fields) {
		return nil
	}
	return c.Core.Write(ent, fields)
}

func (c quietCore) routine(ent zapcore.Entry, fields []zapcore.Field) bool {
	switch ent.Message {
	case "simple token is not cryptographically signed":
		// Only etcd's own user authentication issues tokens; kindish's
		// clients prove who they are with certificates.
		return true
	case "setting up serving from embedded etcd failed.":
		if !c.stopping.Load() {
			return false
		}
		for _, f := range fields {
			if err, ok := f.Interface.(error); ok && f.Type == zapcore.ErrorType {
				return errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed)
			}
		}
	}
	return false
}
