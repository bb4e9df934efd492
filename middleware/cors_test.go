package middleware_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"taskflow/middleware"
)

func corsApp(origins []string) *fiber.App {
	app := fiber.New()
	app.Use(middleware.CORS(origins))
	app.Get("/ping", func(c *fiber.Ctx) error { return c.SendString("pong") })
	return app
}

func send(t *testing.T, app *fiber.App, method, origin string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, "/ping", nil)
	req.Header.Set("Origin", origin)
	if method == http.MethodOptions {
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "authorization")
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func corsHeaders(h http.Header) []string {
	var names []string
	for name := range h {
		if strings.HasPrefix(strings.ToLower(name), "access-control-") {
			names = append(names, name)
		}
	}
	return names
}

// Fiber's own CORS middleware reads an empty origin list as "*"; ours
// allows nobody, which is what an unset CORS_ORIGINS must mean.
func TestCORSEmptyListAllowsNobody(t *testing.T) {
	for _, origins := range [][]string{nil, {}} {
		app := corsApp(origins)
		for _, origin := range []string{"http://localhost:3000", "https://app.example.com", "null"} {
			pre := send(t, app, http.MethodOptions, origin)
			if names := corsHeaders(pre.Header); len(names) != 0 {
				t.Errorf("preflight from %s with no allowed origins got %v", origin, names)
			}
			if pre.StatusCode != http.StatusNoContent {
				t.Errorf("refused preflight status = %d, want 204", pre.StatusCode)
			}
			get := send(t, app, http.MethodGet, origin)
			body, _ := io.ReadAll(get.Body)
			if get.StatusCode != http.StatusOK || string(body) != "pong" {
				t.Errorf("GET from %s = %d %q: a refused origin is still served (the browser hides it)", origin, get.StatusCode, body)
			}
			if names := corsHeaders(get.Header); len(names) != 0 {
				t.Errorf("GET from %s with no allowed origins got %v", origin, names)
			}
		}
	}
}

func TestCORSMatchesOriginsExactly(t *testing.T) {
	app := corsApp([]string{"https://App.Example.com/"})
	if got := send(t, app, http.MethodOptions, "https://app.example.com").Header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("configured origin (any case, trailing slash) was refused: Allow-Origin = %q", got)
	}
	for _, origin := range []string{"https://app.example.com:443", "https://app.example.com.evil.com", "http://app.example.com", "https://sub.app.example.com"} {
		if names := corsHeaders(send(t, app, http.MethodOptions, origin).Header); len(names) != 0 {
			t.Errorf("%s is not the configured origin but got %v", origin, names)
		}
	}
}
