package etcd

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestQuietLoggerDropsOnlyRoutineNoise(t *testing.T) {
	closedAccept := &net.OpError{Op: "accept", Net: "tcp", Err: net.ErrClosed}
	tests := []struct {
		name     string
		stopping bool
		log      func(*zap.Logger)
		wantKept bool
	}{
		{name: "a closed listener while stopping", stopping: true, log: func(lg *zap.Logger) {
			lg.Error("setting up serving from embedded etcd failed.", zap.Error(closedAccept))
		}},
		{name: "a closed HTTP server while stopping", stopping: true, log: func(lg *zap.Logger) {
			lg.Error("setting up serving from embedded etcd failed.", zap.Error(fmt.Errorf("serve: %w", http.ErrServerClosed)))
		}},
		{name: "a closed listener while serving", wantKept: true, log: func(lg *zap.Logger) {
			lg.Error("setting up serving from embedded etcd failed.", zap.Error(closedAccept))
		}},
		{name: "another serving failure while stopping", stopping: true, wantKept: true, log: func(lg *zap.Logger) {
			lg.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("tls: bad certificate")))
		}},
		{name: "the simple token warning", log: func(lg *zap.Logger) {
			lg.Warn("simple token is not cryptographically signed")
		}},
		{name: "a slow apply warning", wantKept: true, log: func(lg *zap.Logger) {
			lg.Warn("apply request took too long", zap.Duration("took", 0))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.InfoLevel)
			var stopping atomic.Bool
			stopping.Store(tt.stopping)
			tt.log(quiet(zap.New(core), &stopping).With(zap.String("member", "cp")))
			if kept := logs.Len() == 1; kept != tt.wantKept {
				t.Errorf("kept %v, want %v", kept, tt.wantKept)
			}
		})
	}
}
