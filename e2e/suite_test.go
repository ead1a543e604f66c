//go:build e2e

// Package e2e is kindish's end-to-end suite: it creates real clusters in
// Docker and checks them as a user would, with the kindish CLI, docker,
// kubectl and client-go. Run it with `make e2e` (FOCUS=<label> for a part).
package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kindish e2e")
}

// workloadImages are the images kindish builds for tests (`kindish build
// images`); the shared cluster holds them from the start.
var workloadImages = []string{"busybox", "nginx", testboxImage}

// shared is the cluster most specs use: one control plane and two workers.
var shared = &Cluster{Name: "e2e", Config: `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
- role: worker
`}

var _ = BeforeSuite(func() {
	setUpEnvironment()
	By("creating the shared cluster " + shared.Name)
	shared.Create("--wait", "3m", "--preload-image", strings.Join(workloadImages, ","))
})

var _ = AfterSuite(func() {
	// Every cluster this suite made, even when it was interrupted.
	deleteAllClusters()
})

// After a failed spec, keep the shared cluster's logs for the reader.
var _ = ReportAfterEach(func(report SpecReport) {
	if !report.Failed() || !shared.created {
		return
	}
	dir := filepath.Join(outputDir(), "logs", sanitize(report.FullText()))
	if _, _, code := kindish("export", "logs", dir, "--name", shared.Name); code != 0 {
		GinkgoWriter.Printf("could not export logs to %s\n", dir)
	}
})

func outputDir() string {
	if d := os.Getenv("KINDISH_E2E_OUTPUT"); d != "" {
		return d
	}
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "_output")
}
