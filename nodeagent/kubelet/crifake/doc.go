// Package crifake is an in-memory container runtime that speaks CRI v1: it
// implements runtimeapi.RuntimeServiceClient and runtimeapi.ImageServiceClient
// the way containerd 1.6's CRI plugin answers them (states, timestamps,
// exit reasons, error texts), so that the kubelet's pod runtime can be tested
// without containerd.
//
// Tests steer it beyond what CRI offers: make a container exit with a code,
// decide which images a pull finds, script ExecSync results, inject errors
// per method and count calls. Time comes from an injected clock and IDs from
// a counter, so a test run is reproducible. A Runtime is safe for concurrent
// use.
package crifake
