package prober

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// maxExecOutput bounds the output an exec probe keeps for its event, as
// upstream.
const maxExecOutput = 10 << 10

// runtimeRequestTimeout is upstream's default --runtime-request-timeout. An
// exec call may take that much beyond the probe's own timeout, which the
// runtime enforces, so that the runtime has time to kill the command and
// answer.
const runtimeRequestTimeout = 2 * time.Minute

// probeExec runs the command in the container: exit code 0 is success; the
// command's output (stdout, then stderr) is the failure message.
func (p *prober) probeExec(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (outcome, string, error) {
	if p.exec == nil {
		return outcomeUnknown, "", errors.New("exec probe: no container runtime to exec in")
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout+runtimeRequestTimeout)
		defer cancel()
	}
	resp, err := p.exec.ExecSync(ctx, &runtimeapi.ExecSyncRequest{
		ContainerId: containerID,
		Cmd:         cmd,
		Timeout:     int64(timeout.Seconds()),
	})
	if err != nil {
		// The runtime answers DeadlineExceeded when the command outlived
		// the probe's timeout: that is the container's fault, a failure.
		// Any other error means the probe could not run. Both texts are
		// upstream's, since they end up in events.
		if status.Code(err) == codes.DeadlineExceeded {
			return outcomeFailure, fmt.Sprintf("command timed out: %q timed out after %s", strings.Join(cmd, " "), timeout), nil
		}
		return outcomeUnknown, "", err
	}
	output := append(append([]byte(nil), resp.Stdout...), resp.Stderr...)
	if len(output) > maxExecOutput {
		output = output[:maxExecOutput]
	}
	if resp.ExitCode != 0 {
		return outcomeFailure, string(output), nil
	}
	return outcomeSuccess, string(output), nil
}
