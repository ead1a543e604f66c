package main

import "testing"

func TestCompareMarksChangesInsideTheNoiseAsNone(t *testing.T) {
	old := Figure{Name: "x", Unit: "s", Median: 10, Min: 9, Max: 11}
	if got := change(old, Figure{Median: 10.5, Min: 10, Max: 12}); got != "~ (+5.0%, ranges overlap)" {
		t.Errorf("overlapping ranges: %q", got)
	}
	if got := change(old, Figure{Median: 5, Min: 4.5, Max: 5.5}); got != "-50.0%" {
		t.Errorf("disjoint ranges: %q", got)
	}
}
