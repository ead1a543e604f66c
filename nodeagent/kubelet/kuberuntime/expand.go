package kuberuntime

import (
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// expandCommandAndArgs expands $(VAR) references in a container's command
// and args from its environment, by Kubernetes' rules: $$ is a literal $, and
// a reference to an unknown variable is left as written.
func expandCommandAndArgs(command, args []string, env []*runtimeapi.KeyValue) ([]string, []string) {
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		vars[kv.GetKey()] = string(kv.GetValue())
	}
	lookup := func(name string) string {
		if v, ok := vars[name]; ok {
			return v
		}
		return "$(" + name + ")"
	}
	var outCommand, outArgs []string
	for _, c := range command {
		outCommand = append(outCommand, expand(c, lookup))
	}
	for _, a := range args {
		outArgs = append(outArgs, expand(a, lookup))
	}
	return outCommand, outArgs
}

// expand replaces each $(NAME) in input by mapping(NAME).
func expand(input string, mapping func(string) string) string {
	var buf strings.Builder
	checkpoint := 0
	for cursor := 0; cursor < len(input); cursor++ {
		if input[cursor] != '$' || cursor+1 >= len(input) {
			continue
		}
		buf.WriteString(input[checkpoint:cursor])
		read, isVar, advance := readVariableName(input[cursor+1:])
		if isVar {
			buf.WriteString(mapping(read))
		} else {
			buf.WriteString(read)
		}
		cursor += advance
		checkpoint = cursor + 1
	}
	return buf.String() + input[checkpoint:]
}

// readVariableName reads what follows a $: the name of a $(NAME) reference,
// or the literal text to keep, and how many bytes it consumed.
func readVariableName(input string) (string, bool, int) {
	switch input[0] {
	case '$':
		return "$", false, 1
	case '(':
		for i := 1; i < len(input); i++ {
			if input[i] == ')' {
				return input[1:i], true, i + 1
			}
		}
		return "$(", false, 1
	default:
		return "$" + input[0:1], false, 1
	}
}
