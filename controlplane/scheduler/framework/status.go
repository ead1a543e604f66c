package framework

import "strings"

// Code is how a plugin judged a pod against a node.
type Code int

const (
	// Success: as far as the plugin can tell, the pod fits.
	Success Code = iota
	// Unschedulable: the pod does not fit now but could once some of the
	// node's pods are gone, so preemption might help.
	Unschedulable
	// UnschedulableAndUnresolvable: the pod does not fit whatever runs on
	// the node, so preemption cannot help.
	UnschedulableAndUnresolvable
)

// Status is a plugin's verdict, with upstream's reason strings. A nil
// Status is a success.
type Status struct {
	Code    Code
	Reasons []string
	// Plugin is the plugin that gave the verdict: a pod it rejected is
	// retried on the cluster events that concern that plugin.
	Plugin string
}

// NewStatus returns a Status with code and reasons.
func NewStatus(code Code, reasons ...string) *Status {
	return &Status{Code: code, Reasons: reasons}
}

// IsSuccess says whether the status lets the pod through.
func (s *Status) IsSuccess() bool { return s == nil || s.Code == Success }

// Message joins the reasons as upstream's Status.Message does.
func (s *Status) Message() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.Reasons, ", ")
}

// withPlugin returns a copy of s naming plugin, so that plugins can share
// their Status values.
func (s *Status) withPlugin(plugin string) *Status {
	c := *s
	c.Plugin = plugin
	return &c
}
