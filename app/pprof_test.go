package app_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"taskflow/app"
	"taskflow/app/apptest"
	"taskflow/database"
)

// The profiler serves goroutine stacks, command lines and heap contents:
// it exists only when DEBUG=true outside production.
func TestPprofOnlyWithDebugOutsideProduction(t *testing.T) {
	t.Run("DEBUG=true in development serves it", func(t *testing.T) {
		s := apptest.Start(t, apptest.SQLite(t), map[string]string{"ENVIRONMENT": "development", "DEBUG": "true"})
		// Plain requests: the profiler is deliberately not in the API's
		// document, which apptest's Do holds every exchange to.
		index := getBody(t, s.URL+"/debug/pprof/")
		if !strings.Contains(index, "goroutine") {
			t.Errorf("GET /debug/pprof/ does not list the profiles: %.200s", index)
		}
		if heap := getBody(t, s.URL+"/debug/pprof/heap"); heap == "" {
			t.Error("GET /debug/pprof/heap returned an empty profile")
		}
	})

	t.Run("without DEBUG it is absent", func(t *testing.T) {
		s := apptest.Start(t, apptest.SQLite(t), map[string]string{"ENVIRONMENT": "development"})
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
			apptest.RequireProblem(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: path}), http.StatusNotFound)
		}
	})

	t.Run("production never serves it", func(t *testing.T) {
		// Production refuses DEBUG=true at start-up (config tests hold
		// that); the app itself must not mount the profiler either, should
		// such a configuration ever reach it.
		cfg := apptest.LoadConfig(t, apptest.Env(apptest.SQLite(t).URL))
		cfg.Environment, cfg.Debug = "production", true
		db, err := database.Open(t.Context(), database.Options{URL: apptest.SQLite(t).URL})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = database.Close(db) })
		fiberApp := app.New(app.Deps{Config: cfg, DB: db, Logger: slog.New(slog.DiscardHandler)})
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile"} {
			// HTTP/1.1 requires a Host header (RFC 9112, section 3.2), which a
			// request made from a bare path lacks.
			req, err := http.NewRequest(http.MethodGet, "http://taskflow.test"+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := fiberApp.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("production GET %s = %d, want 404", path, resp.StatusCode)
			}
		}
	})
}

// getBody fetches url, requires a 200 and returns the body.
func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200: %.200s", url, resp.StatusCode, body)
	}
	return string(body)
}
