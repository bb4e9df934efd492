package database_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"taskflow/app/apptest"
	"taskflow/database"
)

// flightCounter relays TCP connections to a PostgreSQL server and counts,
// per connection, the client's flights: runs of bytes from the client with
// no byte from the server in between. Every flight but a last one nobody
// answers is a round trip the client waited for, whatever the messages.
type flightCounter struct {
	t        testing.TB
	target   string
	listener net.Listener

	mu      sync.Mutex
	flights []int // per accepted connection, in order
}

func newFlightCounter(t testing.TB, target string) *flightCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &flightCounter{t: t, target: target, listener: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.flights = append(c.flights, 0)
			index := len(c.flights) - 1
			c.mu.Unlock()
			wg.Go(func() { c.relay(client, index) })
		}
	})
	return c
}

// relay forwards one connection; the last side to have sent bytes tells a
// new client flight from the rest of one.
func (c *flightCounter) relay(client net.Conn, index int) {
	defer client.Close()
	server, err := net.DialTimeout("tcp", c.target, 5*time.Second)
	if err != nil {
		return
	}
	defer server.Close()
	var mu sync.Mutex
	lastFromClient := false
	copyCounting := func(dst, src net.Conn, fromClient bool) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				mu.Lock()
				if fromClient && !lastFromClient {
					c.mu.Lock()
					c.flights[index]++
					c.mu.Unlock()
				}
				lastFromClient = fromClient
				mu.Unlock()
				if _, err := dst.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				if err != io.EOF {
					return
				}
				_ = dst.(*net.TCPConn).CloseWrite()
				return
			}
		}
	}
	done := make(chan struct{})
	go func() { copyCounting(server, client, true); close(done) }()
	copyCounting(client, server, false)
	<-done
}

func (c *flightCounter) url(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = c.listener.Addr().String()
	return u.String()
}

// snapshot returns the flights of every connection so far.
func (c *flightCounter) snapshot() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.flights...)
}

// TestConnectionSetUpRoundTrips measures what a new PostgreSQL connection
// costs our driver stack in round trips on this machine's server (trust
// authentication, no TLS), beyond the TCP handshake: the figures of
// docs/benchmarks.md's "Connection set-up" section. pgx sends nothing on
// connect but its startup message, and database/sql's pool runs nothing on
// a new connection, so a connection is ready after one round trip; the
// start-up probe of the statement mode and the two pings are paid once.
func TestConnectionSetUpRoundTrips(t *testing.T) {
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL must be set in CI")
		}
		t.Skip("TEST_DATABASE_URL is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	counter := newFlightCounter(t, apptest.TargetOf(t, base))
	via := counter.url(t, base)

	// One pgx connection, then one query on it.
	cfg, err := pgx.ParseConfig(via)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	connect := counter.snapshot()[0]
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	firstQuery := counter.snapshot()[0] - connect
	_ = conn.Close(ctx)
	if connect != 1 {
		t.Errorf("a pgx connection took %d round trips to be ready, want 1 (startup message, trust)", connect)
	}
	// The cache_statement mode prepares a statement on its first use on a
	// connection (Parse/Describe, then Bind/Execute): two round trips once.
	if firstQuery != 2 {
		t.Errorf("the first parameterless query on a prepared-mode connection took %d round trips, want 2", firstQuery)
	}

	// The server's pool: Open pays the probe once; a further connection
	// the pool opens costs only pgx's set-up.
	before := len(counter.snapshot())
	db, err := database.Open(ctx, database.Options{URL: via, MaxOpenConns: 4, MaxIdleConns: 4, ConnMaxLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = database.Close(db) })
	opened := counter.snapshot()[before:]
	// The probe settles a direct connection with one connection of its own
	// (its cancel key names its server process); the pool then opens one.
	if len(opened) != 2 {
		t.Errorf("database.Open on a direct connection opened %d connections, want 2 (the probe's and the pool's)", len(opened))
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	held, err := sqlDB.Conn(ctx) // the pool's one idle connection
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	second, err := sqlDB.Conn(ctx) // a new one
	if err != nil {
		t.Fatal(err)
	}
	_ = second.Close()
	all := counter.snapshot()
	newConn := all[len(all)-1]
	if len(all) != before+len(opened)+1 || newConn != 1 {
		t.Errorf("a connection the pool opened took %d round trips (connections %d -> %d), want 1 and one more connection", newConn, before+len(opened), len(all))
	}
	t.Logf("round trips after TCP's handshake: pgx connect %d, first query on a connection %d; database.Open: %d connections with %v round trips (statement-mode probe and pings); a pooled connection opened later: %d",
		connect, firstQuery, len(opened), opened, newConn)
}
