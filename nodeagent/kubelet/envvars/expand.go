package envvars

import "strings"

// Expansion follows Kubernetes' rules for $(VAR) references in env values,
// commands and args: $(NAME) is replaced when NAME is defined and kept
// verbatim otherwise, $$ is an escaped $, and a $ that begins neither stays.

const (
	expansionOperator = '$'
	referenceOpener   = '('
	referenceCloser   = ')'
)

// Expand replaces the $(NAME) references in input with lookup(NAME).
// References lookup does not know are left as written, so that a value that
// happens to contain "$(" survives.
func Expand(input string, lookup func(name string) (string, bool)) string {
	var out strings.Builder
	checkpoint := 0
	for cursor := 0; cursor < len(input); cursor++ {
		if input[cursor] != expansionOperator || cursor+1 >= len(input) {
			continue
		}
		out.WriteString(input[checkpoint:cursor])
		read, isRef, advance := readReference(input[cursor+1:])
		if isRef {
			if value, ok := lookup(read); ok {
				out.WriteString(value)
			} else {
				out.WriteString(string(expansionOperator) + string(referenceOpener) + read + string(referenceCloser))
			}
		} else {
			out.WriteString(read)
		}
		cursor += advance
		checkpoint = cursor + 1
	}
	return out.String() + input[checkpoint:]
}

// readReference reads what follows a '$': the name of a complete
// reference, or the literal text to copy. advance is how many bytes after
// the '$' were consumed.
func readReference(input string) (read string, isRef bool, advance int) {
	switch input[0] {
	case expansionOperator:
		return input[0:1], false, 1
	case referenceOpener:
		for i := 1; i < len(input); i++ {
			if input[i] == referenceCloser {
				return input[1:i], true, i + 1
			}
		}
		// An unterminated reference is literal text.
		return string(expansionOperator) + string(referenceOpener), false, 1
	default:
		return string(expansionOperator) + string(input[0]), false, 1
	}
}

// lookupIn looks a name up in each map in turn, the first holding it
// winning.
func lookupIn(maps ...map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for _, m := range maps {
			if v, ok := m[name]; ok {
				return v, true
			}
		}
		return "", false
	}
}
