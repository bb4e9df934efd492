// Package reliability holds TaskFlow's reliability tests: the database
// going away and hanging, a redeploy under load, two replicas sharing one
// database and one Redis, a bounded soak, hostile input (table tests and
// fuzz targets), slow clients and the per-user limits. Each test states the
// figures it measured with t.Logf, so `go test -v` is also the report.
//
// The tests that need PostgreSQL use TEST_DATABASE_URL and skip without it,
// except under CI=true where they fail: in CI nothing here may be skipped.
// RELIABILITY_SOAK sets the soak's length (default 20s).
package reliability

import (
	"os"
	"testing"

	"taskflow/app/apptest"
)

// TestMain removes the taskflow binary the process tests build (with
// apptest.Binary) to run the real program: the redeploy, replica, soak
// and hostile-input tests.
func TestMain(m *testing.M) { apptest.RunMain(m) }

// skipInShort skips the slow tests in `go test -short`; CI runs them all.
func skipInShort(t testing.TB) {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("slow reliability test: skipped with -short")
	}
}
