package reliability

import (
	"strings"
	"testing"
	"time"

	"taskflow/app/apptest"
)

// TestDatabaseOutageThroughPgBouncer is TestDatabaseOutage with the app
// behind a PgBouncer in transaction mode, reached with a plain URL, as on
// Railway in front of Neon: PostgreSQL's host goes away under the pooler
// (a proxy between PgBouncer and the server closes, so the pooler's server
// connections are reset and new ones refused) and comes back. The app keeps
// its connections to PgBouncer all along, so what it sees is the pooler's
// own errors and waits: every answer must still be a success or a 503, the
// service must recover on its own, and no acknowledged write may be lost.
func TestDatabaseOutageThroughPgBouncer(t *testing.T) {
	skipInShort(t)
	db := apptest.Postgres(t)
	proxy := apptest.NewTCPProxy(t, apptest.TargetOf(t, db.URL))
	// PgBouncer waits server_login_retry (15 s by default) after a failed
	// connection before it tries the server again: the recovery time is
	// bounded by that setting, so the test sets it to 1 s.
	bouncer := apptest.StartPgBouncer(t, proxy.Addr(), apptest.PgBouncerOptions{ServerLoginRetry: time.Second})
	s := startOutageServer(t, db, bouncer.URL(t, db.URL))
	if logs := s.Logs(); !strings.Contains(logs, `"mode":"unprepared"`) {
		t.Fatalf("through PgBouncer 1.18 with a plain URL the server should have chosen unprepared statements:\n%s", logs)
	}
	runOutageOn(t, "pgbouncer, server cut", s, db, proxy.Close, proxy.Reopen)
}
