package database_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"taskflow/app/apptest"
	"taskflow/database"
	"taskflow/models"
)

func open(t testing.TB, url string) *gorm.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := database.Open(ctx, database.Options{URL: url, MaxOpenConns: 4, MaxIdleConns: 4, ConnMaxLifetime: time.Hour})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { _ = database.Close(db) })
	return db
}

func migrate(t testing.TB, db *gorm.DB) {
	t.Helper()
	if err := database.Migrate(context.Background(), db, database.MigrateOptions{}); err != nil {
		t.Fatalf("migrate: %v", err)
	}
}

func requireFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file %s: %v", path, err)
	}
}

func TestOpenSQLiteByURL(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		url  string
		file string
	}{
		{"sqlite://" + filepath.Join(dir, "a.db"), filepath.Join(dir, "a.db")},
		{"SQLite://" + filepath.Join(dir, "b.db"), filepath.Join(dir, "b.db")},
		{"file:" + filepath.Join(dir, "c.db") + "?cache=shared", filepath.Join(dir, "c.db")},
	}
	for _, tt := range tests {
		db := open(t, tt.url)
		if database.IsPostgres(db) {
			t.Errorf("%s opened PostgreSQL", tt.url)
		}
		if err := database.Ping(context.Background(), db); err != nil {
			t.Errorf("ping %s: %v", tt.url, err)
		}
		requireFile(t, tt.file)
	}
}

func TestOpenDefaultsToSQLiteInTheWorkingDirectory(t *testing.T) {
	for _, url := range []string{"", "sqlite://"} {
		dir := t.TempDir()
		t.Chdir(dir)
		db := open(t, url)
		migrate(t, db)
		requireFile(t, filepath.Join(dir, database.DefaultSQLitePath))
	}
}

func TestOpenPostgres(t *testing.T) {
	pg := apptest.Postgres(t)
	db := open(t, pg.URL)
	if !database.IsPostgres(db) {
		t.Fatal("a postgres:// URL did not open PostgreSQL")
	}
	if err := database.Ping(context.Background(), db); err != nil {
		t.Fatalf("ping: %v", err)
	}
	// postgresql:// is the other spelling libpq accepts.
	db2 := open(t, "postgresql://"+strings.TrimPrefix(pg.URL, "postgres://"))
	if !database.IsPostgres(db2) {
		t.Fatal("a postgresql:// URL did not open PostgreSQL")
	}
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, url := range []string{"mysql://root@localhost/taskflow", "taskflow.db", "redis://localhost:6379"} {
		_, err := database.Open(context.Background(), database.Options{URL: url})
		if err == nil || !strings.Contains(err.Error(), "must start with postgres://, postgresql://, sqlite:// or file:") {
			t.Errorf("Open(%q) error = %v, want the list of accepted schemes", url, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a rejected URL created files: %v", entries)
	}
}

func TestOpenUnreachablePostgresIsUnavailable(t *testing.T) {
	port := closedPort(t)
	start := time.Now()
	_, err := database.Open(context.Background(), database.Options{
		URL: "postgres://postgres@" + port + "/taskflow?sslmode=disable&connect_timeout=5",
	})
	if code := models.ErrorCode(err); code != models.CodeUnavailable {
		t.Fatalf("error = %v (code %q), want code %q", err, code, models.CodeUnavailable)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("a refused connection took %v to report", elapsed)
	}
}

// closedPort returns a loopback host:port that nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestSQLitePragmasOnEveryPooledConnection(t *testing.T) {
	db := open(t, apptest.SQLite(t).URL)
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Hold three connections at once so they are three distinct ones.
	const n = 3
	for i := range n {
		conn, err := sqlDB.Conn(ctx)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		defer conn.Close()
		pragmas := []struct {
			name string
			want string
		}{
			{"journal_mode", "wal"},
			{"foreign_keys", "1"},
			{"busy_timeout", "10000"},
			{"synchronous", "1"}, // NORMAL
		}
		for _, p := range pragmas {
			var got string
			if err := conn.QueryRowContext(ctx, "PRAGMA "+p.name).Scan(&got); err != nil {
				t.Fatalf("connection %d: PRAGMA %s: %v", i, p.name, err)
			}
			if got != p.want {
				t.Errorf("connection %d: PRAGMA %s = %s, want %s", i, p.name, got, p.want)
			}
		}
	}
	if open := sqlDB.Stats().OpenConnections; open < n {
		t.Fatalf("only %d connections were open: the pragmas were not checked on distinct ones", open)
	}
}

// A text that reads like a date stays text unless its column is declared
// a time: an expression or a UNION column has no declared type.
func TestSQLiteUntypedTextStaysText(t *testing.T) {
	db := open(t, apptest.SQLite(t).URL)
	for _, text := range []string{"2027-01-02", "2027-01-02 03:04:05", "2027-01-02T03:04:05Z"} {
		var got string
		if err := db.Raw("SELECT ?", text).Scan(&got).Error; err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if got != text {
			t.Errorf("SELECT %q returned %q", text, got)
		}
	}
}

// fixedSQLite is the first SQLite release with the fixes for every
// published vulnerability that reaches the embedded engine: CVE-2024-0232
// (use after free in JSON parsing, fixed in 3.43.2), CVE-2025-29087
// (integer overflow in concat_ws, 3.49.1) and CVE-2025-6965 (aggregate
// terms exceeding the column limit corrupt memory, 3.50.2).
var fixedSQLite = [3]int{3, 50, 2}

func TestEmbeddedSQLiteHasTheSecurityFixes(t *testing.T) {
	db := open(t, apptest.SQLite(t).URL)
	var version string
	if err := db.Raw("SELECT sqlite_version()").Scan(&version).Error; err != nil {
		t.Fatal(err)
	}
	got, err := parseSQLiteVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	if !versionAtLeast(got, fixedSQLite) {
		t.Fatalf("embedded SQLite is %s, want at least %d.%d.%d", version, fixedSQLite[0], fixedSQLite[1], fixedSQLite[2])
	}
}

// parseSQLiteVersion reads "3.50.2" as {3, 50, 2}.
func parseSQLiteVersion(s string) ([3]int, error) {
	var v [3]int
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return v, fmt.Errorf("sqlite_version() = %q, want MAJOR.MINOR.PATCH", s)
	}
	for i, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil {
			return v, fmt.Errorf("sqlite_version() = %q: %w", s, err)
		}
		v[i] = n
	}
	return v, nil
}

func versionAtLeast(got, want [3]int) bool {
	for i := range got {
		if got[i] != want[i] {
			return got[i] > want[i]
		}
	}
	return true
}

// With BEGIN IMMEDIATE a transaction holds SQLite's write lock from its
// first statement: a writer elsewhere waits for it (busy_timeout) instead of
// the transaction failing later when it tries to upgrade a read lock.
func TestSQLiteTransactionsBeginImmediate(t *testing.T) {
	db := open(t, apptest.SQLite(t).URL)
	migrate(t, db)
	ctx := context.Background()

	tx := db.WithContext(ctx).Begin()
	if tx.Error != nil {
		t.Fatal(tx.Error)
	}
	defer tx.Rollback()
	// The transaction has not written anything, yet it holds the write lock:
	// a writer that will not wait is refused at once.
	sqlDB, _ := db.DB()
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, "PRAGMA busy_timeout = 10000") //nolint:errcheck // restore for the pool
	_, err = conn.ExecContext(ctx, insertUser, "u1", "one@example.com", "hash", time.Now(), time.Now())
	if err == nil {
		t.Fatal("a write succeeded while another transaction was open: BEGIN is not IMMEDIATE")
	}
	if code := models.ErrorCode(database.Classify(err)); code != models.CodeUnavailable {
		t.Fatalf("classify(%v) = %q, want %q (SQLite busy is retryable)", err, code, models.CodeUnavailable)
	}
	tx.Rollback()
	if _, err := conn.ExecContext(ctx, insertUser, "u1", "one@example.com", "hash", time.Now(), time.Now()); err != nil {
		t.Fatalf("write after the transaction ended: %v", err)
	}
}

const insertUser = "INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"

var tables = []string{"users", "refresh_tokens", "tasks", "tags", "task_tags"}

func requireTables(t *testing.T, db *gorm.DB) {
	t.Helper()
	for _, table := range tables {
		if !db.Migrator().HasTable(table) {
			t.Errorf("table %s is missing", table)
		}
	}
	if !db.Migrator().HasIndex("tags", "idx_tags_user_name") {
		t.Error("the unique index on (user_id, name_key) of tags is missing")
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	apptest.Each(t, func(t *testing.T, tdb apptest.Database) {
		db := open(t, tdb.URL)
		migrate(t, db)
		if err := db.Exec(insertUser, "u1", "one@example.com", "hash", time.Now(), time.Now()).Error; err != nil {
			t.Fatalf("insert: %v", err)
		}
		migrate(t, db) // the second run changes nothing and loses nothing
		requireTables(t, db)
		var count int64
		if err := db.Table("users").Count(&count).Error; err != nil || count != 1 {
			t.Fatalf("users after the second migration: %d, %v; want the 1 row kept", count, err)
		}
	})
}

// Replicas that start together all run Migrate on the same fresh database;
// the advisory lock makes them take turns instead of racing CREATE TABLE.
func TestConcurrentMigrateOnFreshPostgres(t *testing.T) {
	for round := range 3 {
		pg := apptest.Postgres(t)
		replicas := []*gorm.DB{open(t, pg.URL), open(t, pg.URL), open(t, pg.URL)}
		var wg sync.WaitGroup
		errs := make([]error, len(replicas))
		start := make(chan struct{})
		for i, db := range replicas {
			wg.Go(func() {
				<-start
				errs[i] = database.Migrate(context.Background(), db, database.MigrateOptions{})
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: replica %d: %v", round, i, err)
			}
		}
		requireTables(t, replicas[0])
	}
}

func TestClassify(t *testing.T) {
	apptest.Each(t, func(t *testing.T, tdb apptest.Database) {
		db := open(t, tdb.URL)
		migrate(t, db)
		ctx := context.Background()

		var row struct{ ID string }
		notFound := db.WithContext(ctx).Table("users").Where("id = ?", "nobody").Take(&row).Error
		requireCode(t, "no row", notFound, models.CodeNotFound, "not found")

		now := time.Now()
		if err := db.Exec(insertUser, "u1", "dup@example.com", "hash", now, now).Error; err != nil {
			t.Fatalf("first insert: %v", err)
		}
		duplicate := db.Exec(insertUser, "u2", "dup@example.com", "hash", now, now).Error
		requireCode(t, "duplicate email", duplicate, models.CodeConflict, "already exists")
		samePK := db.Exec(insertUser, "u1", "other@example.com", "hash", now, now).Error
		requireCode(t, "duplicate primary key", samePK, models.CodeConflict, "already exists")

		orphan := db.Exec("INSERT INTO task_tags (task_id, tag_id) VALUES (?, ?)", "no-such-task", "no-such-tag").Error
		requireCode(t, "a link to rows that are not there", orphan, models.CodeInvalid, "the request refers to something that no longer exists")

		syntax := db.Exec("SELEC 1").Error
		internal := requireCode(t, "SQL syntax error", syntax, models.CodeInternal, "internal error")
		if !errors.Is(internal, syntax) {
			t.Error("an internal error must keep its cause for the log")
		}

		expired, cancel := context.WithTimeout(ctx, time.Nanosecond)
		defer cancel()
		time.Sleep(time.Millisecond)
		requireCode(t, "expired context", database.Ping(expired, db), models.CodeUnavailable, "")

		if got := database.Classify(nil); got != nil {
			t.Errorf("Classify(nil) = %v, want nil", got)
		}
		already := models.Errorf(models.CodeInvalid, "bad")
		if got := database.Classify(already); got != already {
			t.Errorf("a model error was changed: %v", got)
		}

		closed := open(t, tdb.URL)
		_ = database.Close(closed)
		requireCode(t, "closed pool", database.Ping(ctx, closed), models.CodeUnavailable, "")
	})
}

// requireCode classifies err and checks its code and, if given, its message.
func requireCode(t *testing.T, what string, err error, want models.Code, message string) error {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	got := database.Classify(err)
	var modelErr *models.Error
	if !errors.As(got, &modelErr) || modelErr.Code != want {
		t.Fatalf("%s: classify(%v) = %v, want code %q", what, err, got, want)
	}
	if message != "" && modelErr.Message != message {
		t.Errorf("%s: message = %q, want %q", what, modelErr.Message, message)
	}
	return got
}

// A lost, refused or stalled PostgreSQL connection is "unavailable", never
// a bug: the API answers 503 and the client retries.
func TestClassifyLostPostgres(t *testing.T) {
	pg := apptest.Postgres(t)
	proxy := apptest.NewTCPProxy(t, apptest.TargetOf(t, pg.URL))
	db := open(t, proxy.URL(pg.URL))
	ctx := context.Background()
	if err := database.Ping(ctx, db); err != nil {
		t.Fatalf("ping through the proxy: %v", err)
	}

	proxy.Pause()
	stalled, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	requireCode(t, "stalled network", database.Ping(stalled, db), models.CodeUnavailable, "")
	proxy.Resume()

	proxy.Close() // cuts the pooled connections and refuses new ones
	start := time.Now()
	requireCode(t, "refused connection", database.Ping(ctx, db), models.CodeUnavailable, "")
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("a refused connection took %v to report", elapsed)
	}

	proxy.Reopen()
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = database.Ping(ctx, db); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("the pool did not recover after the database came back: %v", err)
	}
}

// TestLostPreparedStatementsSwitchTheMode: when a statement fails because
// the server connection lost its prepared statement (what a pooler the
// probe misjudged would cause; DEALLOCATE ALL does the same on a direct
// connection), the pool switches to unprepared statements for good and
// replaces its connections, so the failure is not repeated; the one
// failure is "unavailable" (a 503 the client may retry).
func TestLostPreparedStatementsSwitchTheMode(t *testing.T) {
	pg := apptest.Postgres(t)
	logs := &apptest.LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	ctx := context.Background()
	db, err := database.Open(ctx, database.Options{URL: pg.URL, MaxOpenConns: 1, MaxIdleConns: 1, ConnMaxLifetime: time.Hour, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = database.Close(db) })
	if !strings.Contains(logs.String(), `"mode":"prepared"`) {
		t.Fatalf("a direct connection should start with prepared statements; log:\n%s", logs)
	}
	query := func() error { return database.Ping(ctx, db) }
	if err := query(); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("DEALLOCATE ALL").Error; err != nil {
		t.Fatal(err)
	}
	err = query()
	if err == nil {
		t.Fatal("the cached statement still ran after DEALLOCATE ALL: the test no longer reproduces a lost statement")
	}
	requireCodeOf(t, err, models.CodeUnavailable) // a 503, never a 500
	for i := range 3 {
		if err := query(); err != nil {
			t.Fatalf("query %d after the switch: %v", i, err)
		}
	}
	if !strings.Contains(logs.String(), `"mode":"unprepared"`) {
		t.Fatalf("the switch was not logged:\n%s", logs)
	}
}
