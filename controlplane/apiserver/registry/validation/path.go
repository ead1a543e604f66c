package validation

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// step is one element of a field path. Steps live on the stack and become a
// *field.Path only when an error is reported, so a valid object costs no
// allocations for the paths it was checked under.
type step struct {
	up   *step
	name string // a field name, or a map key when kind is stepKey
	i    int
	kind stepKind
}

type stepKind uint8

const (
	stepChild stepKind = iota
	stepIndex
	stepKey
)

// root starts a path at a top-level field; an empty name is the object
// itself, as upstream reports whole-object errors. A name may hold several
// dotted fields ("status.capacity"): paths only matter as text.
func root(name string) step { return step{name: name} }

// A step points at its parent, so each step must live in a variable of its
// own: s = s.child("x") makes s its own parent.

func (s *step) child(name string) step { return step{up: s, name: name} }
func (s *step) index(i int) step       { return step{up: s, i: i, kind: stepIndex} }
func (s *step) key(k string) step      { return step{up: s, name: k, kind: stepKey} }

// path builds the field path of s, followed by more child names.
func (s *step) path(more ...string) *field.Path {
	p := s.build()
	for _, m := range more {
		p = p.Child(m)
	}
	return p
}

func (s *step) build() *field.Path {
	if s == nil {
		return nil
	}
	parent := s.up.build()
	// The copy keeps the path from pointing into s: escape analysis does
	// not tell fields apart, and a step that leaked would take every step
	// above it to the heap.
	name := strings.Clone(s.name)
	switch s.kind {
	case stepIndex:
		return parent.Index(s.i)
	case stepKey:
		return parent.Key(name)
	default:
		return parent.Child(name)
	}
}
