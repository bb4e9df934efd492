package verify_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"taskflow/app/apptest"
	"taskflow/app/apptest/proc"
	"taskflow/verify"
)

// These tests build the real taskflow binary, start it as a server like a
// deployment, and run `taskflow verify` against it as a subprocess.

const (
	jwtSecret        = "verify-e2e-jwt-secret-0123456789abcdef0123"
	betterAuthSecret = "verify-e2e-better-auth-secret-0123456789ab"
	frontendOrigin   = "https://app.example.com"
)

func TestMain(m *testing.M) { apptest.RunMain(m) }

func TestVerifyAgainstProductionServer(t *testing.T) {
	db := apptest.Postgres(t)
	env := productionEnv(db.URL)
	// Metrics served to their token: verify sees 401s (the other tests'
	// servers have none, and verify sees 404s).
	env["METRICS_TOKEN"] = "verify-e2e-metrics-token-0123456789abcdef"
	srv := startServer(t, env)

	t.Run("every check passes", func(t *testing.T) {
		run := runVerify(t, map[string]string{"TASKFLOW_VERIFY_JWT_SECRET": jwtSecret},
			"--url", srv.url, "--origin", frontendOrigin, "--better-auth-secret", betterAuthSecret)
		t.Logf("verify against the local production server took %s\n%s", run.elapsed, run.stdout)
		run.requireExit(t, 0)
		for _, name := range verify.Checks() {
			run.requireRow(t, name, verify.Pass, "")
		}
		run.requireLastLine(t, fmt.Sprintf("%d passed, 0 failed", len(verify.Checks())))
		requireNoTestData(t, db.URL)
	})

	t.Run("json says every check passed", func(t *testing.T) {
		run := runVerify(t, nil, "--url", srv.url, "--origin", frontendOrigin, "--jwt-secret", jwtSecret, "--json")
		run.requireExit(t, 0)
		var doc struct {
			OK     bool `json:"ok"`
			Passed int  `json:"passed"`
			Failed int  `json:"failed"`
			Checks []struct {
				Name   string  `json:"name"`
				Result string  `json:"result"`
				MS     float64 `json:"duration_ms"`
			} `json:"checks"`
		}
		if err := json.Unmarshal([]byte(run.stdout), &doc); err != nil {
			t.Fatalf("--json output does not parse: %v\n%s", err, run.stdout)
		}
		if !doc.OK || doc.Passed != len(verify.Checks()) || doc.Failed != 0 || len(doc.Checks) != len(verify.Checks()) {
			t.Fatalf("got ok=%t passed=%d failed=%d checks=%d, want all %d passed\n%s",
				doc.OK, doc.Passed, doc.Failed, len(doc.Checks), len(verify.Checks()), run.stdout)
		}
		for i, c := range doc.Checks {
			if c.Name != verify.Checks()[i] || c.Result != "PASS" || c.MS <= 0 {
				t.Errorf("check %d = %+v, want %s PASS with a duration", i, c, verify.Checks()[i])
			}
		}
		requireNoTestData(t, db.URL)
	})

	t.Run("only the Better Auth secret", func(t *testing.T) {
		run := runVerify(t, map[string]string{"BETTER_AUTH_SECRET": betterAuthSecret}, "--url", srv.url, "--origin", frontendOrigin)
		run.requireExit(t, 0)
		run.requireRow(t, "isolation", verify.Pass, "")
		requireNoTestData(t, db.URL)
	})

	t.Run("a wrong JWT secret fails isolation only", func(t *testing.T) {
		run := runVerify(t, nil, "--url", srv.url, "--origin", frontendOrigin, "--jwt-secret", "not-the-deployment-secret-0123456789abc")
		run.requireExit(t, 1)
		run.requireRow(t, "isolation", verify.Fail, "401")
		run.requireRow(t, "isolation", verify.Fail, "--jwt-secret")
		for _, name := range except(verify.Checks(), "isolation") {
			run.requireRow(t, name, verify.Pass, "")
		}
		run.requireLastLine(t, fmt.Sprintf("%d passed, 1 failed", len(verify.Checks())-1))
		if strings.Contains(run.stdout, "not-the-deployment-secret") {
			t.Fatalf("the output shows the secret:\n%s", run.stdout)
		}
	})

	t.Run("no secret fails isolation with the reason", func(t *testing.T) {
		run := runVerify(t, nil, "--url", srv.url, "--origin", frontendOrigin)
		run.requireExit(t, 1)
		run.requireRow(t, "isolation", verify.Fail, "no secret to mint test users' tokens")
		run.requireRow(t, "auth-required", verify.Pass, "")
	})
}

func TestVerifyFailsCORSForAnUnlistedOrigin(t *testing.T) {
	env := productionEnv(apptest.Postgres(t).URL)
	env["CORS_ORIGINS"] = "https://other.example.com"
	srv := startServer(t, env)

	run := runVerify(t, nil, "--url", srv.url, "--origin", frontendOrigin, "--jwt-secret", jwtSecret)
	run.requireExit(t, 1)
	run.requireRow(t, "cors-allowed", verify.Fail, "is it listed in the server's CORS_ORIGINS")
	for _, name := range except(verify.Checks(), "cors-allowed") {
		run.requireRow(t, name, verify.Pass, "")
	}
	run.requireLastLine(t, fmt.Sprintf("%d passed, 1 failed", len(verify.Checks())-1))
}

// A deployment left in development mode serves its docs and its metrics:
// verify fails the docs and metrics checks, saying so, and the other
// checks still pass.
func TestVerifyFailsDocsOutsideProduction(t *testing.T) {
	env := productionEnv(apptest.SQLite(t).URL)
	env["ENVIRONMENT"] = "development"
	srv := startServer(t, env)

	run := runVerify(t, nil, "--url", srv.url, "--origin", frontendOrigin, "--jwt-secret", jwtSecret)
	run.requireExit(t, 1)
	run.requireRow(t, "docs-hidden", verify.Fail, `environment "development", not "production"`)
	run.requireRow(t, "docs-hidden", verify.Fail, "docs served at /docs (200)")
	run.requireRow(t, "metrics-protected", verify.Fail, `GET /metrics without a token answered 200: open, as outside production`)
	for _, name := range except(verify.Checks(), "docs-hidden", "metrics-protected") {
		run.requireRow(t, name, verify.Pass, "")
	}
}

func TestVerifyFailsFastOnADeadURL(t *testing.T) {
	url := "http://" + closedAddr(t)
	run := runVerify(t, nil, "--url", url, "--origin", frontendOrigin, "--jwt-secret", jwtSecret)
	run.requireExit(t, 1)
	run.requireRow(t, "health", verify.Fail, "cannot connect to")
	run.requireRow(t, "health", verify.Fail, "connection refused")
	for _, name := range except(verify.Checks(), "health") {
		run.requireRow(t, name, verify.Fail, "target unreachable")
	}
	run.requireLastLine(t, fmt.Sprintf("0 passed, %d failed", len(verify.Checks())))
	if run.elapsed > 10*time.Second {
		t.Fatalf("verify of a dead URL took %s, want under 10s", run.elapsed)
	}
}

// A target that accepts connections and never answers costs one timeout,
// not one per check.
func TestVerifyFailsFastOnAHungTarget(t *testing.T) {
	addr := hungServer(t)
	run := runVerify(t, nil, "--url", "http://"+addr, "--origin", frontendOrigin, "--jwt-secret", jwtSecret, "--timeout", "1s")
	run.requireExit(t, 1)
	run.requireRow(t, "health", verify.Fail, "no answer from "+addr+" within 1s")
	for _, name := range except(verify.Checks(), "health") {
		run.requireRow(t, name, verify.Fail, "target unreachable")
	}
	if run.elapsed > 5*time.Second {
		t.Fatalf("verify of a hung target with --timeout 1s took %s, want under 5s", run.elapsed)
	}
}

func TestVerifyRejectsBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "--url is required"},
		{[]string{"--url", "ftp://example.com"}, "--url must be an http:// or https:// URL"},
		{[]string{"--url", "https://api.example.com", "--origin", "https://app.example.com/path"}, "--origin must be an origin"},
		{[]string{"--url", "https://api.example.com", "--timeout", "0s"}, "--timeout must be more than 0"},
	}
	for _, c := range cases {
		run := runVerify(t, nil, c.args...)
		run.requireExit(t, 1)
		if !strings.Contains(run.stderr, c.want) {
			t.Errorf("taskflow verify %s: stderr = %q, want it to contain %q", strings.Join(c.args, " "), run.stderr, c.want)
		}
	}
}

// server is a running taskflow binary.
type server struct {
	url string
}

// productionEnv is a production configuration on loopback: real secrets'
// lengths, an https frontend origin (CORS is headers only, so https is fine
// without TLS).
func productionEnv(dbURL string) map[string]string {
	return map[string]string{
		"ENVIRONMENT":        "production",
		"DATABASE_URL":       dbURL,
		"JWT_SECRET_KEY":     jwtSecret,
		"BETTER_AUTH_SECRET": betterAuthSecret,
		"CORS_ORIGINS":       frontendOrigin,
		"API_HOST":           "127.0.0.1",
		"LOG_LEVEL":          "warn",
	}
}

// startServer runs the binary with env (and a free PORT) until the test
// ends, and waits until it answers /health/live.
func startServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	port := apptest.FreePort(t)
	env["PORT"] = strconv.Itoa(port)
	p := apptest.StartProcess(t, proc.Options{Env: environ(env), Args: []string{"serve"}})
	t.Cleanup(func() { p.Stop(10 * time.Second) })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	p.WaitStatus(t, url+"/health/live", http.StatusOK, 20*time.Second)
	return &server{url: url}
}

// verifyRun is one finished `taskflow verify`.
type verifyRun struct {
	args           []string
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

// runVerify runs `taskflow verify args...` with only env in its environment.
func runVerify(t *testing.T, env map[string]string, args ...string) verifyRun {
	t.Helper()
	apptest.Binary(t) // built before the clock starts
	start := time.Now()
	p := apptest.StartProcess(t, proc.Options{Env: environ(env), Args: append([]string{"verify"}, args...)})
	code := p.WaitExit(t, 90*time.Second)
	return verifyRun{args: args, stdout: p.Stdout(), stderr: p.Stderr(), code: code, elapsed: time.Since(start)}
}

func (r verifyRun) requireExit(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("taskflow verify exited %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

// requireRow finds the table row of check and requires its result and, if
// reason is not empty, that its reason contains it.
func (r verifyRun) requireRow(t *testing.T, check string, result verify.Status, reason string) {
	t.Helper()
	row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(check) + `\s+(PASS|FAIL)\s+\S+\s*(.*)$`).FindStringSubmatch(r.stdout)
	if row == nil {
		t.Fatalf("no row for %s in the table:\n%s", check, r.stdout)
	}
	if row[1] != string(result) || !strings.Contains(row[2], reason) {
		t.Fatalf("row %s: %s %q, want %s with a reason containing %q\n%s", check, row[1], row[2], result, reason, r.stdout)
	}
}

func (r verifyRun) requireLastLine(t *testing.T, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if got := lines[len(lines)-1]; got != want {
		t.Fatalf("last line = %q, want %q\n%s", got, want, r.stdout)
	}
}

// requireNoTestData checks that verify deleted everything it created.
func requireNoTestData(t *testing.T, dbURL string) {
	t.Helper()
	db, err := gorm.Open(postgres.Open(dbURL), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("open the test database: %v", err)
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	}()
	for _, table := range []string{"tasks", "tags", "task_tags"} {
		var n int64
		if err := db.Table(table).Count(&n).Error; err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		if n != 0 {
			t.Errorf("%d row(s) left in %s after verify, want 0", n, table)
		}
	}
}

func environ(env map[string]string) []string {
	return append(proc.Environ(env), "PATH="+os.Getenv("PATH"))
}

func except(names []string, drop ...string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(drop, n) {
			out = append(out, n)
		}
	}
	return out
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", apptest.FreePort(t))
}

// hungServer accepts connections and never answers.
func hungServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}
