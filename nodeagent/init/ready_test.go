package nodeinit

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// answers and neverAnswers are readiness probes for services in tests.
func answers(context.Context) error { return nil }

func neverAnswers(context.Context) error { return errors.New("not serving yet") }

// versionOnlyRuntime is a CRI runtime that answers Version and nothing else.
type versionOnlyRuntime struct {
	runtimeapi.UnimplementedRuntimeServiceServer
}

func (versionOnlyRuntime) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: "containerd", RuntimeVersion: "1.6.20", RuntimeApiVersion: "v1"}, nil
}

func TestCRIAnswersOnceTheRuntimeServesCRI(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "containerd.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(srv, versionOnlyRuntime{})
	go srv.Serve(l)
	t.Cleanup(srv.Stop)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := criAnswers(sock)(ctx); err != nil {
		t.Errorf("probe of a serving runtime: %v", err)
	}
}

func TestCRIAnswersFailsWhileOnlyTheSocketAccepts(t *testing.T) {
	// containerd's socket accepts before its CRI plugin serves: a socket
	// that accepts and never speaks gRPC must not count as ready.
	sock := filepath.Join(t.TempDir(), "containerd.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := criAnswers(sock)(ctx); err == nil {
		t.Error("probe passed against a socket that does not speak CRI")
	}
}

func TestCRIAnswersFailsWithoutARuntime(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "containerd.sock")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := criAnswers(sock)(ctx); err == nil {
		t.Error("probe passed with no runtime listening")
	}
}
