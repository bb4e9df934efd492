package app_test

import (
	"net/http"
	"testing"
	"time"

	"taskflow/app/apptest"
)

// TestHealthFollowsTheDatabase runs the app against PostgreSQL through a TCP
// proxy, takes the database away and gives it back: /health says 503 while
// it is gone and 200 again once it is back, with no restart, and an API
// request in between is a fast 503 problem rather than a 500 or a hang.
func TestHealthFollowsTheDatabase(t *testing.T) {
	pg := apptest.Postgres(t)
	proxy := apptest.NewTCPProxy(t, apptest.TargetOf(t, pg.URL))
	const queryTimeout = 5 * time.Second
	s := apptest.Start(t, apptest.Database{Name: "postgres", URL: proxy.URL(pg.URL)}, map[string]string{
		"DB_QUERY_TIMEOUT": queryTimeout.String(), "HEALTH_TIMEOUT": "2s",
	})
	token := apptest.Token(t, "outage-user")
	health := apptest.Request{Method: http.MethodGet, Path: "/health"}
	tasks := apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: token}

	requireHealth(t, s.Do(t, health), http.StatusOK, "ok", "ok")
	apptest.RequireStatus(t, s.Do(t, tasks), http.StatusOK)

	proxy.Close() // PostgreSQL is gone: pooled connections cut, new ones refused

	down := requireHealth(t, s.Do(t, health), http.StatusServiceUnavailable, "error", "unavailable")
	if _, ok := down["latency_ms"]; ok {
		t.Errorf("a failed check reports a latency: %v", down)
	}
	start := time.Now()
	r := s.Do(t, tasks)
	elapsed := time.Since(start)
	p := requireProblemType(t, r, http.StatusServiceUnavailable, "unavailable")
	if p["detail"] != "the database is unavailable, try again shortly" {
		t.Errorf("detail = %v", p["detail"])
	}
	if r.Header.Get("Retry-After") == "" {
		t.Error("a 503 without Retry-After")
	}
	// Refused connections fail at once: the request must not sit out its deadline.
	if elapsed > queryTimeout/5 {
		t.Errorf("the API answered 503 after %v; with connections refused it must be well under DB_QUERY_TIMEOUT (%v)", elapsed, queryTimeout)
	}
	t.Logf("503 during the outage after %v", elapsed)

	proxy.Reopen()
	var back apptest.Response
	deadline := time.Now().Add(10 * time.Second)
	for {
		back = s.Do(t, health)
		if back.Status == http.StatusOK || time.Now().After(deadline) {
			break
		}
		requireHealth(t, back, http.StatusServiceUnavailable, "error", "unavailable")
		time.Sleep(100 * time.Millisecond)
	}
	requireHealth(t, back, http.StatusOK, "ok", "ok")
	apptest.RequireStatus(t, s.Do(t, tasks), http.StatusOK)
}

// TestHealthTimesOutOnAStalledDatabase: a network that swallows packets
// (no refusal, no answer) makes /health a 503 within HEALTH_TIMEOUT, and an
// API request a 503 within DB_QUERY_TIMEOUT.
func TestHealthTimesOutOnAStalledDatabase(t *testing.T) {
	pg := apptest.Postgres(t)
	proxy := apptest.NewTCPProxy(t, apptest.TargetOf(t, pg.URL))
	s := apptest.Start(t, apptest.Database{Name: "postgres", URL: proxy.URL(pg.URL)}, map[string]string{
		"DB_QUERY_TIMEOUT": "1s", "HEALTH_TIMEOUT": "500ms",
	})
	requireHealth(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/health"}), http.StatusOK, "ok", "ok")

	proxy.Pause()
	start := time.Now()
	requireHealth(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/health"}), http.StatusServiceUnavailable, "error", "unavailable")
	if elapsed := time.Since(start); elapsed < 400*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("/health answered after %v, want about HEALTH_TIMEOUT (500ms)", elapsed)
	}
	start = time.Now()
	r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: apptest.Token(t, "stalled-user")})
	requireProblemType(t, r, http.StatusServiceUnavailable, "unavailable")
	if elapsed := time.Since(start); elapsed > 4*time.Second {
		t.Errorf("the API answered after %v, want about DB_QUERY_TIMEOUT (1s)", elapsed)
	}

	proxy.Resume()
	proxy.Cut() // connections that sat out a cancelled query may be unusable; the pool replaces them
	var back apptest.Response
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		back = s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/health"})
		if back.Status == http.StatusOK || time.Now().After(deadline) {
			break
		}
	}
	requireHealth(t, back, http.StatusOK, "ok", "ok")
}
