package app_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"taskflow/app"
	"taskflow/app/apptest"
)

const problemPrefix = "urn:taskflow:problem:"

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// requireProblemType checks a problem document's type and that its
// request_id is the response's X-Request-ID.
func requireProblemType(t *testing.T, r apptest.Response, status int, code string) map[string]any {
	t.Helper()
	p := apptest.RequireProblem(t, r, status)
	if p["type"] != problemPrefix+code {
		t.Errorf("type = %v, want %s%s", p["type"], problemPrefix, code)
	}
	if p["title"] != http.StatusText(status) {
		t.Errorf("title = %v, want %q", p["title"], http.StatusText(status))
	}
	if id := r.Header.Get("X-Request-ID"); id == "" || p["request_id"] != id {
		t.Errorf("request_id = %v, X-Request-ID = %q: want the same, non-empty", p["request_id"], id)
	}
	return p
}

func TestUnknownRouteIs404Problem(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	for _, path := range []string{"/nope", "/api/v1/nope", "/api/v2/tasks", "/HEALTH"} {
		r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: path})
		requireProblemType(t, r, http.StatusNotFound, "not-found")
	}
}

func TestWrongMethodIs405Problem(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	for _, req := range []apptest.Request{
		{Method: http.MethodDelete, Path: "/health"},
		{Method: http.MethodPost, Path: "/health/live", Body: `{}`},
		{Method: http.MethodGet, Path: "/api/v1/auth/login"},
	} {
		r := s.Do(t, req)
		p := requireProblemType(t, r, http.StatusMethodNotAllowed, "method-not-allowed")
		if p["detail"] == "" {
			t.Errorf("%s %s: empty detail", req.Method, req.Path)
		}
	}
}

func TestOversizedBodyIs413Problem(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), map[string]string{"BODY_LIMIT": "1024"})
	body := `{"email":"someone@example.com","password":"` + strings.Repeat("x", 2048) + `"}`
	r := s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/login", Body: body})
	p := requireProblemType(t, r, http.StatusRequestEntityTooLarge, "payload-too-large")
	if strings.Contains(string(r.Body), "xxxx") {
		t.Error("the problem document echoes the body")
	}
	_ = p
	// Just under the limit is read and answered by the endpoint itself.
	small := s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/login", Body: `{"email":"a@example.com","password":"wrong-password"}`})
	requireProblemType(t, small, http.StatusUnauthorized, "unauthorized")
}

func TestMalformedJSONIs400AndWrongTypeIs415(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
	}{
		{"truncated JSON", "application/json", `{"email":"a@example.com",`, http.StatusBadRequest, "bad-request"},
		{"not JSON at all", "application/json", `email=a@example.com`, http.StatusBadRequest, "bad-request"},
		{"empty body", "application/json", ``, http.StatusBadRequest, "bad-request"},
		{"a JSON array", "application/json", `[1,2]`, http.StatusBadRequest, "bad-request"},
		{"form body", "application/x-www-form-urlencoded", `email=a@example.com&password=x`, http.StatusUnsupportedMediaType, "unsupported-media-type"},
		{"text body", "text/plain", `{"email":"a@example.com","password":"x"}`, http.StatusUnsupportedMediaType, "unsupported-media-type"},
		{"no content type", "", `{"email":"a@example.com","password":"x"}`, http.StatusUnsupportedMediaType, "unsupported-media-type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rawRequest(t, http.MethodPost, s.URL+"/api/v1/auth/login", tt.contentType, tt.body, nil)
			p := requireProblemType(t, r, tt.status, tt.code)
			if detail, _ := p["detail"].(string); detail == "" {
				t.Error("the problem has no detail saying what is wrong")
			}
		})
	}
}

// rawRequest sends a request with exactly the given Content-Type (none when
// empty) and headers.
func rawRequest(t *testing.T, method, url, contentType, body string, headers map[string]string) apptest.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// startWithRoutes runs the real app with extra routes registered after
// app.New's own, the way a handler bug would sit among them.
func startWithRoutes(t *testing.T, overrides map[string]string, extra func(*fiber.App)) (string, *apptest.LogBuffer) {
	t.Helper()
	env := apptest.Env(apptest.SQLite(t).URL)
	for k, v := range overrides {
		env[k] = v
	}
	cfg := apptest.LoadConfig(t, env)
	logs := &apptest.LogBuffer{}
	srv, err := app.Open(context.Background(), cfg, slog.New(slog.NewJSONHandler(logs, nil)), "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	extra(srv.App())
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return "http://" + srv.Addr().String(), logs
}

func TestPanicIs500ProblemAndTheServerSurvives(t *testing.T) {
	const secret = "panic-detail-SELECT-password_hash-FROM-users"
	url, logs := startWithRoutes(t, nil, func(a *fiber.App) {
		a.Get("/boom", func(c *fiber.Ctx) error { panic(secret) })
	})
	r := apptest.Do(t, url, apptest.Request{Method: http.MethodGet, Path: "/boom", Headers: map[string]string{"X-Request-ID": "boom-1"}})
	p := requireProblemType(t, r, http.StatusInternalServerError, "internal")
	if p["detail"] != "an unexpected error occurred; the request id identifies it in the server's logs" {
		t.Errorf("detail = %v, want the generic one", p["detail"])
	}
	for _, leak := range []string{secret, "goroutine", ".go:", "panic"} {
		if strings.Contains(string(r.Body), leak) {
			t.Errorf("the response leaks %q: %s", leak, r.Body)
		}
	}
	if !strings.Contains(logs.String(), "handler panicked") || !strings.Contains(logs.String(), `"request_id":"boom-1"`) {
		t.Errorf("the panic was not logged with its request id:\n%s", logs)
	}
	// The process is still serving, the panicking route included.
	apptest.RequireStatus(t, apptest.Do(t, url, apptest.Request{Method: http.MethodGet, Path: "/health"}), http.StatusOK)
	requireProblemType(t, apptest.Do(t, url, apptest.Request{Method: http.MethodGet, Path: "/boom"}), http.StatusInternalServerError, "internal")
}

func TestUnexpectedErrorIs500WithoutDetail(t *testing.T) {
	url, logs := startWithRoutes(t, nil, func(a *fiber.App) {
		a.Get("/fail", func(c *fiber.Ctx) error {
			return io.ErrUnexpectedEOF // not a model error: a bug by definition
		})
	})
	r := apptest.Do(t, url, apptest.Request{Method: http.MethodGet, Path: "/fail"})
	requireProblemType(t, r, http.StatusInternalServerError, "internal")
	if strings.Contains(string(r.Body), "unexpected EOF") {
		t.Errorf("the error text reached the client: %s", r.Body)
	}
	if !strings.Contains(logs.String(), "unexpected EOF") {
		t.Errorf("the error was not logged:\n%s", logs)
	}
}

func TestEveryResponseHasARequestID(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), map[string]string{"BODY_LIMIT": "64"})
	requests := map[string]apptest.Request{
		"200":       {Method: http.MethodGet, Path: "/health/live"},
		"404":       {Method: http.MethodGet, Path: "/nope"},
		"401":       {Method: http.MethodGet, Path: "/api/v1/tasks"},
		"413":       {Method: http.MethodPost, Path: "/api/v1/auth/login", Body: strings.Repeat("x", 200)},
		"preflight": {Method: http.MethodOptions, Path: "/api/v1/tasks", Headers: map[string]string{"Origin": apptest.AllowedOrigin, "Access-Control-Request-Method": "POST"}, SkipContract: true},
	}
	for name, req := range requests {
		t.Run(name, func(t *testing.T) {
			fresh := s.Do(t, req).Header.Get("X-Request-ID")
			if !uuidPattern.MatchString(fresh) {
				t.Errorf("without one sent, X-Request-ID = %q, want a new UUID", fresh)
			}
			req.Headers = mergeHeaders(req.Headers, "X-Request-ID", "client-id_1.2-3")
			if got := s.Do(t, req).Header.Get("X-Request-ID"); got != "client-id_1.2-3" {
				t.Errorf("a sane X-Request-ID was not echoed: got %q", got)
			}
		})
	}
}

func mergeHeaders(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for key, value := range h {
		if key != k {
			out[key] = value
		}
	}
	return out
}

func TestInsaneRequestIDIsReplaced(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	for _, insane := range []string{
		strings.Repeat("a", 129),
		"has space",
		`quote"d`,
		"<script>",
		"new\tline",
		"ünïcode",
		"semi;colon",
	} {
		r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/nope", Headers: map[string]string{"X-Request-ID": insane}})
		got := r.Header.Get("X-Request-ID")
		if got == insane || !uuidPattern.MatchString(got) {
			t.Errorf("X-Request-ID %q came back as %q, want a new UUID", insane, got)
		}
		if strings.Contains(string(r.Body), insane) {
			t.Errorf("the insane id %q reached the body: %s", insane, r.Body)
		}
		requireProblemType(t, r, http.StatusNotFound, "not-found")
	}
	longest := strings.Repeat("b", 128)
	if got := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/health/live", Headers: map[string]string{"X-Request-ID": longest}}).Header.Get("X-Request-ID"); got != longest {
		t.Errorf("a 128-character id was replaced by %q", got)
	}
}

var securityHeaders = map[string]string{
	"X-Content-Type-Options":     "nosniff",
	"X-Frame-Options":            "DENY",
	"Referrer-Policy":            "no-referrer",
	"Content-Security-Policy":    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
	"Cross-Origin-Opener-Policy": "same-origin",
}

func requireSecurityHeaders(t *testing.T, r apptest.Response, hsts bool) {
	t.Helper()
	for name, want := range securityHeaders {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"Server", "X-Powered-By"} {
		if v, ok := r.Header[name]; ok {
			t.Errorf("response has %s: %v; it must not advertise the stack", name, v)
		}
	}
	got := r.Header.Get("Strict-Transport-Security")
	switch {
	case hsts && got != "max-age=63072000; includeSubDomains":
		t.Errorf("Strict-Transport-Security = %q, want max-age=63072000; includeSubDomains", got)
	case !hsts && got != "":
		t.Errorf("Strict-Transport-Security = %q outside production", got)
	}
}

func TestSecurityHeaders(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), map[string]string{"BODY_LIMIT": "64"})
	for _, req := range []apptest.Request{
		{Method: http.MethodGet, Path: "/"},
		{Method: http.MethodGet, Path: "/health"},
		{Method: http.MethodGet, Path: "/nope"},
		{Method: http.MethodGet, Path: "/api/v1/tasks"},
		{Method: http.MethodPost, Path: "/api/v1/auth/login", Body: strings.Repeat("x", 200)},
	} {
		t.Run(req.Method+" "+req.Path, func(t *testing.T) {
			requireSecurityHeaders(t, s.Do(t, req), false)
		})
	}
}

// Production needs PostgreSQL, so HSTS is checked on it.
func TestHSTSInProduction(t *testing.T) {
	s := apptest.Start(t, apptest.Postgres(t), map[string]string{
		"ENVIRONMENT": "production", "CORS_ORIGINS": "https://app.example.com",
	})
	for _, path := range []string{"/health", "/nope"} {
		r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: path})
		requireSecurityHeaders(t, r, true)
	}
	info := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/"})
	apptest.RequireStatus(t, info, http.StatusOK)
	if body := info.Map(t); body["environment"] != "production" || body["docs"] != nil {
		t.Errorf("GET / in production = %v, want environment production and docs null", body)
	}
}

func TestServiceEndpoints(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)

		info := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/"})
		apptest.RequireStatus(t, info, http.StatusOK)
		body := info.Map(t)
		if body["name"] != app.Name || body["version"] != "test" || body["environment"] != "test" {
			t.Errorf("GET / = %v", body)
		}

		live := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/health/live"})
		apptest.RequireStatus(t, live, http.StatusOK)
		if string(live.Body) != `{"status":"ok"}` {
			t.Errorf("GET /health/live = %s", live.Body)
		}

		health := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/health"})
		requireHealth(t, health, http.StatusOK, "ok", "ok")
		if health.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", health.Header.Get("Cache-Control"))
		}
	})
}

// requireHealth checks a GET /health response: plain JSON (not a problem
// document) with the contract's fields.
func requireHealth(t *testing.T, r apptest.Response, status int, overall, db string) map[string]any {
	t.Helper()
	apptest.RequireStatus(t, r, status)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	body := r.Map(t)
	if body["status"] != overall || body["database"] != db {
		t.Fatalf("health = %s, want status %q and database %q", r.Body, overall, db)
	}
	if body["version"] != "test" {
		t.Errorf("version = %v, want test", body["version"])
	}
	if _, ok := body["uptime_s"].(float64); !ok {
		t.Errorf("uptime_s missing: %s", r.Body)
	}
	latency, hasLatency := body["latency_ms"].(float64)
	if overall == "ok" && (!hasLatency || latency < 0) {
		t.Errorf("latency_ms = %v, want a duration", body["latency_ms"])
	}
	return body
}

// Requests Fiber refuses before any middleware runs still get a problem
// document with an id and the security headers, and never an echo of the
// raw request (fasthttp's own messages quote it, headers and all).
func TestUnreadableRequestIsAProblem(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	const secret = "Bearer raw-TOKEN-value-8c1f"
	tests := []struct {
		name   string
		raw    string
		status int
		code   string
	}{
		{"bad Content-Length", "GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: " + secret + "\r\nContent-Length: abc\r\n\r\n",
			http.StatusBadRequest, "bad-request"},
		{"bad chunk", "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nAuthorization: " + secret + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
			http.StatusBadRequest, "bad-request"},
		{"headers too large", "GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: " + secret + "\r\nX-Big: " + strings.Repeat("a", 20<<10) + "\r\n\r\n",
			http.StatusRequestHeaderFieldsTooLarge, "headers-too-large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rawExchange(t, strings.TrimPrefix(s.URL, "http://"), tt.raw)
			requireProblemType(t, r, tt.status, tt.code)
			requireSecurityHeaders(t, r, false)
			if strings.Contains(string(r.Body), "raw-TOKEN") {
				t.Errorf("the response echoes the request: %s", r.Body)
			}
		})
	}
}

// rawExchange writes raw to a new connection and reads one response.
func rawExchange(t *testing.T, addr, raw string) apptest.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}
