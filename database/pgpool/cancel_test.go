package pgpool_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"taskflow/app/apptest"
	"taskflow/database/pgpool"
)

// TestCancelRequestsWithheldBehindAPooler gives up on a statement by its
// context's deadline, which makes pgx close the connection and, unless
// withheld, send a cancel request on a new connection. PgBouncer before
// 1.20 can crash on a cancel request whose connection closes early, so a
// pool whose statements go unprepared (the pool behind such a pooler)
// sends none. The proxy in front of the server counts the connections:
// the cancel request's is the only one opened after the statement.
func TestCancelRequestsWithheldBehindAPooler(t *testing.T) {
	pg := apptest.Postgres(t)
	for _, tc := range []struct {
		name       string
		query      string
		wantCancel bool
	}{
		{"prepared statements send one", "", true},
		{"unprepared statements withhold it", "default_query_exec_mode=exec", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := apptest.NewTCPProxy(t, apptest.TargetOf(t, pg.URL))
			url := proxy.URL(pg.URL)
			if tc.query != "" {
				url += sep(url) + tc.query
			}
			sqlDB, err := open(t, url).DB()
			if err != nil {
				t.Fatal(err)
			}
			conn, err := sqlDB.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			before := proxy.Accepted()
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if _, err := conn.ExecContext(ctx, "SELECT pg_sleep(2)"); err == nil {
				t.Fatal("a statement past its deadline succeeded")
			}
			// pgx sends the cancel request from a goroutine of its own.
			deadline := time.Now().Add(3 * time.Second)
			for proxy.Accepted() == before && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if sent := proxy.Accepted() > before; sent != tc.wantCancel {
				t.Fatalf("cancel request sent: %v, want %v (connections before %d, after %d)",
					sent, tc.wantCancel, before, proxy.Accepted())
			}
			// The pool goes on: the connection given up on is replaced.
			var one int
			if err := sqlDB.QueryRowContext(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("the pool after a cancelled statement: %d, %v", one, err)
			}
		})
	}
}

func sep(url string) string {
	if strings.Contains(url, "?") {
		return "&"
	}
	return "?"
}

// TestListenerConnectionSendsNoCancelRequest: the change feed's connection
// is given up on while it waits (at shutdown, or when a wait times out),
// with nothing to cancel; it goes wherever DATABASE_URL points when there
// is no direct URL, a pooler included.
func TestListenerConnectionSendsNoCancelRequest(t *testing.T) {
	pg := apptest.Postgres(t)
	proxy := apptest.NewTCPProxy(t, apptest.TargetOf(t, pg.URL))
	cfg, err := pgx.ParseConfig(proxy.URL(pg.URL))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgpool.ConnectListener(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	before := proxy.Accepted()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := conn.Exec(ctx, "SELECT pg_sleep(2)"); err == nil {
		t.Fatal("a statement past its deadline succeeded")
	}
	time.Sleep(time.Second) // pgx would send it from a goroutine of its own
	if after := proxy.Accepted(); after != before {
		t.Fatalf("connections before %d, after %d: a cancel request was sent", before, after)
	}
}
