// Package admission holds the API server's admission plugins: checks and
// mutations that run on every write after defaults and before validation,
// as upstream's admission chain.
package admission

import (
	"context"

	"github.com/kindish/kindish/controlplane/apiserver/rest"
)

// Plugin is one admission step.
type Plugin interface {
	Name() string
	Admit(ctx context.Context, a rest.AdmissionAttributes) error
}

// Chain runs plugins in order and stops at the first refusal.
func Chain(plugins ...Plugin) rest.Admission {
	return func(ctx context.Context, a rest.AdmissionAttributes) error {
		for _, p := range plugins {
			if err := p.Admit(ctx, a); err != nil {
				return err
			}
		}
		return nil
	}
}
