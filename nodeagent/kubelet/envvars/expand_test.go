package envvars

import "testing"

func TestExpandFollowsKubernetesReferenceRules(t *testing.T) {
	vars := map[string]string{"VAR_A": "A", "VAR_B": "B", "EMPTY": ""}
	lookup := lookupIn(vars)
	tests := []struct {
		name, in, want string
	}{
		{"plain text is unchanged", "hello", "hello"},
		{"a reference is replaced", "$(VAR_A)", "A"},
		{"references inside text", "x-$(VAR_A)-$(VAR_B)-y", "x-A-B-y"},
		{"adjacent references", "$(VAR_A)$(VAR_B)", "AB"},
		{"an empty value replaces the reference", "[$(EMPTY)]", "[]"},
		{"an unknown reference stays as written", "$(VAR_DNE)", "$(VAR_DNE)"},
		{"an empty reference stays as written", "$()", "$()"},
		{"$$ escapes a reference", "$$(VAR_A)", "$(VAR_A)"},
		{"$$ then a reference", "$$$(VAR_A)", "$A"},
		{"two escapes", "$$$$(VAR_A)", "$$(VAR_A)"},
		{"a lone $$ is one $", "cost $$5", "cost $5"},
		{"shell syntax is not a reference", "$VAR_A ${VAR_A}", "$VAR_A ${VAR_A}"},
		{"an unterminated reference is text", "$(VAR_A", "$(VAR_A"},
		{"an unterminated reference after a good one", "$(VAR_A)$(VAR_B", "A$(VAR_B"},
		{"a trailing $ is kept", "abc$", "abc$"},
		{"a trailing $( is kept", "abc$(", "abc$("},
		{"nested parentheses end at the first closer", "$(VAR_A))", "A)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Expand(tt.in, lookup); got != tt.want {
				t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLookupInPrefersEarlierMaps(t *testing.T) {
	lookup := lookupIn(map[string]string{"X": "first"}, map[string]string{"X": "second", "Y": "only"})
	if v, _ := lookup("X"); v != "first" {
		t.Errorf("X = %q, want first", v)
	}
	if v, _ := lookup("Y"); v != "only" {
		t.Errorf("Y = %q, want only", v)
	}
	if _, ok := lookup("Z"); ok {
		t.Error("Z found, want not found")
	}
}
