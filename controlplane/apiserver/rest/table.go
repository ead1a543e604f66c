package rest

import (
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

// wantsTable reports whether the client asked for a server-side table
// (kubectl get sends "application/json;as=Table;v=v1;g=meta.k8s.io").
func wantsTable(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "application/json" {
			continue
		}
		if params["as"] == "Table" && params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
			return true
		}
		if params["as"] == "" {
			return false // the client prefers plain JSON
		}
	}
	return false
}

// respond writes obj as JSON, or as a Table or its metadata only when the
// client asked for that.
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, code int, obj runtime.Object) {
	if wantsPartialMetadata(r) {
		partial, err := toPartialMetadata(obj)
		if err != nil {
			WriteError(w, err)
			return
		}
		writeJSON(w, code, partial)
		return
	}
	if wantsTable(r) {
		table, err := h.toTable(obj, r.URL.Query().Get("includeObject"))
		if err != nil {
			WriteError(w, err)
			return
		}
		writeJSON(w, code, table)
		return
	}
	if prefersProtobuf(r) {
		writeProtobuf(w, code, obj)
		return
	}
	writeJSON(w, code, obj)
}

var defaultColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
	{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
}

// toTable renders an object or a list as a Table, with the resource's own
// columns or upstream's default ones (Name, Created At).
func (h *Handler) toTable(obj runtime.Object, includeObject string) (*metav1.Table, error) {
	table := &metav1.Table{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "Table"}}
	conv := h.Resource.Strategy.Table
	table.ColumnDefinitions = defaultColumns
	if conv != nil {
		table.ColumnDefinitions = conv.Columns
		if !ownsNameColumn(conv) {
			table.ColumnDefinitions = append([]metav1.TableColumnDefinition{defaultColumns[0]}, conv.Columns...)
		}
	}
	var items []runtime.Object
	if meta.IsListType(obj) {
		var err error
		if items, err = meta.ExtractList(obj); err != nil {
			return nil, err
		}
		if l, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion = l.GetResourceVersion()
			table.Continue = l.GetContinue()
			table.RemainingItemCount = l.GetRemainingItemCount()
		}
	} else {
		items = []runtime.Object{obj}
		if m, err := meta.Accessor(obj); err == nil {
			table.ResourceVersion = m.GetResourceVersion()
		}
	}
	table.Rows = make([]metav1.TableRow, 0, len(items))
	for _, item := range items {
		row, err := h.tableRow(item, conv, includeObject)
		if err != nil {
			return nil, err
		}
		table.Rows = append(table.Rows, row)
	}
	return table, nil
}

func (h *Handler) tableRow(item runtime.Object, conv *registry.TableConvertor, includeObject string) (metav1.TableRow, error) {
	m, err := meta.Accessor(item)
	if err != nil {
		return metav1.TableRow{}, err
	}
	row := metav1.TableRow{}
	if conv == nil {
		row.Cells = []any{m.GetName(), m.GetCreationTimestamp().Time.UTC().Format(time.RFC3339)}
	} else {
		cells, err := conv.Cells(item)
		if err != nil {
			return row, fmt.Errorf("table row of %s: %w", m.GetName(), err)
		}
		row.Cells = cells
		if !ownsNameColumn(conv) {
			row.Cells = append([]any{m.GetName()}, cells...)
		}
	}
	switch includeObject {
	case "None":
	case "Object":
		h.setKind(item)
		row.Object = runtime.RawExtension{Object: item}
	default: // Metadata, upstream's default
		partial := &metav1.PartialObjectMetadata{
			TypeMeta:   metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadata"},
			ObjectMeta: *metaOf(item),
		}
		row.Object = runtime.RawExtension{Object: partial}
	}
	return row, nil
}

// ownsNameColumn reports a convertor that places (or decorates) the name
// itself, as upstream's events table (name last, wide only) and storage
// classes ("standard (default)") do. Otherwise the server puts the name
// first.
func ownsNameColumn(conv *registry.TableConvertor) bool {
	for _, c := range conv.Columns {
		if c.Format == "name" {
			return true
		}
	}
	return false
}

// Age renders a timestamp as kubectl's AGE column does ("5m", "2d3h").
func Age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}
