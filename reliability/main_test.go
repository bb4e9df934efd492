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
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// binaryDir holds the taskflow binary the process tests run, once one of
// them has built it; TestMain removes it.
var binaryDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binaryDir != "" {
		_ = os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// taskflowBinary builds the server once per test run and returns its path,
// so the redeploy, replica, soak and hostile-input tests run the real
// program.
func taskflowBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binaryDir, buildErr = os.MkdirTemp("", "taskflow-reliability-")
		if buildErr != nil {
			return
		}
		buildPath = filepath.Join(binaryDir, "taskflow")
		cmd := exec.Command("go", "build", "-o", buildPath, "taskflow")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build taskflow: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// skipInShort skips the slow tests in `go test -short`; CI runs them all.
func skipInShort(t testing.TB) {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("slow reliability test: skipped with -short")
	}
}
