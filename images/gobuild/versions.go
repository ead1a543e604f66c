package gobuild

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/modfile"
)

// CheckSharedVersions returns an error naming every module that both
// go.mod files require at different versions, or that the wrapper
// replaces, and saying how to mend it.
//
// A wrapper module is to require, of every module kindish's own go.mod also
// requires, exactly kindish's version. The Go build cache then holds one
// compiled copy of what both build (client-go, the Kubernetes API types,
// gRPC, protobuf, prometheus...), and a machine that has built kindish
// compiles only the upstream's own packages: CoreDNS in about 25 s on two
// cores instead of two minutes, the registry in 30 s instead of 60. The
// versions must be equal as required, not made so with a replace
// directive: under -trimpath the compiler's cache key names a module by
// its required version, so a replaced module never matches.
func CheckSharedVersions(kindishGoMod, wrapperGoMod string) error {
	mismatches, err := versionMismatches(kindishGoMod, wrapperGoMod)
	if err != nil {
		return err
	}
	if len(mismatches) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %d dependencies differ from kindish's, so the build compiles them again:\n\t%s\n"+
		"require kindish's versions there (go mod edit -require=MODULE@VERSION, then go mod tidy), "+
		"or raise kindish's own where the upstream needs a newer one",
		wrapperGoMod, len(mismatches), strings.Join(mismatches, "\n\t"))
}

func versionMismatches(kindishGoMod, wrapperGoMod string) ([]string, error) {
	own, err := parseGoMod(kindishGoMod)
	if err != nil {
		return nil, err
	}
	wrapper, err := parseGoMod(wrapperGoMod)
	if err != nil {
		return nil, err
	}
	versions := map[string]string{}
	for _, r := range own.Require {
		versions[r.Mod.Path] = r.Mod.Version
	}
	replaced := map[string]bool{}
	for _, r := range wrapper.Replace {
		replaced[r.Old.Path] = true
	}
	var mismatches []string
	for _, r := range wrapper.Require {
		want, ok := versions[r.Mod.Path]
		switch {
		case !ok:
		case replaced[r.Mod.Path]:
			mismatches = append(mismatches, fmt.Sprintf("%s: replaced; kindish requires %s", r.Mod.Path, want))
		case r.Mod.Version != want:
			mismatches = append(mismatches, fmt.Sprintf("%s %s, kindish %s", r.Mod.Path, r.Mod.Version, want))
		}
	}
	return mismatches, nil
}

func parseGoMod(path string) (*modfile.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return f, nil
}
