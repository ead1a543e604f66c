//go:build !unix

package kubeconfig

import "os"

// keepOwner does nothing where files have no Unix owner.
func keepOwner(*os.File, string) error { return nil }
