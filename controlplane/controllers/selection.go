package controllers

import (
	"errors"
	"fmt"
	"strings"
)

// selectControllers resolves --controllers against the table as upstream
// does: the first entry naming a controller (by name or alias, with or
// without "-") decides; otherwise "*" enables it unless it is disabled by
// default. Every unknown entry is an error.
func selectControllers(table []Descriptor, flags []string) ([]Descriptor, error) {
	canonical := map[string]string{}
	for _, d := range table {
		canonical[d.Name] = d.Name
		for _, a := range d.Aliases {
			canonical[a] = d.Name
		}
	}
	choice := map[string]bool{}
	star := false
	var errs []error
	for _, entry := range flags {
		entry = strings.TrimSpace(entry)
		if entry == "*" {
			star = true
			continue
		}
		name, negated := strings.CutPrefix(entry, "-")
		c, ok := canonical[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%q is not in the list of known controllers", name))
			continue
		}
		if _, decided := choice[c]; !decided {
			choice[c] = !negated
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("--controllers: %w", err)
	}
	var out []Descriptor
	for _, d := range table {
		enabled, decided := choice[d.Name]
		if !decided {
			enabled = star && !d.DisabledByDefault
		}
		if enabled {
			out = append(out, d)
		}
	}
	return out, nil
}
