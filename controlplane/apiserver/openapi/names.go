package openapi

import (
	"strings"
	"unicode"
)

// operationVerbs are the words upstream's operation names start with.
var operationVerbs = []string{"get", "log", "read", "replace", "patch", "delete", "deletecollection", "watch", "connect", "proxy", "list", "create"}

// operationID turns an operation name ("deletecollectionNamespacedPod")
// served at path into upstream's operation ID and tags
// ("deleteCoreV1CollectionNamespacedPod", ["core_v1"]): the group and
// version go after the verb, so client generators group operations by API.
// The verb is the shortest that matches, as upstream's trie finds it.
func operationID(op, path string) (string, []string) {
	verb := ""
	for _, v := range operationVerbs {
		if strings.HasPrefix(op, v) && (verb == "" || len(v) < len(verb)) {
			verb = v
		}
	}
	rest := op[len(verb):]
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if parts[0] == "api" {
		parts = append([]string{"apis", "core"}, parts[1:]...)
	}
	var tags []string
	prefix := verb
	switch {
	case len(parts) >= 2 && parts[0] == "apis":
		group := strings.TrimSuffix(parts[1], ".k8s.io")
		prefix += validOperationID(group, prefix != "")
		tag := validOperationID(group, false)
		if len(parts) > 2 {
			prefix += validOperationID(parts[2], prefix != "")
			tag += "_" + validOperationID(parts[2], false)
		}
		tags = append(tags, tag)
	case len(parts) >= 1:
		tags = append(tags, validOperationID(parts[0], false))
	}
	return prefix + validOperationID(rest, prefix != ""), tags
}

// validOperationID drops the characters an identifier cannot have and
// capitalizes the letter after each ("rbac.authorization" ->
// "rbacAuthorization").
func validOperationID(s string, capitalizeFirst bool) string {
	var b strings.Builder
	capitalize := capitalizeFirst
	for i, r := range s {
		if unicode.IsLetter(r) || r == '_' || (i != 0 && unicode.IsDigit(r)) {
			if capitalize {
				r = unicode.ToUpper(r)
				capitalize = false
			}
			b.WriteRune(r)
		} else {
			capitalize = true
		}
	}
	return b.String()
}

// title capitalizes the first letter of s ("status" -> "Status").
func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// article is the indefinite article for noun, with spaces around it.
func article(noun string) string {
	if noun != "" && strings.ContainsRune("AEIOUaeiou", rune(noun[0])) {
		return " an "
	}
	return " a "
}
