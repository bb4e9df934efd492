package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A target that answers, but slowly, is stopped by the run's deadline: the
// run ends on time and says which checks the deadline cut short.
func TestRunStopsAtItsDeadline(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok","database":"ok"}`))
	}))
	t.Cleanup(slow.Close)

	start := time.Now()
	report, err := Run(context.Background(), Config{
		URL: slow.URL, Origin: "https://app.example.com", JWTSecret: Secret{Value: "secret", Source: "test"},
		Timeout: time.Second, Deadline: 1500 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("Run took %s with a deadline of 1.5s", elapsed)
	}
	if got := report.Results[0]; got.Name != "health" || got.Status != Pass {
		t.Fatalf("health = %+v, want PASS", got)
	}
	last := report.Results[len(report.Results)-1]
	if last.Status != Fail || !strings.Contains(last.Reason, "deadline of 1.5s was reached") {
		t.Fatalf("last check = %+v, want FAIL for the deadline", last)
	}
	for _, res := range report.Results {
		if strings.Contains(res.Reason, "target unreachable") {
			t.Fatalf("%s = %q: a slow target is not an unreachable one", res.Name, res.Reason)
		}
	}
}

func TestReportOutput(t *testing.T) {
	report := Report{URL: "https://api.example.com", Duration: 42 * time.Millisecond, Results: []Result{
		{Name: "health", Status: Pass, Duration: 3 * time.Millisecond},
		{Name: "cors-allowed", Status: Fail, Duration: 12 * time.Millisecond, Reason: "preflight refused"},
		{Name: "cors-denied", Status: Fail, Reason: "target unreachable"},
	}}

	var table bytes.Buffer
	if err := report.WriteTable(&table); err != nil {
		t.Fatalf("WriteTable: %v", err)
	}
	lines := strings.Split(strings.TrimRight(table.String(), "\n"), "\n")
	if got, want := lines[len(lines)-1], "1 passed, 2 failed"; got != want {
		t.Fatalf("last line = %q, want %q\n%s", got, want, table.String())
	}
	for _, want := range []string{"\nhealth        PASS    3ms\n", "\ncors-allowed  FAIL    12ms  preflight refused\n", "\ncors-denied   FAIL    -     target unreachable\n"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}

	var doc map[string]any
	var out bytes.Buffer
	if err := report.WriteJSON(&out); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("JSON does not parse: %v\n%s", err, out.String())
	}
	if doc["ok"] != false || doc["passed"] != 1.0 || doc["failed"] != 2.0 || doc["summary"] != "1 passed, 2 failed" {
		t.Fatalf("JSON = %s", out.String())
	}
	checks := doc["checks"].([]any)
	if first := checks[1].(map[string]any); first["name"] != "cors-allowed" || first["result"] != "FAIL" ||
		first["duration_ms"] != 12.0 || first["reason"] != "preflight refused" {
		t.Fatalf("checks[1] = %v", first)
	}
}
