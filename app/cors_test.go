package app_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"taskflow/app/apptest"
)

// headerList splits a comma-separated header (all its values) into trimmed,
// lower-cased items.
func headerList(h http.Header, name string) []string {
	var items []string
	for _, value := range h.Values(name) {
		for _, item := range strings.Split(value, ",") {
			if item = strings.ToLower(strings.TrimSpace(item)); item != "" {
				items = append(items, item)
			}
		}
	}
	return items
}

func requireListed(t *testing.T, h http.Header, name string, want ...string) {
	t.Helper()
	got := headerList(h, name)
	for _, w := range want {
		if !slices.Contains(got, strings.ToLower(w)) {
			t.Errorf("%s = %q, want it to list %s", name, h.Values(name), w)
		}
	}
}

// requireNoCORS fails if any Access-Control-* header is present.
func requireNoCORS(t *testing.T, h http.Header) {
	t.Helper()
	for name, values := range h {
		if strings.HasPrefix(strings.ToLower(name), "access-control-") {
			t.Errorf("a refused origin got %s: %v", name, values)
		}
	}
}

func preflight(origin, method, headers string) apptest.Request {
	h := map[string]string{"Origin": origin, "Access-Control-Request-Method": method}
	if headers != "" {
		h["Access-Control-Request-Headers"] = headers
	}
	// A preflight is the CORS layer's business: the OpenAPI document
	// describes the API's operations, not OPTIONS.
	return apptest.Request{Method: http.MethodOptions, Path: "/api/v1/tasks", Headers: h, SkipContract: true}
}

func TestCORSPreflightFromAllowedOrigin(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	r := s.Do(t, preflight(apptest.AllowedOrigin, "PATCH", "authorization,content-type,if-match,if-none-match,x-request-id,idempotency-key,last-event-id"))
	apptest.RequireStatus(t, r, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Errorf("a preflight answer has a body: %s", r.Body)
	}
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != apptest.AllowedOrigin {
		t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, apptest.AllowedOrigin)
	}
	requireListed(t, r.Header, "Access-Control-Allow-Methods", "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
	requireListed(t, r.Header, "Access-Control-Allow-Headers", "Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID",
		"Idempotency-Key", "Last-Event-ID")
	requireListed(t, r.Header, "Vary", "Origin")
	if got := r.Header.Get("Access-Control-Max-Age"); got != "600" {
		t.Errorf("Access-Control-Max-Age = %q, want 600", got)
	}
	if got := r.Header.Get("Access-Control-Allow-Credentials"); got != "" {
		t.Errorf("Access-Control-Allow-Credentials = %q: bearer tokens need no credentials mode", got)
	}
	if r.Header.Get("X-Request-ID") == "" {
		t.Error("the preflight answer has no X-Request-ID")
	}
}

func TestCORSSimpleRequestFromAllowedOrigin(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	for _, req := range []apptest.Request{
		{Method: http.MethodGet, Path: "/health/live"},
		{Method: http.MethodGet, Path: "/api/v1/tasks"}, // a 401: the frontend must be able to read it
		{Method: http.MethodGet, Path: "/api/v1/tasks", Token: apptest.Token(t, "cors-user")},
	} {
		req.Headers = map[string]string{"Origin": apptest.AllowedOrigin}
		r := s.Do(t, req)
		if r.Status >= 500 {
			t.Fatalf("%s %s: %d %s", req.Method, req.Path, r.Status, r.Body)
		}
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != apptest.AllowedOrigin {
			t.Errorf("%s %s (%d): Access-Control-Allow-Origin = %q, want %q", req.Method, req.Path, r.Status, got, apptest.AllowedOrigin)
		}
		requireListed(t, r.Header, "Access-Control-Expose-Headers", "ETag", "Location", "X-Request-ID", "Retry-After", "Idempotent-Replayed")
		requireListed(t, r.Header, "Vary", "Origin")
		if r.Header.Get("Access-Control-Allow-Methods") != "" {
			t.Error("a simple request's answer lists the allowed methods: that belongs to preflights")
		}
	}
}

func TestCORSRefusedOriginGetsNoCORSHeaders(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	refused := []string{
		"https://evil.example.com",
		"http://127.0.0.1:3001",  // another port
		"https://127.0.0.1:3000", // another scheme
		"http://127.0.0.1",       // no port
		"http://127.0.0.1:3000.evil.example.com",
		"null",
	}
	for _, origin := range refused {
		t.Run(origin, func(t *testing.T) {
			pre := s.Do(t, preflight(origin, "DELETE", "authorization"))
			requireNoCORS(t, pre.Header)
			if pre.Status >= 500 {
				t.Errorf("preflight status %d", pre.Status)
			}
			requireListed(t, pre.Header, "Vary", "Origin")

			simple := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/health/live", Headers: map[string]string{"Origin": origin}})
			apptest.RequireStatus(t, simple, http.StatusOK)
			requireNoCORS(t, simple.Header)
			requireListed(t, simple.Header, "Vary", "Origin")
			if string(simple.Body) != `{"status":"ok"}` {
				t.Errorf("body = %s", simple.Body)
			}
		})
	}
}

func TestCORSSeveralOrigins(t *testing.T) {
	const other = "https://app.example.com"
	s := apptest.Start(t, apptest.SQLite(t), map[string]string{"CORS_ORIGINS": apptest.AllowedOrigin + ", " + other + "/"})
	for _, origin := range []string{apptest.AllowedOrigin, other} {
		r := s.Do(t, preflight(origin, "GET", ""))
		apptest.RequireStatus(t, r, http.StatusNoContent)
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("Access-Control-Allow-Origin = %q, want %q (only the asking origin, never the list)", got, origin)
		}
	}
}

func TestNoOriginNoCORSHeaders(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/health/live"})
	apptest.RequireStatus(t, r, http.StatusOK)
	requireNoCORS(t, r.Header)
}

// A page of an allowed origin can revalidate what it holds: the preflight
// allows If-None-Match, and the conditional GET's 304 carries the CORS
// headers without which the browser would hide it (and its ETag).
func TestCORSConditionalGetFromAllowedOrigin(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		token := apptest.Token(t, "cors-conditional")
		created := s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/tasks", Token: token, Body: map[string]any{"title": "cached"}})
		apptest.RequireStatus(t, created, http.StatusCreated)
		etag := created.Header.Get("ETag")
		path := "/api/v1/tasks/" + created.Map(t)["id"].(string)

		pre := s.Do(t, apptest.Request{Method: http.MethodOptions, Path: path, SkipContract: true, Headers: map[string]string{
			"Origin": apptest.AllowedOrigin, "Access-Control-Request-Method": "GET",
			"Access-Control-Request-Headers": "authorization,if-none-match",
		}})
		apptest.RequireStatus(t, pre, http.StatusNoContent)
		if got := pre.Header.Get("Access-Control-Allow-Origin"); got != apptest.AllowedOrigin {
			t.Errorf("preflight: Access-Control-Allow-Origin = %q, want %q", got, apptest.AllowedOrigin)
		}
		requireListed(t, pre.Header, "Access-Control-Allow-Headers", "Authorization", "If-None-Match")
		requireListed(t, pre.Header, "Access-Control-Allow-Methods", "GET")

		r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: path, Token: token,
			Headers: map[string]string{"Origin": apptest.AllowedOrigin, "If-None-Match": etag}})
		apptest.RequireStatus(t, r, http.StatusNotModified)
		if len(r.Body) != 0 {
			t.Errorf("304 with a body: %s", r.Body)
		}
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != apptest.AllowedOrigin {
			t.Errorf("304: Access-Control-Allow-Origin = %q, want %q", got, apptest.AllowedOrigin)
		}
		if got := r.Header.Get("ETag"); got != etag {
			t.Errorf("304: ETag = %q, want %q", got, etag)
		}
		requireListed(t, r.Header, "Access-Control-Expose-Headers", "ETag")
		requireListed(t, r.Header, "Vary", "Origin")
	})
}
