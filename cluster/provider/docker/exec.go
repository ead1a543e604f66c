package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"

	"github.com/kindish/kindish/cluster/provider"
)

// Exec runs cmd in the node and waits for it. The error of a failed command
// keeps its command line, exit code and the tail of its stderr, so that a
// failure explains itself.
func (p *Provider) Exec(ctx context.Context, node string, cmd []string, opts provider.ExecOptions) error {
	created, err := p.docker.ContainerExecCreate(ctx, node, container.ExecOptions{
		Cmd:          cmd,
		AttachStdin:  opts.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return fmt.Errorf("exec %q in node %s: %w", strings.Join(cmd, " "), node, err)
	}
	attached, err := p.docker.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return fmt.Errorf("exec %q in node %s: %w", strings.Join(cmd, " "), node, err)
	}
	defer attached.Close()

	stdinDone := make(chan error, 1)
	if opts.Stdin != nil {
		go func() {
			_, err := io.Copy(attached.Conn, opts.Stdin)
			// Half-close so the command sees EOF on its stdin.
			if cerr := attached.CloseWrite(); err == nil {
				err = cerr
			}
			stdinDone <- err
		}()
	} else {
		stdinDone <- nil
	}

	stdout := opts.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	var stderrTail tailBuffer
	var stderr io.Writer = &stderrTail
	if opts.Stderr != nil {
		stderr = io.MultiWriter(opts.Stderr, &stderrTail)
	}
	if _, err := stdcopy.StdCopy(stdout, stderr, attached.Reader); err != nil {
		return fmt.Errorf("exec %q in node %s: read output: %w", strings.Join(cmd, " "), node, err)
	}
	if err := <-stdinDone; err != nil {
		return fmt.Errorf("exec %q in node %s: write input: %w", strings.Join(cmd, " "), node, err)
	}
	inspected, err := p.docker.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return fmt.Errorf("exec %q in node %s: %w", strings.Join(cmd, " "), node, err)
	}
	if inspected.ExitCode != 0 {
		return &ExecError{Node: node, Cmd: cmd, ExitCode: inspected.ExitCode, Stderr: stderrTail.String()}
	}
	return nil
}

// ExecError is a command in a node that exited non-zero.
type ExecError struct {
	Node     string
	Cmd      []string
	ExitCode int
	Stderr   string
}

func (e *ExecError) Error() string {
	msg := fmt.Sprintf("command %q in node %s exited with code %d", strings.Join(e.Cmd, " "), e.Node, e.ExitCode)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ":\n" + s
	}
	return msg
}

// tailBuffer keeps the last 8 KiB written to it: enough to explain a failure
// without holding a chatty command's whole output.
type tailBuffer struct{ b []byte }

const tailSize = 8 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailSize {
		t.b = t.b[len(t.b)-tailSize:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// ReadFile copies one file out of the node through the archive API, which
// needs no process in the node.
func (p *Provider) ReadFile(ctx context.Context, node, path string) ([]byte, error) {
	rc, _, err := p.docker.CopyFromContainer(ctx, node, path)
	if err != nil {
		return nil, fmt.Errorf("read %s from node %s: %w", path, node, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("read %s from node %s: %w", path, node, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			return io.ReadAll(tr)
		}
	}
}

// WaitForLogLine follows the container log until a line contains line.
func (p *Provider) WaitForLogLine(ctx context.Context, node, line string) error {
	rc, err := p.docker.ContainerLogs(ctx, node, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		return fmt.Errorf("follow the log of node %s: %w", node, err)
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, rc)
		pw.CloseWithError(err)
	}()
	var last tailBuffer
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), line) {
			return nil
		}
		last.Write(append(sc.Bytes(), '\n'))
	}
	err = sc.Err()
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = ctxErr
	}
	if err == nil {
		err = errors.New("the node stopped")
	}
	return fmt.Errorf("node %s never printed %q: %w; its log ends with:\n%s", node, line, err, strings.TrimSpace(last.String()))
}

// Logs writes the container's log, stdout and stderr interleaved.
func (p *Provider) Logs(ctx context.Context, node string, w io.Writer) error {
	rc, err := p.docker.ContainerLogs(ctx, node, container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
	if err != nil {
		return fmt.Errorf("logs of node %s: %w", node, err)
	}
	defer rc.Close()
	_, err = stdcopy.StdCopy(w, w, rc)
	return err
}

// Inspect writes `docker inspect` of the node as indented JSON.
func (p *Provider) Inspect(ctx context.Context, node string, w io.Writer) error {
	_, raw, err := p.docker.ContainerInspectWithRaw(ctx, node, false)
	if err != nil {
		return fmt.Errorf("inspect node %s: %w", node, err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// HostPort returns where the node's TCP containerPort is published.
func (p *Provider) HostPort(ctx context.Context, node string, containerPort int) (string, int, error) {
	info, err := p.docker.ContainerInspect(ctx, node)
	if err != nil {
		return "", 0, fmt.Errorf("inspect node %s: %w", node, err)
	}
	port := nat.Port(strconv.Itoa(containerPort) + "/tcp")
	// The configured binding survives a stopped container, unlike the
	// runtime's NetworkSettings.Ports.
	for _, b := range info.HostConfig.PortBindings[port] {
		hp, err := strconv.Atoi(b.HostPort)
		if err == nil && hp > 0 {
			return b.HostIP, hp, nil
		}
	}
	if info.NetworkSettings != nil {
		for _, b := range info.NetworkSettings.Ports[port] {
			if hp, err := strconv.Atoi(b.HostPort); err == nil {
				return b.HostIP, hp, nil
			}
		}
	}
	return "", 0, fmt.Errorf("node %s does not publish port %d", node, containerPort)
}

// SaveImages streams `docker save` of the images.
func (p *Provider) SaveImages(ctx context.Context, images []string) (io.ReadCloser, error) {
	rc, err := p.docker.ImageSave(ctx, images)
	if err != nil {
		return nil, fmt.Errorf("save images %s: %w", strings.Join(images, ", "), err)
	}
	return rc, nil
}

// ImageID returns the engine's ID (config digest) of an image.
func (p *Provider) ImageID(ctx context.Context, image string) (string, error) {
	info, err := p.docker.ImageInspect(ctx, image)
	if errdefs.IsNotFound(err) {
		// The engine's message only repeats the name.
		return "", fmt.Errorf("image %s: %w", image, provider.ErrImageNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("image %s: %w", image, err)
	}
	return info.ID, nil
}
