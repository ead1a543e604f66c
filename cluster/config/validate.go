package config

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validNameRE is kind's rule for cluster names, kept so that a name kind
// takes is taken here: lower case, because the name becomes part of
// container names, hostnames and Kubernetes node names.
var validNameRE = regexp.MustCompile(`^[a-z0-9.-]+$`)

// maxNameLength keeps node names valid hostnames: a hostname is at most 64
// characters, and "-control-plane" adds 14. kind only warns past 50; here it
// is an error, because the alternative is a node container that fails to
// start halfway through creating the cluster.
const maxNameLength = 50

// Validate checks a defaulted config and returns every problem it finds,
// joined (errors.Join), one a line, each naming its field path in the shape
// of Kubernetes API errors:
//
//	nodes[1].role: Unsupported value: "master": supported values: "control-plane", "worker"
//
// Each problem is a *field.Error, reachable with errors.As.
func Validate(c *Cluster) error {
	var errs field.ErrorList
	errs = append(errs, validateName(c.Name, field.NewPath("name"))...)
	errs = append(errs, validateNodes(c.Nodes, field.NewPath("nodes"))...)
	errs = append(errs, validatePortConflicts(c)...)
	errs = append(errs, validateNetworking(&c.Networking, len(c.Nodes), field.NewPath("networking"))...)
	errs = append(errs, validateFeatureGates(c.FeatureGates, field.NewPath("featureGates"))...)
	errs = append(errs, validatePreloadImages(c.PreloadImages, field.NewPath("preloadImages"))...)
	if len(errs) == 0 {
		return nil
	}
	joined := make([]error, len(errs))
	for i, e := range errs {
		joined[i] = e
	}
	return errors.Join(joined...)
}

func validateName(name string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case name == "":
		errs = append(errs, field.Required(path, "the cluster needs a name"))
	case !validNameRE.MatchString(name):
		errs = append(errs, field.Invalid(path, name,
			fmt.Sprintf("must consist of lower case alphanumeric characters, '-' or '.' (regex used for validation is '%s')", validNameRE)))
	}
	if len(name) > maxNameLength {
		errs = append(errs, field.Invalid(path, name,
			fmt.Sprintf("must be no more than %d characters, so that node names such as %q stay valid hostnames (at most 64 characters)",
				maxNameLength, NodeName(name, ControlPlaneRole, 1))))
	}
	return errs
}

// validateNodes checks each node, then the roles of the set: one
// control-plane node, any number of workers.
func validateNodes(nodes []Node, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	controlPlanes := 0
	for i := range nodes {
		errs = append(errs, validateNode(&nodes[i], path.Index(i))...)
		if nodes[i].Role == ControlPlaneRole {
			controlPlanes++
		}
	}
	switch {
	case controlPlanes == 0:
		errs = append(errs, field.Required(path, fmt.Sprintf("at least one %s node is required", ControlPlaneRole)))
	case controlPlanes > 1:
		// kind puts a load balancer in front of several control-plane
		// nodes; kindish has none yet, so HA configs are refused rather
		// than half-built.
		errs = append(errs, field.Forbidden(path,
			fmt.Sprintf("%d control-plane nodes: more than one control-plane node is not supported yet", controlPlanes)))
	}
	return errs
}

func validateFeatureGates(gates map[string]bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range slices.Sorted(maps.Keys(gates)) {
		if name == "" {
			errs = append(errs, field.Invalid(path, name, "feature gate names must not be empty"))
		}
	}
	return errs
}

// validatePreloadImages checks that each image is a reference Docker can
// name, so that a typo fails before any node exists.
func validatePreloadImages(refs []string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ref := range refs {
		if ref == "" {
			errs = append(errs, field.Required(path.Index(i), "an image reference is required"))
			continue
		}
		if _, err := reference.ParseDockerRef(ref); err != nil {
			errs = append(errs, field.Invalid(path.Index(i), ref, err.Error()))
		}
	}
	return errs
}
