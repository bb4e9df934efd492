// Package apptest runs the real TaskFlow app for tests: on a fresh SQLite
// file always, and on a fresh PostgreSQL database when TEST_DATABASE_URL is
// set (in CI it must be). When TEST_DATABASE_URL is a transaction pooler,
// TEST_DIRECT_DATABASE_URL names the PostgreSQL server behind it, for what
// a pooler cannot carry (the change feed's LISTEN): the servers Start runs
// get it as DIRECT_DATABASE_URL. Helpers take testing.TB and clean up after
// themselves.
package apptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"taskflow/app"
	"taskflow/app/apptest/proc"
	"taskflow/config"
	"taskflow/database"
)

// Secrets the test configuration uses; tests mint tokens with them.
const (
	JWTSecret        = "test-jwt-secret-0123456789abcdef0123456789"
	BetterAuthSecret = "test-better-auth-secret-0123456789abcdef"
	Issuer           = "taskflow"
	AllowedOrigin    = "http://127.0.0.1:3000"
)

// Database is a fresh, empty database for one test.
type Database struct {
	Name string // "sqlite" or "postgres"
	URL  string
	// DirectURL is the same database on the server behind the pooler of
	// URL, from TEST_DIRECT_DATABASE_URL; empty when URL is direct.
	DirectURL string
}

// Each runs fn as a subtest once per database: SQLite, and PostgreSQL when
// TEST_DATABASE_URL is set. With CI=true a missing TEST_DATABASE_URL fails
// the test instead of skipping PostgreSQL.
func Each(t *testing.T, fn func(t *testing.T, db Database)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	if os.Getenv("TEST_DATABASE_URL") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL must be set in CI: the PostgreSQL tests may not be skipped")
		}
		t.Log("TEST_DATABASE_URL is not set: PostgreSQL runs skipped")
		return
	}
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite returns a database in a new file under the test's temp dir.
func SQLite(t testing.TB) Database {
	t.Helper()
	return Database{Name: "sqlite", URL: "sqlite://" + filepath.Join(t.TempDir(), "taskflow.db")}
}

// Postgres creates a new database on the server of TEST_DATABASE_URL and
// drops it when the test ends. It skips (fails under CI) without the URL.
// With TEST_DIRECT_DATABASE_URL set, DirectURL is that URL with the new
// database's name in it.
func Postgres(t testing.TB) Database {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL must be set in CI")
		}
		t.Skip("TEST_DATABASE_URL is not set")
	}
	name := "taskflow_test_" + randomHex(6)
	admin := openAdmin(t, base)
	if err := admin.Exec("CREATE DATABASE " + name).Error; err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		_ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error
		_ = database.Close(admin)
	})
	db := Database{Name: "postgres", URL: withDatabase(t, base, name)}
	if direct := os.Getenv("TEST_DIRECT_DATABASE_URL"); direct != "" {
		db.DirectURL = withDatabase(t, direct, name)
	}
	return db
}

func openAdmin(t testing.TB, dsn string) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("connect to TEST_DATABASE_URL: %v", err)
	}
	return db
}

func withDatabase(t testing.TB, dsn, name string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("not a database URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Env is the environment of a test server: valid, in the test environment,
// with fixed secrets. Tests change entries through Start's overrides.
func Env(dbURL string) map[string]string {
	return map[string]string{
		"ENVIRONMENT":        "test",
		"DATABASE_URL":       dbURL,
		"JWT_SECRET_KEY":     JWTSecret,
		"BETTER_AUTH_SECRET": BetterAuthSecret,
		"CORS_ORIGINS":       AllowedOrigin,
		"LOG_LEVEL":          "info",
	}
}

// EnvWith is Env(dbURL) with overrides applied: an empty value removes
// an entry.
func EnvWith(dbURL string, overrides map[string]string) map[string]string {
	env := Env(dbURL)
	for k, v := range overrides {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	return env
}

// EnvWith is EnvWith(db.URL, overrides) with DIRECT_DATABASE_URL set to
// db.DirectURL, when there is one and overrides do not name the variable.
func (db Database) EnvWith(overrides map[string]string) map[string]string {
	env := EnvWith(db.URL, overrides)
	if _, named := overrides["DIRECT_DATABASE_URL"]; db.DirectURL != "" && !named {
		env["DIRECT_DATABASE_URL"] = db.DirectURL
	}
	return env
}

// LoadConfig loads the configuration from env exactly as the server does.
func LoadConfig(t testing.TB, env map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	return cfg
}

// Server is the real app, listening on a loopback port.
type Server struct {
	URL    string
	DB     *gorm.DB
	Config config.Config
	App    *fiber.App
	logs   *LogBuffer
}

// Start opens db, migrates it (unless AUTO_MIGRATE=false) and serves the
// app on 127.0.0.1:0 until the test ends, through app.Open as the server
// binary does, logging into a buffer.
// overrides replace entries of Env (an empty value removes one).
func Start(t testing.TB, db Database, overrides map[string]string) *Server {
	t.Helper()
	return StartWithRedis(t, db, overrides, nil)
}

// StartWithRedis is Start with the rate limits' and the login throttle's
// counters kept in Redis, as replicas share them (nil: in memory).
func StartWithRedis(t testing.TB, db Database, overrides map[string]string, counters *redis.Client) *Server {
	t.Helper()
	var opts []app.Option
	if counters != nil {
		opts = append(opts, app.WithRedis(counters))
	}
	return StartWith(t, db, overrides, opts...)
}

// StartWith is Start with app.Open's options.
func StartWith(t testing.TB, db Database, overrides map[string]string, opts ...app.Option) *Server {
	t.Helper()
	cfg := LoadConfig(t, db.EnvWith(overrides))
	logs := &LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := app.Open(ctx, cfg, log, "test", opts...)
	if err != nil {
		t.Fatalf("open the app: %v", err)
	}
	t.Cleanup(func() {
		_ = srv.Close()
		if t.Failed() {
			logServerErrors(t, logs.String())
		}
	})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return &Server{URL: "http://" + srv.Addr().String(), DB: srv.DB(), Config: cfg, App: srv.App(), logs: logs}
}

// Logs returns everything the server logged so far.
func (s *Server) Logs() string { return s.logs.String() }

// Token mints an access token as this API issues them, for subject sub.
func Token(t testing.TB, sub string) string {
	t.Helper()
	return SignHS256(t, JWTSecret, jwt.MapClaims{
		"sub": sub, "iss": Issuer, "iat": time.Now().Unix(), "exp": time.Now().Add(15 * time.Minute).Unix(),
	})
}

// SignHS256 signs claims with secret.
func SignHS256(t testing.TB, secret string, claims jwt.MapClaims) string {
	t.Helper()
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return signed
}

// Response is a finished HTTP exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it is not JSON.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response body is not JSON (%v): %s", err, r.Body)
	}
}

// Map decodes the body as a JSON object.
func (r Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Request describes one call; Body is sent as JSON unless it is a string
// or []byte (sent as is).
type Request struct {
	Method  string
	Path    string
	Token   string
	Body    any
	Headers map[string]string
	// SkipContract leaves this exchange unchecked against the OpenAPI
	// document (see Contract): for traffic that is not the API's, such as
	// CORS preflights or calls to another server.
	SkipContract bool
	// OutsideSchema marks a request that departs from the document's
	// request schema on purpose although the server answers it with a
	// 2xx (a batch whose malformed commands are refused one by one, in
	// its 200): only the response is held to the document.
	OutsideSchema bool
}

var client = &http.Client{Timeout: 30 * time.Second}

// Do sends req to the server and reads the whole response.
func (s *Server) Do(t testing.TB, req Request) Response {
	t.Helper()
	return Do(t, s.URL, req)
}

// Do sends req to the server at baseURL and reads the whole response.
func Do(t testing.TB, baseURL string, req Request) Response {
	t.Helper()
	var body io.Reader
	var sent []byte
	contentType := ""
	switch b := req.Body.(type) {
	case nil:
	case string:
		sent, contentType = []byte(b), "application/json"
	case []byte:
		sent, contentType = b, "application/json"
	default:
		encoded, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode request body: %v", err)
		}
		sent, contentType = encoded, "application/json"
	}
	if req.Body != nil {
		body = bytes.NewReader(sent)
	}
	httpReq, err := http.NewRequest(req.Method, baseURL+req.Path, body)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	if contentType != "" {
		httpReq.Header.Set("Content-Type", contentType)
	}
	if req.Token != "" {
		httpReq.Header.Set("Authorization", "Bearer "+req.Token)
	}
	for k, v := range req.Headers {
		httpReq.Header.Set(k, v)
	}
	resp, err := client.Do(httpReq)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response of %s %s: %v", req.Method, req.Path, err)
	}
	r := Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
	if !req.SkipContract {
		checkContract(t, Exchange{Method: req.Method, URL: httpReq.URL, Header: httpReq.Header, Body: sent, Response: r,
			OutsideSchema: req.OutsideSchema})
	}
	return r
}

// RequireProblem asserts r is a problem document with the given status and
// returns it decoded.
func RequireProblem(t testing.TB, r Response, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("Content-Type = %q, want application/problem+json; body: %s", ct, r.Body)
	}
	p := r.Map(t)
	for _, key := range []string{"type", "title", "status", "detail", "request_id"} {
		if _, ok := p[key]; !ok {
			t.Fatalf("problem document lacks %q: %s", key, r.Body)
		}
	}
	if got := int(p["status"].(float64)); got != status {
		t.Fatalf("problem status = %d, want %d", got, status)
	}
	return p
}

// RequireStatus fails the test unless r has the given status.
func RequireStatus(t testing.TB, r Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
}

// LogBuffer collects output written from several goroutines (a server's
// logs, a child process's stdout) while a test reads it.
type LogBuffer = proc.Buffer

// logServerErrors shows, in a failed test, the lines the server logged at
// warning level and above: the cause of a 500 or a 503 is there.
func logServerErrors(t testing.TB, logs string) {
	var lines []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN"`) {
			lines = append(lines, line)
		}
	}
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	if len(lines) > 0 {
		t.Logf("the server's warnings and errors, last %d:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}
