package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// inCI reports whether the tests run in CI, where every tool they need must
// be present: a skipped end-to-end test there would hide a broken setup.
func inCI() bool { return os.Getenv("CI") == "true" }

// requireTool skips the test when a tool it needs is missing (why says
// which, and how to get it), and fails it instead in CI.
func requireTool(t testing.TB, present bool, why string) {
	t.Helper()
	if present {
		return
	}
	if inCI() {
		t.Fatalf("%s: required when CI=true", why)
	}
	t.Skipf("%s: skipping (CI installs it)", why)
}

func fileExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir()
}

// accessEntry is one line of the server's access log.
type accessEntry struct {
	Msg    string `json:"msg"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
}

// accessLog returns the requests the server logged, in order, so a test
// can tell which requests a browser really sent.
func accessLog(t testing.TB, logs string) []accessEntry {
	t.Helper()
	var entries []accessEntry
	scanner := bufio.NewScanner(strings.NewReader(logs))
	scanner.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for scanner.Scan() {
		var e accessEntry
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
			t.Fatalf("log line is not JSON (%v): %s", err, scanner.Text())
		}
		if e.Msg == "request" {
			entries = append(entries, e)
		}
	}
	return entries
}

// countRequests counts the logged requests with this method and path.
func countRequests(entries []accessEntry, method, path string) int {
	n := 0
	for _, e := range entries {
		if e.Method == method && e.Path == path {
			n++
		}
	}
	return n
}
