package app_test

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"testing"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"taskflow/app"
	"taskflow/app/apptest"
)

// TestSearchRateLimitIsPerUserAcrossReplicas: SEARCH_RATE_LIMIT counts one
// user's searches on every replica sharing Redis; past it that user's
// searches are 429 with Retry-After on both, while its lists without q,
// and another user's searches, go on.
func TestSearchRateLimitIsPerUserAcrossReplicas(t *testing.T) {
	db := apptest.SQLite(t)
	counters := searchRedis(t)
	env := map[string]string{"SEARCH_RATE_LIMIT": "3"}
	replicas := []*apptest.Server{apptest.StartWithRedis(t, db, env, counters), apptest.StartWithRedis(t, db, env, counters)}
	searcher, other := apptest.Token(t, uuid.NewString()), apptest.Token(t, uuid.NewString())
	search := func(token string) apptest.Request {
		return apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks?q=report", Token: token}
	}
	for i := range 3 {
		apptest.RequireStatus(t, replicas[i%2].Do(t, search(searcher)), http.StatusOK)
	}
	for _, s := range replicas {
		p := apptest.RequireProblem(t, s.Do(t, search(searcher)), http.StatusTooManyRequests)
		if p["type"] != "urn:taskflow:problem:rate-limited" {
			t.Errorf("type = %v", p["type"])
		}
	}
	r := replicas[0].Do(t, search(searcher))
	if seconds, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || seconds < 1 || seconds > 60 {
		t.Errorf("Retry-After = %q, want 1 to 60 seconds", r.Header.Get("Retry-After"))
	}
	for _, s := range replicas {
		apptest.RequireStatus(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: searcher}), http.StatusOK)
		apptest.RequireStatus(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks?q=%20", Token: searcher}), http.StatusOK)
		apptest.RequireStatus(t, s.Do(t, search(other)), http.StatusOK)
	}
}

// searchRedis is a client of the test Redis (TEST_REDIS_URL, its database
// number included), as a replica would have. The limit's keys hold the
// user's id, and the users are new: nothing needs flushing. Without a
// Redis it skips, except in CI where it fails.
func searchRedis(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	cfg := apptest.LoadConfig(t, map[string]string{"ENVIRONMENT": "test", "REDIS_URL": url})
	client, err := app.OpenRedis(context.Background(), cfg)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis is required in CI: %v", err)
		}
		t.Skipf("no Redis (%v): the shared search limit is not tested", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}
