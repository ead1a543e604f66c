package config

import (
	"reflect"
	"testing"
)

// Node names follow kind's: the first of a role has no number, the next
// ones count from 2.
func TestNodeName(t *testing.T) {
	tests := []struct {
		role    NodeRole
		ordinal int
		want    string
	}{
		{ControlPlaneRole, 1, "kindish-control-plane"},
		{ControlPlaneRole, 2, "kindish-control-plane2"},
		{ControlPlaneRole, 3, "kindish-control-plane3"},
		{WorkerRole, 1, "kindish-worker"},
		{WorkerRole, 2, "kindish-worker2"},
		{WorkerRole, 10, "kindish-worker10"},
	}
	for _, tt := range tests {
		if got := NodeName("kindish", tt.role, tt.ordinal); got != tt.want {
			t.Errorf("NodeName(%s, %d) = %q, want %q", tt.role, tt.ordinal, got, tt.want)
		}
	}
}

// NodeNames lines up with c.Nodes and numbers each role in file order, even
// when roles are interleaved.
func TestNodeNames(t *testing.T) {
	c := &Cluster{Name: "dev", Nodes: []Node{
		{Role: WorkerRole},
		{Role: ControlPlaneRole},
		{Role: WorkerRole},
		{Role: ControlPlaneRole},
		{Role: WorkerRole},
	}}
	want := []string{"dev-worker", "dev-control-plane", "dev-worker2", "dev-control-plane2", "dev-worker3"}
	if got := NodeNames(c); !reflect.DeepEqual(got, want) {
		t.Errorf("NodeNames = %q, want %q", got, want)
	}
}

func TestControlPlanesAndWorkers(t *testing.T) {
	c := &Cluster{Nodes: []Node{
		{Role: WorkerRole, Image: "w1"},
		{Role: ControlPlaneRole, Image: "cp"},
		{Role: WorkerRole, Image: "w2"},
	}}
	if got := c.ControlPlanes(); len(got) != 1 || got[0].Image != "cp" {
		t.Errorf("ControlPlanes = %+v", got)
	}
	if got := c.Workers(); len(got) != 2 || got[0].Image != "w1" || got[1].Image != "w2" {
		t.Errorf("Workers = %+v", got)
	}
	if got := (&Cluster{Nodes: []Node{{Role: ControlPlaneRole}}}).Workers(); len(got) != 0 {
		t.Errorf("Workers of a one-node cluster = %+v, want none", got)
	}
}
