package main

import (
	"context"
	"fmt"
)

// loadImage is what the load figure loads: small, and built by `kindish
// build images`.
const loadImage = "kindish/testbox:v0.1.0"

// imageLoad measures `kindish load docker-image` of an image that the
// registry and every node of the cluster already hold, as after a second
// `make e2e`: each is asked once, nothing is sent.
func (b *bench) imageLoad(ctx context.Context, cluster string) error {
	if _, err := timeCommand(ctx, b.kindish, "load", "docker-image", loadImage, "--name", cluster); err != nil {
		return fmt.Errorf("load %s: %w", loadImage, err)
	}
	var again []float64
	for range b.runs {
		secs, err := timeCommand(ctx, b.kindish, "load", "docker-image", loadImage, "--name", cluster)
		if err != nil {
			return fmt.Errorf("load %s again: %w", loadImage, err)
		}
		again = append(again, secs)
	}
	b.add(Figure{Name: "load docker-image, already in the registry and the nodes (3 nodes)", Unit: "s", Samples: again, Target: "≤ 1 s"})
	return nil
}
