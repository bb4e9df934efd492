package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary is the report's last line: "6 passed, 1 failed".
func (r Report) Summary() string {
	passed, failed := r.Counts()
	return fmt.Sprintf("%d passed, %d failed", passed, failed)
}

// WriteTable prints the report for a person: one row per check, then the
// total time, then the summary as the very last line.
func (r Report) WriteTable(w io.Writer) error {
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tTIME\tREASON")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Name, res.Status, formatDuration(res.Duration), res.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var out strings.Builder
	fmt.Fprintf(&out, "taskflow verify %s\n\n", r.URL)
	for _, line := range strings.Split(strings.TrimSuffix(table.String(), "\n"), "\n") {
		// A row without a reason would end in the padding of its time.
		out.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	fmt.Fprintf(&out, "\nfinished in %s\n%s\n", formatDuration(r.Duration), r.Summary())
	_, err := io.WriteString(w, out.String())
	return err
}

// formatDuration rounds to what a reader can use: 0.1 ms below 10 ms,
// whole milliseconds above; "-" for a check that was not run.
func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// jsonReport is the --json document.
type jsonReport struct {
	URL        string       `json:"url"`
	OK         bool         `json:"ok"`
	Passed     int          `json:"passed"`
	Failed     int          `json:"failed"`
	Summary    string       `json:"summary"`
	DurationMS float64      `json:"duration_ms"`
	Checks     []jsonResult `json:"checks"`
}

type jsonResult struct {
	Name       string  `json:"name"`
	Result     Status  `json:"result"`
	DurationMS float64 `json:"duration_ms"`
	Reason     string  `json:"reason,omitempty"`
}

// WriteJSON prints the report as one JSON document.
func (r Report) WriteJSON(w io.Writer) error {
	passed, failed := r.Counts()
	doc := jsonReport{URL: r.URL, OK: r.OK(), Passed: passed, Failed: failed, Summary: r.Summary(),
		DurationMS: milliseconds(r.Duration), Checks: []jsonResult{}}
	for _, res := range r.Results {
		doc.Checks = append(doc.Checks, jsonResult{Name: res.Name, Result: res.Status,
			DurationMS: milliseconds(res.Duration), Reason: res.Reason})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func milliseconds(d time.Duration) float64 {
	return float64(d.Round(10*time.Microsecond).Microseconds()) / 1000
}
