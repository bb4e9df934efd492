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
)

// bouncerURL returns the URL of database name through the PgBouncer of
// TEST_PGBOUNCER_URL (transaction pooling), with the pgx setting that
// PgBouncer before 1.21 needs: it cannot carry prepared statements from one
// transaction to the next, so pgx must not cache them.
func bouncerURL(t *testing.T, name string) string {
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
	q.Set("default_query_exec_mode", "exec")
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
func TestThroughPgBouncer(t *testing.T) {
	pg := apptest.Postgres(t)
	via := bouncerURL(t, databaseName(t, pg.URL))
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

	rawWriteAndRead(t, s.DB)
	apiWritesAndReads(t, s)
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
