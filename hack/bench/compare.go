package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
)

// readReport reads a report written by an earlier run.
func readReport(path string) (Report, error) {
	var rep Report
	data, err := os.ReadFile(path)
	if err != nil {
		return rep, fmt.Errorf("read report: %w", err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return rep, fmt.Errorf("read report %s: %w", path, err)
	}
	return rep, nil
}

// compare prints, for every figure the two reports share, both medians,
// their ranges and the change. A change inside the overlap of the two
// ranges is marked "~": on these noisy machines it is no change at all.
func compare(w io.Writer, old, cur Report) {
	byName := map[string]Figure{}
	for _, f := range old.Figures {
		byName[f.Name] = f
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "FIGURE\tOLD (%s)\tNEW (%s)\tCHANGE\n", old.Date.Format("2006-01-02"), cur.Date.Format("2006-01-02"))
	for _, f := range cur.Figures {
		o, ok := byName[f.Name]
		if !ok {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s [%s, %s]\t%s [%s, %s]\t%s\n", f.Name,
			fmtVal(o.Median, o.Unit), fmtVal(o.Min, o.Unit), fmtVal(o.Max, o.Unit),
			fmtVal(f.Median, f.Unit), fmtVal(f.Min, f.Unit), fmtVal(f.Max, f.Unit), change(o, f))
	}
	tw.Flush()
}

func change(old, cur Figure) string {
	if old.Median == 0 {
		return "-"
	}
	pct := (cur.Median - old.Median) / old.Median * 100
	if cur.Min <= old.Max && old.Min <= cur.Max {
		return fmt.Sprintf("~ (%+.1f%%, ranges overlap)", pct)
	}
	return fmt.Sprintf("%+.1f%%", pct)
}
