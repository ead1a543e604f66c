package main

import (
	"testing"
	"time"
)

func TestLineTimeReadsTheFirstMatchingLinesTimestamp(t *testing.T) {
	logs := "2026-11-22T22:02:34.700000000Z kindish-node: DNS served at 172.18.0.1\n" +
		"2026-11-22T22:02:34.794990649Z kindish-node: containerd is ready\n" +
		"2026-11-22T22:02:40.000000000Z kindish-node: containerd is ready\n"
	got, ok := lineTime(logs, runtimeReadyLine)
	want := time.Date(2026, 11, 22, 22, 2, 34, 794990649, time.UTC)
	if !ok || !got.Equal(want) {
		t.Errorf("lineTime = %v, %v; want %v", got, ok, want)
	}
	if _, ok := lineTime(logs, "kindish-node: node is up"); ok {
		t.Error("found a line the logs do not have")
	}
}
