package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"taskflow/app/apptest"
	"taskflow/client"
	"taskflow/database"
	"taskflow/database/pgpool"
)

// bouncerURL returns the URL of database name through the PgBouncer of
// TEST_PGBOUNCER_URL (transaction pooling), with the given extra query
// settings: none is the URL an operator pastes.
func bouncerURL(t *testing.T, name string, settings url.Values) string {
	t.Helper()
	base := os.Getenv("TEST_PGBOUNCER_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_PGBOUNCER_URL must be set in CI: the PgBouncer tests may not be skipped")
		}
		t.Skip("TEST_PGBOUNCER_URL is not set")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_PGBOUNCER_URL: %v", err)
	}
	u.Path = "/" + name
	q := u.Query()
	for k, v := range settings {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func databaseName(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// TestThroughPgBouncer runs the app the way it runs behind a transaction
// pooler: migrations (several at once, as replicas starting together do),
// the health check, and API writes and reads, sequential and concurrent.
//
// With a plain URL the server finds out by itself that this PgBouncer
// (Debian's 1.18) cannot carry prepared statements; with
// default_query_exec_mode in the URL it does as the URL says.
func TestThroughPgBouncer(t *testing.T) {
	for name, c := range map[string]struct {
		settings url.Values
		wantMode string
	}{
		"plain URL":            {nil, `"mode":"unprepared"`},
		"exec mode in the URL": {url.Values{"default_query_exec_mode": {"exec"}}, `"mode":"exec"`},
	} {
		t.Run(name, func(t *testing.T) { testThroughPgBouncer(t, c.settings, c.wantMode) })
	}
}

func testThroughPgBouncer(t *testing.T, settings url.Values, wantMode string) {
	pg := apptest.Postgres(t)
	via := bouncerURL(t, databaseName(t, pg.URL), settings)
	ctx := context.Background()

	// The advisory lock Migrate takes is transaction-scoped, so it holds
	// through a transaction pooler, where a session lock would not.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			if db := openOrFail(t, via); db != nil {
				errs[i] = database.Migrate(ctx, db, database.MigrateOptions{})
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("migration %d through PgBouncer: %v", i, err)
		}
	}

	s := apptest.Start(t, apptest.Database{Name: "postgres", URL: via}, nil) // migrates once more
	requireHealth(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/health"}), http.StatusOK, "ok", "ok")
	if logs := s.Logs(); !strings.Contains(logs, `"msg":"database statement mode"`) || !strings.Contains(logs, wantMode) ||
		!strings.Contains(logs, `"shared_sessions":true`) {
		t.Fatalf("the log does not say the statement mode is %s on shared sessions:\n%s", wantMode, logs)
	}
	if !pgpool.SharesSessions(s.DB) {
		t.Fatal("through PgBouncer in transaction mode, SharesSessions is false")
	}
	if direct := openOrFail(t, pg.URL); direct != nil && pgpool.SharesSessions(direct) {
		t.Fatal("on a direct connection, SharesSessions is true")
	}

	rawWriteAndRead(t, s.DB)
	apiWritesAndReads(t, s)
	apiUnderLoad(t, s)
}

// apiUnderLoad sends creates, lists, reads and updates from many clients
// at once, more than the pool has connections, so the pooler moves the
// server's connections between server processes all along: every answer
// must be a success.
func apiUnderLoad(t *testing.T, s *apptest.Server) {
	t.Helper()
	const clients, rounds = 16, 12
	statuses := make(chan string, clients*rounds*4)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			token := apptest.Token(t, fmt.Sprintf("bouncer-load-%d", c%4))
			for i := range rounds {
				created := s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/tasks", Token: token,
					Body: map[string]any{"title": fmt.Sprintf("load %d-%d", c, i)}})
				statuses <- fmt.Sprint("create ", created.Status)
				list := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks?limit=5&q=load", Token: token})
				statuses <- fmt.Sprint("list ", list.Status)
				if created.Status != http.StatusCreated {
					continue
				}
				var task client.Task
				created.JSON(t, &task)
				get := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks/" + task.ID, Token: token})
				statuses <- fmt.Sprint("get ", get.Status)
				patch := s.Do(t, apptest.Request{Method: http.MethodPatch, Path: "/api/v1/tasks/" + task.ID, Token: token,
					Body: map[string]any{"completed": true}})
				statuses <- fmt.Sprint("patch ", patch.Status)
			}
		})
	}
	wg.Wait()
	close(statuses)
	counts := map[string]int{}
	for status := range statuses {
		counts[status]++
	}
	want := map[string]int{"create 201": clients * rounds, "list 200": clients * rounds, "get 200": clients * rounds, "patch 200": clients * rounds}
	for status, n := range want {
		if counts[status] != n {
			t.Errorf("answers under load: %v, want %v", counts, want)
			break
		}
	}
}

func openOrFail(t *testing.T, rawURL string) *gorm.DB {
	t.Helper()
	db, err := database.Open(context.Background(), database.Options{URL: rawURL, MaxOpenConns: 4, MaxIdleConns: 2, ConnMaxLifetime: time.Hour})
	if err != nil {
		t.Errorf("open %s: %v", rawURL, err)
		return nil
	}
	t.Cleanup(func() { _ = database.Close(db) })
	return db
}

// rawWriteAndRead writes and reads the migrated tables with parameterized
// GORM statements, the same statement many times over several pooled
// connections: with a statement cache, this is what breaks on PgBouncer.
func rawWriteAndRead(t *testing.T, db *gorm.DB) {
	t.Helper()
	now := time.Now().UTC()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		wg.Go(func() {
			id := fmt.Sprintf("00000000-0000-7000-8000-%012d", i)
			name := fmt.Sprintf("Tag %d", i)
			if err := db.Exec(`INSERT INTO tags (id, user_id, name, name_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
				id, "bouncer-user", name, strings.ToLower(name), now, now).Error; err != nil {
				errs <- fmt.Errorf("insert %d: %w", i, err)
				return
			}
			var got string
			if err := db.Raw(`SELECT name FROM tags WHERE id = ? AND user_id = ?`, id, "bouncer-user").Scan(&got).Error; err != nil || got != name {
				errs <- fmt.Errorf("read %d: got %q, %v", i, got, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var count int64
	if err := db.Table("tags").Where("user_id = ?", "bouncer-user").Count(&count).Error; err != nil || count != 20 {
		t.Fatalf("tags written: %d, %v; want 20", count, err)
	}
}

// apiWritesAndReads creates tasks through the API and reads them back.
func apiWritesAndReads(t *testing.T, s *apptest.Server) {
	t.Helper()
	token := apptest.Token(t, "bouncer-api-user")
	var wg sync.WaitGroup
	ids := make([]string, 10)
	for i := range ids {
		wg.Go(func() {
			r := s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/tasks", Token: token,
				Body: map[string]any{"title": fmt.Sprintf("through the pooler %d", i)}})
			if r.Status != http.StatusCreated {
				t.Errorf("create task %d: %d %s", i, r.Status, r.Body)
				return
			}
			var task client.Task
			r.JSON(t, &task)
			ids[i] = task.ID
		})
	}
	wg.Wait()
	for i, id := range ids {
		if id == "" {
			continue
		}
		r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks/" + id, Token: token})
		apptest.RequireStatus(t, r, http.StatusOK)
		if body := r.Map(t); body["title"] != fmt.Sprintf("through the pooler %d", i) {
			t.Errorf("task %s read back as %v", id, body)
		}
	}
	list := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks?limit=100", Token: token})
	apptest.RequireStatus(t, list, http.StatusOK)
	if total := list.Map(t)["total"]; total != float64(len(ids)) {
		t.Errorf("total = %v, want %d", total, len(ids))
	}
}

// Behind a transaction pooler with no DIRECT_DATABASE_URL, a LISTEN hears
// nothing (its session goes back to the pooler): the server says so, and
// its streams read their events every second instead, so every write
// still reaches them, in order.
func TestEventsThroughAPoolerWithoutADirectURL(t *testing.T) {
	pg := apptest.Postgres(t)
	via := bouncerURL(t, databaseName(t, pg.URL), nil)
	s := apptest.Start(t, apptest.Database{Name: "postgres", URL: via}, nil)
	if logs := s.Logs(); !strings.Contains(logs, "set DIRECT_DATABASE_URL") {
		t.Fatalf("the log does not say the change feed needs DIRECT_DATABASE_URL:\n%s", logs)
	}
	token := newUserToken(t)
	stream := openBearer(t, s, token, "", nil)
	var last expected
	for i := range 4 {
		last = writeTaskChange(t, s, token, i, last)
		requireEvent(t, stream.Next(t, 5*time.Second), int64(i+1), last)
	}
}
