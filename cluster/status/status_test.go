package status

import (
	"bytes"
	"testing"
)

func TestPlainLinesWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, false)
	p.Start("Ensuring node image")
	p.Start("Preparing nodes") // ends the first step as successful
	p.End(false)
	p.End(true) // no step: nothing printed
	want := " • Ensuring node image ...\n ✓ Ensuring node image\n • Preparing nodes ...\n ✗ Preparing nodes\n"
	if buf.String() != want {
		t.Fatalf("got %q\nwant %q", buf.String(), want)
	}
}

func TestDiscardPrintsNothing(t *testing.T) {
	p := Discard()
	p.Start("x")
	p.End(true)
	var nilPrinter *Printer
	nilPrinter.Start("y") // a nil printer is as quiet as Discard
	nilPrinter.End(false)
}
