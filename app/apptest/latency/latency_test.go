package latency_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"taskflow/app/apptest/latency"
)

// echoServer answers every byte it reads with the same byte; greeting, if
// not empty, is sent first, unasked.
func echoServer(t *testing.T, greeting string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if greeting != "" {
					_, _ = io.WriteString(c, greeting)
				}
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func startProxy(t *testing.T, target string, rtt time.Duration) *latency.Proxy {
	t.Helper()
	p, err := latency.Start(target, rtt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close the proxy: %v", err)
		}
	})
	return p
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

func exchange(t *testing.T, c net.Conn, r *bufio.Reader, line string) {
	t.Helper()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadString('\n')
	if err != nil || got != line+"\n" {
		t.Fatalf("echo of %q = %q, %v", line, got, err)
	}
}

func TestProxyAddsTheRoundTripTime(t *testing.T) {
	const rtt = 200 * time.Millisecond
	p := startProxy(t, echoServer(t, ""), rtt)
	c, r := dial(t, p.Addr())
	start := time.Now()
	exchange(t, c, r, "ping")
	if took := time.Since(start); took < rtt {
		t.Fatalf("a round trip took %s through a proxy adding %s", took, rtt)
	}

	p.SetRTT(0)
	if p.RTT() != 0 {
		t.Fatalf("RTT() = %s after SetRTT(0)", p.RTT())
	}
	start = time.Now()
	exchange(t, c, r, "pong")
	if took := time.Since(start); took >= rtt {
		t.Fatalf("a round trip took %s with no added delay, want under %s", took, rtt)
	}
}

// A pipeline is delayed once, not once per message: ten lines sent 10 ms
// apart arrive back about one RTT after the last was sent. A proxy that
// waits out each chunk's delay before reading the next would take ten
// times the one-way delay at least (1 s) for the last.
func TestProxyDoesNotSerialiseChunks(t *testing.T) {
	const rtt = 200 * time.Millisecond
	p := startProxy(t, echoServer(t, ""), rtt)
	c, r := dial(t, p.Addr())
	start := time.Now()
	for i := range 10 {
		if _, err := io.WriteString(c, strings.Repeat("x", i+1)+"\n"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 10 {
		got, err := r.ReadString('\n')
		if err != nil || got != strings.Repeat("x", i+1)+"\n" {
			t.Fatalf("line %d came back as %q, %v: order or bytes lost", i, got, err)
		}
	}
	took := time.Since(start)
	if took < rtt {
		t.Fatalf("ten lines came back in %s, under one RTT (%s)", took, rtt)
	}
	if took >= 900*time.Millisecond {
		t.Fatalf("ten pipelined lines took %s: the proxy delays chunk after chunk instead of all at once", took)
	}
}

func TestProxyCountsTurnsOfTheConversation(t *testing.T) {
	p := startProxy(t, echoServer(t, "hello\n"), 0)
	c, r := dial(t, p.Addr())
	if got, err := r.ReadString('\n'); err != nil || got != "hello\n" {
		t.Fatalf("greeting = %q, %v", got, err)
	}
	if n := p.Count(); n != 0 {
		t.Fatalf("Count() = %d after a greeting the client did not ask for, want 0", n)
	}
	for _, line := range []string{"a", "b", "c"} {
		exchange(t, c, r, line)
	}
	if n := p.Count(); n != 3 {
		t.Fatalf("Count() = %d after three exchanges, want 3", n)
	}

	second, r2 := dial(t, p.Addr())
	if _, err := r2.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	exchange(t, second, r2, "d")
	if got := p.Counts(); len(got) != 2 || got[0] != 3 || got[1] != 1 {
		t.Fatalf("Counts() = %v, want [3 1]", got)
	}

	p.Reset()
	if n := p.Count(); n != 0 {
		t.Fatalf("Count() = %d after Reset, want 0", n)
	}
	exchange(t, second, r2, "e")
	if got := p.Counts(); len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Fatalf("Counts() = %v after Reset and one exchange on the second connection, want [0 1]", got)
	}
	_ = second.Close()
	exchange(t, c, r, "f")
	if n := p.Count(); n != 2 {
		t.Fatalf("Count() = %d, want 2: a closed connection's round trips still count until Reset", n)
	}
}

func TestProxyIgnoresTheRequestsItIsToldTo(t *testing.T) {
	p := startProxy(t, echoServer(t, ""), 0)
	p.SetIgnore(func(request []byte) bool { return strings.HasPrefix(string(request), "poll") })
	c, r := dial(t, p.Addr())
	for _, line := range []string{"poll 1", "get", "poll 2", "put"} {
		exchange(t, c, r, line)
	}
	if n := p.Count(); n != 2 {
		t.Fatalf("Count() = %d with two of four requests ignored, want 2", n)
	}
	var got []string
	for _, req := range p.Requests() {
		got = append(got, string(req))
	}
	if want := "poll 1\n|get\n|poll 2\n|put\n"; strings.Join(got, "|") != want {
		t.Fatalf("Requests() = %q, want every request, ignored ones too: %q", got, want)
	}
	p.Reset()
	if len(p.Requests()) != 0 {
		t.Fatalf("Requests() = %q after Reset, want none", p.Requests())
	}
}

// On PostgreSQL through pgx, the way the app talks to it: a statement
// already prepared on the connection is one round trip, a transaction
// around it three, a batch of three statements one.
func TestProxyCountsPostgresRoundTrips(t *testing.T) {
	dbURL := os.Getenv("TEST_DATABASE_URL")
	if dbURL == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL must be set in CI")
		}
		t.Skip("TEST_DATABASE_URL is not set")
	}
	target, err := latency.TargetOf(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, target, 0)
	proxied, err := p.URL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, proxied)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	selectOne := func() {
		t.Helper()
		var one int
		if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("SELECT 1 = %d, %v", one, err)
		}
	}
	if p.Count() == 0 {
		t.Fatal("connecting made no round trip")
	}
	selectOne() // prepares the statement: a round trip of its own
	p.Reset()
	selectOne()
	if n := p.Count(); n != 1 {
		t.Fatalf("SELECT 1 on a warm connection: %d round trips, want 1", n)
	}

	p.Reset()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var one int
	if err := tx.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := p.Count(); n != 3 {
		t.Fatalf("BEGIN, SELECT 1, COMMIT: %d round trips, want 3", n)
	}

	p.Reset()
	batch := &pgx.Batch{}
	for range 3 {
		batch.Queue("SELECT 1")
	}
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		t.Fatal(err)
	}
	if n := p.Count(); n != 1 {
		t.Fatalf("a batch of three prepared statements: %d round trips, want 1", n)
	}
}

// The proxy splits what a PostgreSQL client sends into its messages: a
// connection's opening, then each typed message, however the bytes were
// cut into chunks.
func TestProxyCountsPostgresMessages(t *testing.T) {
	dbURL := os.Getenv("TEST_DATABASE_URL")
	if dbURL == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL must be set in CI")
		}
		t.Skip("TEST_DATABASE_URL is not set")
	}
	target, err := latency.TargetOf(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, target, 0)
	proxied, err := p.URL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, proxied+"&default_query_exec_mode=simple_protocol")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Messages()[latency.StartupMessage]; got != 1 || p.Accepted() != 1 {
		t.Fatalf("connecting: %d startup messages on %d connections, want 1 on 1", got, p.Accepted())
	}
	p.Reset()
	long := strings.Repeat("x", 100_000) // spans several chunks
	for range 3 {
		var n int
		if err := conn.QueryRow(ctx, "SELECT length($1::text)", long).Scan(&n); err != nil || n != len(long) {
			t.Fatalf("length = %d, %v", n, err)
		}
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Messages()['X'] == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := p.Messages()
	if got['Q'] != 3 || got['X'] != 1 || len(got) != 2 || p.Accepted() != 0 {
		t.Fatalf("3 simple queries, then a goodbye: messages %v on %d new connections, want Q:3 X:1 on none", got, p.Accepted())
	}
}
