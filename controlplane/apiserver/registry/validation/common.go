package validation

import (
	"reflect"
	"slices"
	"strconv"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Detail strings upstream shares between kinds.
const (
	isNegativeErrorMsg     = apimachineryvalidation.IsNegativeErrorMsg
	fieldImmutableErrorMsg = apimachineryvalidation.FieldImmutableErrorMsg
	isNotPositiveErrorMsg  = `must be greater than zero`
	isNotIntegerErrorMsg   = `must be an integer`
)

// The checks below accept only values that are certainly valid and leave
// everything else to apimachinery, which knows upstream's messages: the
// library splits and formats strings, which a valid object should not pay
// for.

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isLowerAlnum(c) || c >= 'A' && c <= 'Z' }

func surelyDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > validation.DNS1123LabelMaxLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isLowerAlnum(c) {
			continue
		}
		if c != '-' || i == 0 || i == len(s)-1 {
			return false
		}
	}
	return true
}

func surelyDNSSubdomain(s string) bool {
	if len(s) == 0 || len(s) > validation.DNS1123SubdomainMaxLength {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if isLowerAlnum(c) || c == '-' && i != start && i+1 < len(s) && s[i+1] != '.' {
				continue
			}
			return false
		}
		if i == start {
			return false
		}
		start = i + 1
	}
	return true
}

// surelyLabelName checks the name part of a label key or a label value.
func surelyLabelName(s string) bool {
	if len(s) == 0 || len(s) > 63 || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func surelyLabelKey(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return surelyDNSSubdomain(s[:i]) && surelyLabelName(s[i+1:])
		}
	}
	return surelyLabelName(s)
}

func surelyLabelValue(s string) bool { return s == "" || surelyLabelName(s) }

// invalidEach turns validation messages about one value into errors. It
// is generic so that the value is only boxed when there is an error.
func invalidEach[T any](errs field.ErrorList, s *step, value T, msgs []string) field.ErrorList {
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(s.path(), value, msg))
	}
	return errs
}

func validateDNSLabel(errs field.ErrorList, value string, s *step) field.ErrorList {
	if surelyDNSLabel(value) {
		return errs
	}
	return invalidEach(errs, s, value, validation.IsDNS1123Label(value))
}

func validateDNSSubdomain(errs field.ErrorList, value string, s *step) field.ErrorList {
	if surelyDNSSubdomain(value) {
		return errs
	}
	return invalidEach(errs, s, value, validation.IsDNS1123Subdomain(value))
}

// validateQualifiedName checks what upstream calls a qualified name: the
// format of label keys.
func validateQualifiedName(errs field.ErrorList, value string, s *step) field.ErrorList {
	if surelyLabelKey(value) {
		return errs
	}
	return invalidEach(errs, s, value, validation.IsQualifiedName(value))
}

func validateLabelValue(errs field.ErrorList, value string, s *step) field.ErrorList {
	if surelyLabelValue(value) {
		return errs
	}
	return invalidEach(errs, s, value, validation.IsValidLabelValue(value))
}

// validateName checks value with one of apimachinery's name functions.
func validateName(errs field.ErrorList, value string, fn apimachineryvalidation.ValidateNameFunc, s *step) field.ErrorList {
	return invalidEach(errs, s, value, fn(value, false))
}

// nameIsDNSSubdomain is apimachinery's, with the common valid case free.
func nameIsDNSSubdomain(name string, prefix bool) []string {
	if surelyDNSSubdomain(name) {
		return nil
	}
	return apimachineryvalidation.NameIsDNSSubdomain(name, prefix)
}

func nameIsDNSLabel(name string, prefix bool) []string {
	if surelyDNSLabel(name) {
		return nil
	}
	return apimachineryvalidation.NameIsDNSLabel(name, prefix)
}

// validateLabels is metav1validation.ValidateLabels, in key order.
func validateLabels(errs field.ErrorList, m map[string]string, s *step) field.ErrorList {
	if len(m) == 0 {
		return errs
	}
	var buf [16]string
	for _, k := range sortedKeys(m, buf[:0]) {
		errs = validateQualifiedName(errs, k, s)
		errs = validateLabelValue(errs, m[k], s)
	}
	return errs
}

// validateLabelSelector is metav1validation.ValidateLabelSelector.
func validateLabelSelector(errs field.ErrorList, ps *metav1.LabelSelector, allowInvalidValues bool, s *step) field.ErrorList {
	if ps == nil {
		return errs
	}
	ml := s.child("matchLabels")
	errs = validateLabels(errs, ps.MatchLabels, &ml)
	me := s.child("matchExpressions")
	for i := range ps.MatchExpressions {
		r := &ps.MatchExpressions[i]
		rs := me.index(i)
		switch r.Operator {
		case metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn:
			if len(r.Values) == 0 {
				errs = append(errs, field.Required(rs.path("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
			}
		case metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist:
			if len(r.Values) > 0 {
				errs = append(errs, field.Forbidden(rs.path("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
			}
		default:
			errs = append(errs, field.Invalid(rs.path("operator"), r.Operator, "not a valid selector operator"))
		}
		k := rs.child("key")
		errs = validateQualifiedName(errs, r.Key, &k)
		if !allowInvalidValues {
			vs := rs.child("values")
			for j, v := range r.Values {
				vj := vs.index(j)
				errs = validateLabelValue(errs, v, &vj)
			}
		}
	}
	return errs
}

// selectorMatches reports whether a set-based selector selects labels; an
// invalid selector matches nothing, and ok is false.
func selectorMatches(ps *metav1.LabelSelector, set map[string]string) (matches, ok bool) {
	if ps == nil {
		return false, true
	}
	// Valid equality-only selectors, the usual kind, need no parsing.
	if len(ps.MatchExpressions) == 0 && surelyValidLabels(ps.MatchLabels) {
		for k, v := range ps.MatchLabels {
			if got, found := set[k]; !found || got != v {
				return false, true
			}
		}
		return true, true
	}
	sel, err := metav1.LabelSelectorAsSelector(ps)
	if err != nil {
		return false, false
	}
	return sel.Matches(labels.Set(set)), true
}

func validateNonnegative(errs field.ErrorList, value int64, s *step) field.ErrorList {
	if value < 0 {
		errs = append(errs, field.Invalid(s.path(), value, isNegativeErrorMsg))
	}
	return errs
}

func validateNonnegativeQuantity(errs field.ErrorList, q resource.Quantity, s *step) field.ErrorList {
	if q.Sign() < 0 {
		errs = append(errs, field.Invalid(s.path(), q.String(), isNegativeErrorMsg))
	}
	return errs
}

func validatePositiveQuantity(errs field.ErrorList, q resource.Quantity, s *step) field.ErrorList {
	if q.Sign() <= 0 {
		errs = append(errs, field.Invalid(s.path(), q.String(), isNotPositiveErrorMsg))
	}
	return errs
}

// validateImmutable reports a changed value, compared semantically as
// upstream does (quantities by value, nil and empty alike).
func validateImmutable(errs field.ErrorList, newVal, oldVal any, s *step) field.ErrorList {
	if !semanticEqual(oldVal, newVal) {
		errs = append(errs, field.Invalid(s.path(), newVal, fieldImmutableErrorMsg))
	}
	return errs
}

func validatePortNum(errs field.ErrorList, port int, s *step) field.ErrorList {
	if port >= 1 && port <= 65535 {
		return errs
	}
	return invalidEach(errs, s, port, validation.IsValidPortNum(port))
}

// validatePortNumOrName checks an IntOrString port: a number, or an
// IANA_SVC_NAME.
func validatePortNumOrName(errs field.ErrorList, port intstr.IntOrString, s *step) field.ErrorList {
	switch port.Type {
	case intstr.Int:
		return validatePortNum(errs, port.IntValue(), s)
	case intstr.String:
		return invalidEach(errs, s, port.StrVal, validation.IsValidPortName(port.StrVal))
	default:
		return append(errs, field.InternalError(s.path(), errUnknownIntOrStringType(port.Type)))
	}
}

type errUnknownIntOrStringType intstr.Type

func (t errUnknownIntOrStringType) Error() string {
	return "unknown type: " + strconv.Itoa(int(t))
}

// validatePositiveIntOrPercent checks a count or percentage, as the apps
// group does for maxSurge and friends.
func validatePositiveIntOrPercent(errs field.ErrorList, v intstr.IntOrString, s *step) field.ErrorList {
	switch v.Type {
	case intstr.String:
		return invalidEach(errs, s, v, validation.IsValidPercent(v.StrVal))
	case intstr.Int:
		return validateNonnegative(errs, int64(v.IntValue()), s)
	default:
		return append(errs, field.Invalid(s.path(), v, "must be an integer or percentage (e.g '5%%')"))
	}
}

// percentValue returns the number in a valid percentage string.
func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n, true
}

func intOrPercentValue(v intstr.IntOrString) int {
	if n, ok := percentValue(v); ok {
		return n
	}
	return v.IntValue()
}

func validateNotMoreThan100Percent(errs field.ErrorList, v intstr.IntOrString, s *step) field.ErrorList {
	if n, ok := percentValue(v); ok && n > 100 {
		errs = append(errs, field.Invalid(s.path(), v, "must not be greater than 100%"))
	}
	return errs
}

// sortedKeys returns m's keys in order, in buf when it is large enough:
// errors come out in the same order for the same object.
func sortedKeys[K ~string, V any](m map[K]V, buf []K) []K {
	for k := range m {
		buf = append(buf, k)
	}
	slices.Sort(buf)
	return buf
}

// validatePathSegmentName is the rule for names that end up in URL paths
// but need not be DNS names (roles, persistent volumes).
func validatePathSegmentName(name string, prefix bool) []string {
	return path.IsValidPathSegmentName(name)
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// validateAnnotations is apimachinery's ValidateAnnotations: keys are
// qualified names in any case, and all of them fit in 256 KiB.
func validateAnnotations(errs field.ErrorList, annotations map[string]string, s *step) field.ErrorList {
	if len(annotations) == 0 {
		return errs
	}
	var buf [16]string
	var size int64
	for _, k := range sortedKeys(annotations, buf[:0]) {
		if lower := strings.ToLower(k); !surelyLabelKey(lower) {
			errs = invalidEach(errs, s, k, validation.IsQualifiedName(lower))
		}
		size += int64(len(k)) + int64(len(annotations[k]))
	}
	if size > int64(apimachineryvalidation.TotalAnnotationSizeLimitB) {
		errs = append(errs, field.TooLong(s.path(), "", apimachineryvalidation.TotalAnnotationSizeLimitB))
	}
	return errs
}

func surelyValidLabels(m map[string]string) bool {
	for k, v := range m {
		if !surelyLabelKey(k) || !surelyLabelValue(v) {
			return false
		}
	}
	return true
}

// semanticEqual is upstream's notion of equal values (apiequality.Semantic):
// nil equals empty, and quantities compare by value. Plain DeepEqual
// answers the common case of identical values far faster.
func semanticEqual(a, b any) bool {
	return reflect.DeepEqual(a, b) || apiequality.Semantic.DeepEqual(a, b)
}
