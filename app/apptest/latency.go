package apptest

import (
	"testing"
	"time"

	"taskflow/app/apptest/latency"
)

// LatencyProxy puts a latency proxy adding rtt per round trip between the
// test and db (a PostgreSQL database) and returns it with db as seen
// through it. The proxy closes when the test ends.
func LatencyProxy(t testing.TB, db Database, rtt time.Duration) (*latency.Proxy, Database) {
	t.Helper()
	target, err := latency.TargetOf(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := latency.Start(target, rtt)
	if err != nil {
		t.Fatalf("latency proxy: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	proxied, err := p.URL(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	return p, Database{Name: db.Name, URL: proxied}
}
