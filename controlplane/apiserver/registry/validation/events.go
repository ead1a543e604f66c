package validation

import (
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits of events.k8s.io events, also applied to new-style core events.
const (
	reportingInstanceLengthLimit = 128
	actionLengthLimit            = 128
	reasonLengthLimit            = 128
	noteLengthLimit              = 1024
)

// event is the common view upstream validates both event APIs through:
// its internal type, whose field names the errors use even for
// events.k8s.io (involvedObject rather than regarding, message rather than
// note).
type event struct {
	namespace           string
	involvedObject      corev1.ObjectReference
	related             *corev1.ObjectReference
	reason, message     string
	source              corev1.EventSource
	firstTimestamp      metav1.Time
	lastTimestamp       metav1.Time
	count               int32
	typ                 string
	eventTime           metav1.MicroTime
	series              *eventSeries
	action              string
	reportingController string
	reportingInstance   string
}

type eventSeries struct {
	count            int32
	lastObservedTime metav1.MicroTime
}

func coreEvent(e *corev1.Event) event {
	v := event{
		namespace: e.Namespace, involvedObject: e.InvolvedObject, related: e.Related,
		reason: e.Reason, message: e.Message, source: e.Source,
		firstTimestamp: e.FirstTimestamp, lastTimestamp: e.LastTimestamp, count: e.Count,
		typ: e.Type, eventTime: e.EventTime, action: e.Action,
		reportingController: e.ReportingController, reportingInstance: e.ReportingInstance,
	}
	if e.Series != nil {
		v.series = &eventSeries{e.Series.Count, e.Series.LastObservedTime}
	}
	return v
}

func eventsEvent(e *eventsv1.Event) event {
	v := event{
		namespace: e.Namespace, involvedObject: e.Regarding, related: e.Related,
		reason: e.Reason, message: e.Note, source: e.DeprecatedSource,
		firstTimestamp: e.DeprecatedFirstTimestamp, lastTimestamp: e.DeprecatedLastTimestamp, count: e.DeprecatedCount,
		typ: e.Type, eventTime: e.EventTime, action: e.Action,
		reportingController: e.ReportingController, reportingInstance: e.ReportingInstance,
	}
	if e.Series != nil {
		v.series = &eventSeries{e.Series.Count, e.Series.LastObservedTime}
	}
	return v
}

// validateLegacyEvent is what every event must pass, through either API.
func validateLegacyEvent(e *event) field.ErrorList {
	var errs field.ErrorList
	nsErr := func() {
		errs = append(errs, field.Invalid(field.NewPath("involvedObject", "namespace"), e.involvedObject.Namespace, "does not match event.namespace"))
	}
	// Old-style events have no eventTime; their namespaces must agree.
	if e.eventTime.IsZero() {
		if len(e.involvedObject.Namespace) == 0 {
			// Old clients put events about cluster objects in default.
			if e.namespace != metav1.NamespaceNone && e.namespace != metav1.NamespaceDefault {
				nsErr()
			}
		} else if e.namespace != e.involvedObject.Namespace {
			nsErr()
		}
	} else {
		if len(e.involvedObject.Namespace) == 0 && e.namespace != metav1.NamespaceDefault && e.namespace != metav1.NamespaceSystem {
			nsErr()
		}
		rc := field.NewPath("reportingController")
		if len(e.reportingController) == 0 {
			errs = append(errs, field.Required(rc, ""))
		}
		for _, msg := range validation.IsQualifiedName(e.reportingController) {
			errs = append(errs, field.Invalid(rc, e.reportingController, msg))
		}
		errs = requireAtMost(errs, "reportingInstance", e.reportingInstance, reportingInstanceLengthLimit, true)
		errs = requireAtMost(errs, "action", e.action, actionLengthLimit, true)
		errs = requireAtMost(errs, "reason", e.reason, reasonLengthLimit, true)
		errs = requireAtMost(errs, "message", e.message, noteLengthLimit, false)
	}
	ns := root("namespace")
	return invalidEach(errs, &ns, e.namespace, validation.IsDNS1123Subdomain(e.namespace))
}

func requireAtMost(errs field.ErrorList, name, value string, limit int, required bool) field.ErrorList {
	if required && len(value) == 0 {
		errs = append(errs, field.Required(field.NewPath(name), ""))
	}
	if len(value) > limit {
		errs = append(errs, field.Invalid(field.NewPath(name), "", fmt.Sprintf("can have at most %v characters", limit)))
	}
	return errs
}

func validateEventSeries(errs field.ErrorList, e *event) field.ErrorList {
	if e.series == nil {
		return errs
	}
	// Upstream spells these paths with the dot inside the name.
	if e.series.count < 2 {
		errs = append(errs, field.Invalid(field.NewPath("series.count"), "", "should be at least 2"))
	}
	if e.series.lastObservedTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("series.lastObservedTime"), ""))
	}
	return errs
}

// validateEventCreate is the strict check of events created through
// events.k8s.io.
func validateEventCreate(e *event) field.ErrorList {
	errs := validateLegacyEvent(e)
	errs = validateEventSeries(errs, e)
	if e.eventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.typ != corev1.EventTypeNormal && e.typ != corev1.EventTypeWarning {
		errs = append(errs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", e.typ)))
	}
	if !e.firstTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("firstTimestamp"), "", "needs to be unset"))
	}
	if !e.lastTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("lastTimestamp"), "", "needs to be unset"))
	}
	if e.count != 0 {
		errs = append(errs, field.Invalid(field.NewPath("count"), "", "needs to be unset"))
	}
	if e.source.Component != "" || e.source.Host != "" {
		errs = append(errs, field.Invalid(field.NewPath("source"), "", "needs to be unset"))
	}
	return errs
}

func validateEventUpdate(e, old *event) field.ErrorList {
	errs := validateLegacyEvent(e)
	if !reflect.DeepEqual(e.series, old.series) {
		errs = validateEventSeries(errs, e)
	}
	for _, f := range [...]struct {
		name     string
		new, old any
	}{
		{"involvedObject", e.involvedObject, old.involvedObject},
		{"reason", e.reason, old.reason},
		{"message", e.message, old.message},
		{"source", e.source, old.source},
		{"firstTimestamp", e.firstTimestamp, old.firstTimestamp},
		{"lastTimestamp", e.lastTimestamp, old.lastTimestamp},
		{"count", e.count, old.count},
		{"reason", e.reason, old.reason},
		{"type", e.typ, old.typ},
		{"eventTime", e.eventTime, old.eventTime},
		{"action", e.action, old.action},
		{"related", e.related, old.related},
		{"reportingController", e.reportingController, old.reportingController},
		{"reportingInstance", e.reportingInstance, old.reportingInstance},
	} {
		s := root(f.name)
		errs = validateImmutable(errs, f.new, f.old, &s)
	}
	return errs
}
