package config

import (
	"reflect"
	"testing"
)

// checkShape handles a fixed set of Go kinds; a field added to Cluster with
// another kind would be reported as uncheckable in every file that sets it.
// This catches that when the field is added, not when a user sets it.
func TestShapeCoversEveryFieldOfCluster(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(tp reflect.Type, path string)
	walk = func(tp reflect.Type, path string) {
		if seen[tp] {
			return
		}
		seen[tp] = true
		switch tp.Kind() {
		case reflect.Pointer, reflect.Slice:
			walk(tp.Elem(), path+"[]")
		case reflect.Map:
			if tp.Key().Kind() != reflect.String {
				t.Errorf("%s: map keys must be strings, are %s", path, tp.Key())
			}
			walk(tp.Elem(), path+"[]")
		case reflect.Struct:
			for name, ft := range jsonFields(tp) {
				walk(ft, path+"."+name)
			}
		case reflect.String, reflect.Bool, reflect.Int32:
		default:
			t.Errorf("%s: checkShape has no case for %s", path, tp)
		}
	}
	walk(reflect.TypeFor[Cluster](), "")
}

func TestShapeNullIsAnEmptyValue(t *testing.T) {
	_, _, err := Parse([]byte(header + "name:\nnodes:\n- role: worker\n  labels:\n  extraMounts: ~\nnetworking:\n"))
	if err != nil {
		t.Errorf("Parse: %v", err)
	}
}
