package printers

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

// eventColumns are upstream's for both event APIs, which it prints from
// one internal type. The table starts with Last Seen and ends with a wide
// Name column, so plain `kubectl get events` shows no names; the column's
// "name" format tells the server not to put its own Name column first.
func eventColumns() []metav1.TableColumnDefinition {
	doc := corev1.Event{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		column("Last Seen", typeString, doc["lastTimestamp"]),
		column("Type", typeString, doc["type"]),
		column("Reason", typeString, doc["reason"]),
		column("Object", typeString, doc["involvedObject"]),
		wideColumn("Subobject", typeString, corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]),
		wideColumn("Source", typeString, doc["source"]),
		column("Message", typeString, doc["message"]),
		wideColumn("First Seen", typeString, doc["firstTimestamp"]),
		wideColumn("Count", typeString, doc["count"]),
		wide(nameColumn),
	}
}

func (c Convertors) coreEvents() *registry.TableConvertor {
	return convertor(eventColumns(), infallible(c.eventCells))
}

func (c Convertors) eventsV1Events() *registry.TableConvertor {
	return convertor(eventColumns(), infallible(func(e *eventsv1.Event) []any {
		return c.eventCells(coreEvent(e))
	}))
}

// coreEvent carries an events.k8s.io event over to core/v1's shape, field
// for field as upstream's conversion does (note is the message, regarding
// the involved object, the deprecated fields the old ones).
func coreEvent(e *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		ObjectMeta:          e.ObjectMeta,
		InvolvedObject:      e.Regarding,
		Related:             e.Related,
		Reason:              e.Reason,
		Message:             e.Note,
		Source:              e.DeprecatedSource,
		FirstTimestamp:      e.DeprecatedFirstTimestamp,
		LastTimestamp:       e.DeprecatedLastTimestamp,
		Count:               e.DeprecatedCount,
		Type:                e.Type,
		EventTime:           e.EventTime,
		Action:              e.Action,
		ReportingController: e.ReportingController,
		ReportingInstance:   e.ReportingInstance,
	}
	if e.Series != nil {
		out.Series = &corev1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	return out
}

func (c Convertors) eventCells(e *corev1.Event) []any {
	firstSeen := c.age(e.FirstTimestamp)
	if e.FirstTimestamp.IsZero() {
		firstSeen = c.microAge(e.EventTime)
	}
	lastSeen := c.age(e.LastTimestamp)
	if e.LastTimestamp.IsZero() {
		lastSeen = firstSeen
	}
	count := e.Count
	if e.Series != nil {
		lastSeen = c.microAge(e.Series.LastObservedTime)
		count = e.Series.Count
	} else if count == 0 {
		// Events of the new API that happened once carry no count.
		count = 1
	}
	object := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		object += "/" + e.InvolvedObject.Name
	}
	return []any{
		lastSeen,
		e.Type,
		e.Reason,
		object,
		e.InvolvedObject.FieldPath,
		eventSource(e),
		strings.TrimSpace(e.Message),
		firstSeen,
		int64(count),
		e.Name,
	}
}

// eventSource is "component, host", falling back to the reporting
// controller and instance of the new API; without a host, just the
// component.
func eventSource(e *corev1.Event) string {
	component := firstNonEmpty(e.Source.Component, e.ReportingController)
	instance := firstNonEmpty(e.Source.Host, e.ReportingInstance)
	if instance == "" {
		return component
	}
	return component + ", " + instance
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
