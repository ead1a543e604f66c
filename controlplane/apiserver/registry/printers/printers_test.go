package printers

import (
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

// testNow is the clock every test's ages are measured against.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(testNow.Add(-d)) }

func agoPtr(d time.Duration) *metav1.Time {
	t := ago(d)
	return &t
}

func ptr[T any](v T) *T { return &v }

func testConvertor(t *testing.T, gvr schema.GroupVersionResource) *registry.TableConvertor {
	t.Helper()
	conv := NewConvertors(func() time.Time { return testNow }).For(gvr)
	if conv == nil {
		t.Fatalf("no convertor for %s", gvr)
	}
	return conv
}

func cellsOf(t *testing.T, gvr schema.GroupVersionResource, obj runtime.Object) []any {
	t.Helper()
	conv := testConvertor(t, gvr)
	cells, err := conv.Cells(obj)
	if err != nil {
		t.Fatalf("cells of %s: %v", gvr, err)
	}
	if len(cells) != len(conv.Columns) {
		t.Fatalf("%s: %d cells for %d columns: %v", gvr, len(cells), len(conv.Columns), cells)
	}
	return cells
}

// wantCells compares the cells of obj with want, column by column.
func wantCells(t *testing.T, gvr schema.GroupVersionResource, obj runtime.Object, want []any) {
	t.Helper()
	got := cellsOf(t, gvr, obj)
	if !reflect.DeepEqual(got, want) {
		cols := testConvertor(t, gvr).Columns
		for i := range got {
			if i < len(want) && !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("%s column %q: got %#v, want %#v", gvr.Resource, cols[i].Name, got[i], want[i])
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: got %d cells %#v, want %d %#v", gvr.Resource, len(got), got, len(want), want)
		}
	}
}

// ownNameColumn are the resources whose upstream table places the name
// elsewhere than first (events) or decorates it (storage classes).
var ownNameColumn = map[string]bool{"events": true, "storageclasses": true}

// defaultTable are the served resources upstream prints as NAME and
// CREATED AT only.
var defaultTable = map[string]bool{
	"/v1, Resource=bindings":                                      true,
	"/v1, Resource=limitranges":                                   true,
	"rbac.authorization.k8s.io/v1, Resource=clusterroles":         true,
	"rbac.authorization.k8s.io/v1, Resource=roles":                true,
	"authentication.k8s.io/v1, Resource=selfsubjectreviews":       true,
	"authentication.k8s.io/v1, Resource=tokenreviews":             true,
	"authorization.k8s.io/v1, Resource=localsubjectaccessreviews": true,
	"authorization.k8s.io/v1, Resource=selfsubjectaccessreviews":  true,
	"authorization.k8s.io/v1, Resource=selfsubjectrulesreviews":   true,
	"authorization.k8s.io/v1, Resource=subjectaccessreviews":      true,
}

func TestEveryServedResourceHasUpstreamsColumnsOrTheDefaultTable(t *testing.T) {
	served := map[schema.GroupVersionResource]bool{}
	for _, r := range registry.Resources() {
		gvr := r.GroupVersionResource()
		served[gvr] = true
		conv := For(gvr)
		if defaultTable[gvr.String()] {
			if conv != nil {
				t.Errorf("%s: upstream prints the default table, got columns %v", gvr, columnNames(conv.Columns))
			}
			continue
		}
		if conv == nil {
			t.Errorf("%s: no convertor", gvr)
			continue
		}
		// The server adds the name, except to the tables that place or
		// decorate it themselves, as upstream's.
		for _, col := range conv.Columns {
			if (col.Name == "Name" || col.Format == "name") && !ownNameColumn[gvr.Resource] {
				t.Errorf("%s: convertor has its own name column %+v", gvr, col)
			}
			if col.Name == "Name" && col.Format != "name" {
				t.Errorf("%s: a Name column without the name format would come twice: %+v", gvr, col)
			}
		}
		// An empty object must render, one cell per column.
		cells, err := conv.Cells(r.New())
		if err != nil {
			t.Errorf("%s: cells of an empty object: %v", gvr, err)
		} else if len(cells) != len(conv.Columns) {
			t.Errorf("%s: %d cells for %d columns", gvr, len(cells), len(conv.Columns))
		}
	}
	for gvr := range builders {
		if !served[gvr] {
			t.Errorf("convertor for %s, which is not served", gvr)
		}
	}
}

func TestCellsOfTheWrongTypeAreAnError(t *testing.T) {
	conv := For(registry.CoreV1.WithResource("pods"))
	if _, err := conv.Cells(&metav1.Status{}); err == nil {
		t.Fatal("pod cells of a Status: no error")
	}
}

// columnNames lists columns as kubectl heads them, "(wide)" marking those
// shown only with -o wide.
func columnNames(cols []metav1.TableColumnDefinition) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = strings.ToUpper(c.Name)
		if c.Priority == 1 {
			names[i] += " (wide)"
		} else if c.Priority != 0 {
			names[i] += " (priority?)"
		}
	}
	return names
}

func TestColumnsAreUpstreams(t *testing.T) {
	for _, tc := range []struct {
		gvr  schema.GroupVersionResource
		want string
	}{
		{registry.CoreV1.WithResource("pods"), "READY|STATUS|RESTARTS|AGE|IP (wide)|NODE (wide)|NOMINATED NODE (wide)|READINESS GATES (wide)"},
		{registry.CoreV1.WithResource("nodes"), "STATUS|ROLES|AGE|VERSION|INTERNAL-IP (wide)|EXTERNAL-IP (wide)|OS-IMAGE (wide)|KERNEL-VERSION (wide)|CONTAINER-RUNTIME (wide)"},
		{registry.CoreV1.WithResource("services"), "TYPE|CLUSTER-IP|EXTERNAL-IP|PORT(S)|AGE|SELECTOR (wide)"},
		{registry.CoreV1.WithResource("endpoints"), "ENDPOINTS|AGE"},
		{registry.CoreV1.WithResource("events"), "LAST SEEN|TYPE|REASON|OBJECT|SUBOBJECT (wide)|SOURCE (wide)|MESSAGE|FIRST SEEN (wide)|COUNT (wide)|NAME (wide)"},
		{registry.EventsV1.WithResource("events"), "LAST SEEN|TYPE|REASON|OBJECT|SUBOBJECT (wide)|SOURCE (wide)|MESSAGE|FIRST SEEN (wide)|COUNT (wide)|NAME (wide)"},
		{registry.CoreV1.WithResource("namespaces"), "STATUS|AGE"},
		{registry.CoreV1.WithResource("configmaps"), "DATA|AGE"},
		{registry.CoreV1.WithResource("secrets"), "TYPE|DATA|AGE"},
		{registry.CoreV1.WithResource("serviceaccounts"), "SECRETS|AGE"},
		{registry.CoreV1.WithResource("replicationcontrollers"), "DESIRED|CURRENT|READY|AGE|CONTAINERS (wide)|IMAGES (wide)|SELECTOR (wide)"},
		{registry.CoreV1.WithResource("resourcequotas"), "REQUEST|LIMIT|AGE"},
		{registry.CoreV1.WithResource("persistentvolumes"), "CAPACITY|ACCESS MODES|RECLAIM POLICY|STATUS|CLAIM|STORAGECLASS|VOLUMEATTRIBUTESCLASS|REASON|AGE|VOLUMEMODE (wide)"},
		{registry.CoreV1.WithResource("persistentvolumeclaims"), "STATUS|VOLUME|CAPACITY|ACCESS MODES|STORAGECLASS|VOLUMEATTRIBUTESCLASS|AGE|VOLUMEMODE (wide)"},
		{registry.AppsV1.WithResource("deployments"), "READY|UP-TO-DATE|AVAILABLE|AGE|CONTAINERS (wide)|IMAGES (wide)|SELECTOR (wide)"},
		{registry.AppsV1.WithResource("replicasets"), "DESIRED|CURRENT|READY|AGE|CONTAINERS (wide)|IMAGES (wide)|SELECTOR (wide)"},
		{registry.AppsV1.WithResource("statefulsets"), "READY|AGE|CONTAINERS (wide)|IMAGES (wide)"},
		{registry.AppsV1.WithResource("daemonsets"), "DESIRED|CURRENT|READY|UP-TO-DATE|AVAILABLE|NODE SELECTOR|AGE|CONTAINERS (wide)|IMAGES (wide)|SELECTOR (wide)"},
		{registry.AppsV1.WithResource("controllerrevisions"), "CONTROLLER|REVISION|AGE"},
		{registry.BatchV1.WithResource("jobs"), "STATUS|COMPLETIONS|DURATION|AGE|CONTAINERS (wide)|IMAGES (wide)|SELECTOR (wide)"},
		{registry.BatchV1.WithResource("cronjobs"), "SCHEDULE|TIMEZONE|SUSPEND|ACTIVE|LAST SCHEDULE|AGE|CONTAINERS (wide)|IMAGES (wide)|SELECTOR (wide)"},
		{registry.CoordinationV1.WithResource("leases"), "HOLDER|AGE"},
		{registry.DiscoveryV1.WithResource("endpointslices"), "ADDRESSTYPE|PORTS|ENDPOINTS|AGE"},
		{registry.RBACV1.WithResource("rolebindings"), "ROLE|AGE|USERS (wide)|GROUPS (wide)|SERVICEACCOUNTS (wide)"},
		{registry.RBACV1.WithResource("clusterrolebindings"), "ROLE|AGE|USERS (wide)|GROUPS (wide)|SERVICEACCOUNTS (wide)"},
		{registry.PolicyV1.WithResource("poddisruptionbudgets"), "MIN AVAILABLE|MAX UNAVAILABLE|ALLOWED DISRUPTIONS|AGE"},
		{registry.SchedulingV1.WithResource("priorityclasses"), "VALUE|GLOBAL-DEFAULT|AGE|PREEMPTIONPOLICY"},
		{registry.StorageV1.WithResource("storageclasses"), "NAME|PROVISIONER|RECLAIMPOLICY|VOLUMEBINDINGMODE|ALLOWVOLUMEEXPANSION|AGE"},
	} {
		t.Run(tc.gvr.String(), func(t *testing.T) {
			conv := For(tc.gvr)
			if conv == nil {
				t.Fatal("no convertor")
			}
			if got := strings.Join(columnNames(conv.Columns), "|"); got != tc.want {
				t.Errorf("columns\n got %s\nwant %s", got, tc.want)
			}
			for _, col := range conv.Columns {
				if col.Type == "" || col.Description == "" {
					t.Errorf("column %q lacks a type or a description: %+v", col.Name, col)
				}
			}
		})
	}
}

func TestAgesAreUpstreamsHumanDurations(t *testing.T) {
	c := NewConvertors(func() time.Time { return testNow })
	for _, tc := range []struct {
		created metav1.Time
		want    string
	}{
		{metav1.Time{}, "<unknown>"},
		{ago(0), "0s"},
		{ago(78 * time.Second), "78s"},
		{ago(5*time.Minute + 30*time.Second), "5m30s"},
		{ago(3*time.Hour + 20*time.Minute), "3h20m"},
		{ago(50 * time.Hour), "2d2h"},
		{ago(400 * 24 * time.Hour), "400d"},
		{metav1.NewTime(testNow.Add(time.Hour)), "<invalid>"},
	} {
		if got := c.age(tc.created); got != tc.want {
			t.Errorf("age of %v before now: got %q, want %q", testNow.Sub(tc.created.Time), got, tc.want)
		}
	}
}

func TestZeroConvertorsReadTheWallClock(t *testing.T) {
	var c Convertors
	conv := c.For(registry.CoreV1.WithResource("namespaces"))
	cells, err := conv.Cells(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(time.Now().Add(-time.Hour))}})
	if err != nil {
		t.Fatal(err)
	}
	if cells[1] != "60m" {
		t.Errorf("age of an hour-old namespace: %v", cells[1])
	}
}
