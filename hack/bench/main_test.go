package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteMakesTheReportsDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "_output", "bench.json")
	b := &bench{}
	b.add(Figure{Name: "delete cluster (3 nodes)", Unit: "s", Samples: []float64{0.9, 0.8, 0.85}})
	if err := b.write(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Figures) != 1 || rep.Figures[0].Median != 0.85 {
		t.Errorf("report figures %+v, want the one figure with median 0.85", rep.Figures)
	}
}
