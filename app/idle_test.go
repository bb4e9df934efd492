package app_test

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"taskflow/app/apptest"
	"taskflow/app/apptest/latency"
)

// idleWindow is how long TestIdleReplicaSendsTheDatabaseNothing watches:
// TASKFLOW_IDLE_TEST_WINDOW (such as 10m) runs it at the production
// defaults for that long; otherwise the pool's idle timeout is shortened
// so that a short window covers it three times over.
func idleWindow(t *testing.T) (window time.Duration, overrides map[string]string) {
	t.Helper()
	if raw := os.Getenv("TASKFLOW_IDLE_TEST_WINDOW"); raw != "" {
		window, err := time.ParseDuration(raw)
		if err != nil {
			t.Fatalf("TASKFLOW_IDLE_TEST_WINDOW: %v", err)
		}
		return window, nil
	}
	return 12 * time.Second, map[string]string{"DB_CONN_MAX_IDLE_TIME": "3s"}
}

// describe lists message counts as "Q:3 X:1", the opening of a
// connection as "startup".
func describe(counts map[byte]int) string {
	var parts []string
	for kind, n := range counts {
		name := string(kind)
		if kind == latency.StartupMessage {
			name = "startup"
		}
		parts = append(parts, fmt.Sprintf("%s:%d", name, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// TestIdleReplicaSendsTheDatabaseNothing: a replica that has served a
// request and then none, with no stream open, sends its database no
// message over a window longer than any of its intervals (no query, no
// ping, no new connection), so a database that suspends when idle (Neon)
// can. Closing a connection the pool no longer needs says goodbye ('X'):
// that is allowed, and reported. The next request is served as usual.
func TestIdleReplicaSendsTheDatabaseNothing(t *testing.T) {
	window, overrides := idleWindow(t)
	for _, deployment := range []struct {
		name string
		db   func(t *testing.T, db apptest.Database) apptest.Database
	}{
		{"PostgreSQL", func(t *testing.T, db apptest.Database) apptest.Database { return db }},
		{"through PgBouncer", func(t *testing.T, db apptest.Database) apptest.Database {
			bouncer := apptest.StartPgBouncer(t, apptest.TargetOf(t, db.URL), apptest.PgBouncerOptions{})
			return apptest.Database{Name: db.Name, URL: bouncer.URL(t, db.URL)}
		}},
	} {
		t.Run(deployment.name, func(t *testing.T) {
			proxy, db := apptest.LatencyProxy(t, deployment.db(t, apptest.Postgres(t)), 0)
			srv := apptest.Start(t, db, overrides)
			token := newUserToken(t)
			use := func() {
				t.Helper()
				apptest.RequireStatus(t, srv.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/tasks", Token: token,
					Body: map[string]any{"title": "before a quiet spell"}}), http.StatusCreated)
				apptest.RequireStatus(t, srv.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: token}), http.StatusOK)
			}
			use()
			time.Sleep(time.Second) // what the request set off in the background ends
			proxy.Reset()
			time.Sleep(window)
			sent := proxy.Messages()
			goodbyes := sent['X']
			delete(sent, 'X')
			total := 0
			for _, n := range sent {
				total += n
			}
			t.Logf("idle for %s: %d messages to the database besides goodbyes (all: %s), %d new connections, %d connections closed",
				window, total, describe(proxy.Messages()), proxy.Accepted(), goodbyes)
			if len(sent) != 0 || proxy.Accepted() != 0 {
				t.Errorf("idle for %s, the replica sent %s on %d new connections, want nothing", window, describe(sent), proxy.Accepted())
			}
			use()
		})
	}
}
