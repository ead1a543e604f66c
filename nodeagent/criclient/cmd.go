package criclient

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	units "github.com/docker/go-units"
)

// CommandName is the name kindish-cri answers to in the node's multi-call
// binary.
const CommandName = "kindish-cri"

const usage = `usage: kindish-cri [--socket PATH] COMMAND

Ask the node's container runtime about its images, over CRI.

commands:
  images         list the images, as crictl images does
  image-id REF   print the ID of the image REF; exit 1 when it is absent
  version        print the runtime's name and versions
`

// Main runs kindish-cri. args are the arguments after the command name. The
// caller prints a returned error and exits 1.
func Main(ctx context.Context, args []string) error {
	return run(ctx, args, os.Stdout, os.Stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(CommandName, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	socket := fs.String("socket", DefaultSocket, "the runtime's CRI socket")
	if err := fs.Parse(args); err != nil {
		return err
	}
	args = fs.Args()
	if len(args) == 0 {
		fs.Usage()
		return errors.New("missing command")
	}
	cmd, args := args[0], args[1:]
	want := map[string]int{"images": 0, "image-id": 1, "version": 0}
	n, ok := want[cmd]
	if !ok {
		fs.Usage()
		return fmt.Errorf("unknown command %q", cmd)
	}
	if len(args) != n {
		fs.Usage()
		return fmt.Errorf("%s takes %d argument(s), got %d", cmd, n, len(args))
	}

	c, err := Dial(ctx, strings.TrimPrefix(*socket, "unix://"))
	if err != nil {
		return err
	}
	defer c.Close()
	switch cmd {
	case "images":
		imgs, err := c.ListImages(ctx)
		if err != nil {
			return err
		}
		return writeImageTable(stdout, imgs)
	case "image-id":
		id, err := c.ImageID(ctx, args[0])
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("image %s not found", args[0])
		}
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, id)
		return err
	default: // version
		v, err := c.Version(ctx)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "Version:  %s\nRuntimeName:  %s\nRuntimeVersion:  %s\nRuntimeApiVersion:  %s\n",
			v.APIVersion, v.RuntimeName, v.RuntimeVersion, v.RuntimeAPIVersion)
		return err
	}
}

// writeImageTable prints one row per tag, in crictl's layout, so that
// people and scripts used to crictl read it alike.
func writeImageTable(w io.Writer, imgs []Image) error {
	tw := tabwriter.NewWriter(w, 20, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tTAG\tIMAGE ID\tSIZE")
	for _, img := range imgs {
		id := shortID(img.ID)
		size := units.HumanSizeWithPrecision(float64(img.Size), 3)
		for _, rt := range repoTags(img) {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", rt[0], rt[1], id, size)
		}
	}
	return tw.Flush()
}

// repoTags splits an image's references into (repository, tag) pairs. An
// untagged image shows under the repository of its digest, as <none>.
func repoTags(img Image) [][2]string {
	var out [][2]string
	for _, ref := range img.RepoTags {
		// The tag follows the last colon after the last slash: a registry
		// port ("localhost:5000/x") is not a tag.
		slash := strings.LastIndex(ref, "/")
		if i := strings.LastIndex(ref, ":"); i > slash {
			out = append(out, [2]string{ref[:i], ref[i+1:]})
		} else {
			out = append(out, [2]string{ref, "<none>"})
		}
	}
	if len(out) > 0 {
		return out
	}
	repo := "<none>"
	if len(img.RepoDigests) > 0 {
		repo, _, _ = strings.Cut(img.RepoDigests[0], "@")
	}
	return [][2]string{{repo, "<none>"}}
}

// shortID is crictl's truncated image ID: 13 hex digits.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 13 {
		id = id[:13]
	}
	return id
}
