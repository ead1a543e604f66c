// Package printers gives each served resource the columns kube-apiserver
// sends `kubectl get`: the same headers, the same -o wide extras, and cells
// computed the same way from the same fields, so a table from kindish reads
// like one from a kubeadm cluster. It follows upstream's
// k8s.io/kubernetes/pkg/printers/internalversion, re-done for the v1 types.
//
// The server puts the Name column in front of every table, so each
// convertor's columns and cells start after the name; the few tables that
// place or decorate the name themselves (events: last and wide only;
// storage classes: "standard (default)") have a column of format "name",
// and the server then leaves the name to them. Like kube-apiserver,
// which renders tables with Wide set, cells always include the -o wide
// columns; kubectl hides those of priority 1 unless asked.
//
// The registry must not import this package (registry is imported here);
// the wiring lives with the server.
package printers

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

// Convertors hands out table convertors whose ages (AGE, LAST SEEN,
// DURATION, the "(5m ago)" of RESTARTS) are measured against one clock.
type Convertors struct {
	now func() time.Time
}

// NewConvertors returns convertors that read the time from now; nil means
// the wall clock.
func NewConvertors(now func() time.Time) Convertors {
	if now == nil {
		now = time.Now
	}
	return Convertors{now: now}
}

// For returns the table convertor of a resource, or nil where upstream has
// no printer and serves the default NAME / CREATED AT table.
func (c Convertors) For(gvr schema.GroupVersionResource) *registry.TableConvertor {
	if c.now == nil {
		c.now = time.Now
	}
	build, ok := builders[gvr]
	if !ok {
		return nil
	}
	return build(c)
}

// For returns the table convertor of a resource measured against the wall
// clock, or nil for the default table.
func For(gvr schema.GroupVersionResource) *registry.TableConvertor {
	return NewConvertors(nil).For(gvr)
}

// builders maps each resource with upstream columns to its convertor.
var builders = map[schema.GroupVersionResource]func(Convertors) *registry.TableConvertor{
	registry.CoreV1.WithResource("configmaps"):             Convertors.configMaps,
	registry.CoreV1.WithResource("endpoints"):              Convertors.endpoints,
	registry.CoreV1.WithResource("events"):                 Convertors.coreEvents,
	registry.CoreV1.WithResource("namespaces"):             Convertors.namespaces,
	registry.CoreV1.WithResource("nodes"):                  Convertors.nodes,
	registry.CoreV1.WithResource("persistentvolumeclaims"): Convertors.persistentVolumeClaims,
	registry.CoreV1.WithResource("persistentvolumes"):      Convertors.persistentVolumes,
	registry.CoreV1.WithResource("pods"):                   Convertors.pods,
	registry.CoreV1.WithResource("replicationcontrollers"): Convertors.replicationControllers,
	registry.CoreV1.WithResource("resourcequotas"):         Convertors.resourceQuotas,
	registry.CoreV1.WithResource("secrets"):                Convertors.secrets,
	registry.CoreV1.WithResource("serviceaccounts"):        Convertors.serviceAccounts,
	registry.CoreV1.WithResource("services"):               Convertors.services,

	registry.AppsV1.WithResource("controllerrevisions"): Convertors.controllerRevisions,
	registry.AppsV1.WithResource("daemonsets"):          Convertors.daemonSets,
	registry.AppsV1.WithResource("deployments"):         Convertors.deployments,
	registry.AppsV1.WithResource("replicasets"):         Convertors.replicaSets,
	registry.AppsV1.WithResource("statefulsets"):        Convertors.statefulSets,

	registry.BatchV1.WithResource("cronjobs"): Convertors.cronJobs,
	registry.BatchV1.WithResource("jobs"):     Convertors.jobs,

	registry.CoordinationV1.WithResource("leases"):      Convertors.leases,
	registry.DiscoveryV1.WithResource("endpointslices"): Convertors.endpointSlices,
	registry.EventsV1.WithResource("events"):            Convertors.eventsV1Events,

	registry.RBACV1.WithResource("clusterrolebindings"): Convertors.clusterRoleBindings,
	registry.RBACV1.WithResource("rolebindings"):        Convertors.roleBindings,

	registry.PolicyV1.WithResource("poddisruptionbudgets"): Convertors.podDisruptionBudgets,
	registry.SchedulingV1.WithResource("priorityclasses"):  Convertors.priorityClasses,
	registry.StorageV1.WithResource("storageclasses"):      Convertors.storageClasses,
}

// convertor adapts a typed cell function to the registry's untyped one.
func convertor[T runtime.Object](columns []metav1.TableColumnDefinition, cells func(T) ([]any, error)) *registry.TableConvertor {
	return &registry.TableConvertor{
		Columns: columns,
		Cells: func(obj runtime.Object) ([]any, error) {
			typed, ok := obj.(T)
			if !ok {
				var want T
				return nil, fmt.Errorf("table cells: want %T, got %T", want, obj)
			}
			return cells(typed)
		},
	}
}

// infallible lifts a cell function that cannot fail.
func infallible[T any](cells func(T) []any) func(T) ([]any, error) {
	return func(obj T) ([]any, error) { return cells(obj), nil }
}

// Column types upstream uses.
const (
	typeString  = "string"
	typeInteger = "integer"
	typeBoolean = "boolean"
)

// column is a column shown by plain `kubectl get`.
func column(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

// wideColumn is a column kubectl shows only with -o wide.
func wideColumn(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Priority: 1, Description: description}
}

// wide makes a column one kubectl shows only with -o wide.
func wide(c metav1.TableColumnDefinition) metav1.TableColumnDefinition {
	c.Priority = 1
	return c
}

// Columns many resources share.
var (
	// nameColumn is for the tables that place or decorate the name
	// themselves; the server puts a plain one first in all the others.
	nameColumn       = metav1.TableColumnDefinition{Name: "Name", Type: typeString, Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]}
	ageColumn        = column("Age", typeString, metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"])
	containersColumn = wideColumn("Containers", typeString, "Names of each container in the template.")
	imagesColumn     = wideColumn("Images", typeString, "Images referenced by each container in the template.")
)

// age renders how long ago t was, as kubectl's AGE column does ("5m",
// "2d3h"), or "<unknown>" for a zero time.
func (c Convertors) age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(c.now().Sub(t.Time))
}

// microAge is age for the microsecond timestamps of events.
func (c Convertors) microAge(t metav1.MicroTime) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(c.now().Sub(t.Time))
}

// orNone stands "<none>" in for an empty cell, as upstream does for the
// optional fields it prints.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// containerCells lays the containers of a template out on one line: their
// names, and their images.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	i := make([]string, len(containers))
	for k, c := range containers {
		n[k], i[k] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(i, ",")
}

// listWithMore joins the first max items of a list of count and says how
// many more there are ("a,b,c + 2 more..."); an empty list is "<unset>".
func listWithMore(list []string, count, max int) string {
	joined := strings.Join(list, ",")
	if count > max {
		return fmt.Sprintf("%s + %d more...", joined, count-max)
	}
	if joined == "" {
		return "<unset>"
	}
	return joined
}

// boolPointer renders an optional bool as upstream's printBoolPtr does.
func boolPointer(b *bool) string {
	switch {
	case b == nil:
		return "<unset>"
	case *b:
		return "True"
	default:
		return "False"
	}
}

// replicas reads an optional replica count; kube-apiserver defaults it to 1
// before anything is stored, so nil means 1 there too.
func replicas(r *int32) int64 {
	if r == nil {
		return 1
	}
	return int64(*r)
}
