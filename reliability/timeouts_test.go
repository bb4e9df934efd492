package reliability

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"taskflow/app/apptest"
)

const (
	slowReadTimeout = time.Second
	slowIdleTimeout = 2 * time.Second
)

// TestSlowClients holds connections open the way slowloris does: headers
// (or a body) trickled a few bytes at a time, and an idle keep-alive
// connection. The server must drop each after READ_TIMEOUT (or
// IDLE_TIMEOUT), however long the client keeps trickling, and go on
// serving everyone else meanwhile.
func TestSlowClients(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), map[string]string{
		"READ_TIMEOUT":  slowReadTimeout.String(),
		"WRITE_TIMEOUT": "2s",
		"IDLE_TIMEOUT":  slowIdleTimeout.String(),
	})
	addr := strings.TrimPrefix(s.URL, "http://")
	_, token := userToken(t)

	type drop struct {
		kind  string
		after time.Duration
		got   string
	}
	var mu sync.Mutex
	var drops []drop
	var wg sync.WaitGroup
	slow := map[string]string{
		"headers": "GET /health/live HTTP/1.1\r\nHost: x\r\n",
		"body": "POST " + tasksPath + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
			"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
	}
	for i := range 10 {
		kind := []string{"headers", "body"}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			after, got := trickle(t, addr, slow[kind], 5*slowReadTimeout)
			mu.Lock()
			drops = append(drops, drop{kind, after, got})
			mu.Unlock()
		}()
	}
	wg.Add(1)
	var idleAfter time.Duration
	go func() {
		defer wg.Done()
		idleAfter = idleKeepAlive(t, addr, 5*slowIdleTimeout)
	}()

	served, slowest := serveMeanwhile(t, s.URL, token, 2*slowReadTimeout)
	wg.Wait()

	for _, d := range drops {
		if d.after < slowReadTimeout*8/10 || d.after > slowReadTimeout+time.Second {
			t.Errorf("slow %s: dropped after %s, want about READ_TIMEOUT (%s)", d.kind, d.after.Round(time.Millisecond), slowReadTimeout)
		}
		if d.got != "" && !strings.HasPrefix(d.got, "HTTP/1.1 408") {
			t.Errorf("slow %s: the server answered %.40q; want a 408 or nothing", d.kind, d.got)
		}
	}
	if idleAfter < slowIdleTimeout*8/10 || idleAfter > slowIdleTimeout+time.Second {
		t.Errorf("idle keep-alive connection closed after %s, want about IDLE_TIMEOUT (%s)", idleAfter.Round(time.Millisecond), slowIdleTimeout)
	}
	if served == 0 || slowest > time.Second {
		t.Errorf("while the slow clients held their connections: %d requests served, slowest %s", served, slowest)
	}
	t.Logf("slow clients: %d trickling connections dropped after %s to %s (READ_TIMEOUT %s); idle keep-alive closed after %s (IDLE_TIMEOUT %s); meanwhile %d normal requests served, slowest %s",
		len(drops), minDrop(drops, func(d drop) time.Duration { return d.after }, true), minDrop(drops, func(d drop) time.Duration { return d.after }, false),
		slowReadTimeout, idleAfter.Round(time.Millisecond), slowIdleTimeout, served, slowest.Round(time.Millisecond))
}

func minDrop[T any](items []T, f func(T) time.Duration, smallest bool) time.Duration {
	var best time.Duration
	for i, it := range items {
		if v := f(it); i == 0 || (smallest && v < best) || (!smallest && v > best) {
			best = v
		}
	}
	return best.Round(time.Millisecond)
}

// trickle connects, writes prefix, then one more byte every 100ms, until
// the server closes the connection or limit passes. It returns how long
// the connection lived and what the server sent, if anything.
func trickle(t testing.TB, addr, prefix string, limit time.Duration) (time.Duration, string) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Errorf("dial: %v", err)
		return 0, ""
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, prefix); err != nil {
		return time.Since(start), ""
	}
	closed := make(chan string, 1)
	go func() {
		data, _ := io.ReadAll(conn) // returns when the server closes
		closed <- string(data)
	}()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case got := <-closed:
			return time.Since(start), got
		case <-ticker.C:
			if time.Since(start) > limit {
				t.Errorf("a trickling connection was still open after %s", limit)
				return time.Since(start), ""
			}
			_, _ = io.WriteString(conn, "X") // header bytes or body bytes, never finishing either
		}
	}
}

// idleKeepAlive makes one request on a connection, then waits for the
// server to close it, and returns how long that took.
func idleKeepAlive(t testing.TB, addr string, limit time.Duration) time.Duration {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Errorf("dial: %v", err)
		return 0
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
		t.Errorf("keep-alive request: %v %q", err, buf[:n])
		return 0
	}
	idleSince := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(limit))
	for {
		if _, err := conn.Read(buf); err != nil {
			return time.Since(idleSince)
		}
	}
}

// serveMeanwhile makes normal requests for d and returns how many
// succeeded and the slowest one; any failure fails the test.
func serveMeanwhile(t testing.TB, baseURL, token string, d time.Duration) (int, time.Duration) {
	client := newClient(true, 5*time.Second)
	var served int
	var slowest time.Duration
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		o := send(context.Background(), client, baseURL, call{Method: http.MethodGet, Path: tasksPath, Token: token})
		if o.Err != nil || o.Status != http.StatusOK {
			t.Errorf("a normal request failed while slow clients held connections: %s", o)
			continue
		}
		served++
		slowest = max(slowest, o.Duration)
		time.Sleep(20 * time.Millisecond)
	}
	return served, slowest
}

// TestSlowQuery pauses the database (the proxy holds every byte) with
// DB_QUERY_TIMEOUT=1s: requests must fail with 503 in about a second, a
// burst larger than the connection pool must not pile up behind it, and the
// server must keep answering what needs no database.
func TestSlowQuery(t *testing.T) {
	skipInShort(t)
	db := apptest.Postgres(t)
	proxy := apptest.NewTCPProxy(t, apptest.TargetOf(t, db.URL))
	s := apptest.Start(t, apptest.Database{Name: db.Name, URL: proxy.URL(db.URL)}, map[string]string{
		"DB_QUERY_TIMEOUT":  "1s",
		"DB_MAX_OPEN_CONNS": "4",
		"DB_MAX_IDLE_CONNS": "4",
	})
	_, token := userToken(t)
	taskID := createTask(t, http.DefaultClient, s.URL, token, "before the pause")

	proxy.Pause()
	client := newClient(true, 10*time.Second)
	requests := []call{
		{Method: http.MethodGet, Path: tasksPath},
		{Method: http.MethodPost, Path: tasksPath, Body: []byte(`{"title":"during the pause"}`)},
		{Method: http.MethodGet, Path: tasksPath + "/" + taskID},
		{Method: http.MethodPatch, Path: tasksPath + "/" + taskID, Body: []byte(`{"completed":true}`)},
	}
	const burst = 24 // six times the pool
	outcomes := make([]outcome, burst)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range outcomes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := requests[i%len(requests)]
			c.Token = token
			outcomes[i] = send(context.Background(), client, s.URL, c)
		}()
	}
	live := send(context.Background(), client, s.URL, call{Method: http.MethodGet, Path: "/health/live"})
	wg.Wait()
	burstTook := time.Since(start)
	proxy.Resume()

	var fastest, slowest time.Duration
	for i, o := range outcomes {
		requireProblem(t, o, http.StatusServiceUnavailable)
		if i == 0 || o.Duration < fastest {
			fastest = o.Duration
		}
		slowest = max(slowest, o.Duration)
	}
	if fastest < 800*time.Millisecond || slowest > 2500*time.Millisecond {
		t.Errorf("503s came after %s to %s; want about DB_QUERY_TIMEOUT (1s)", fastest, slowest)
	}
	requireStatus(t, live, http.StatusOK)
	if live.Duration > 500*time.Millisecond {
		t.Errorf("/health/live took %s while the database hung", live.Duration)
	}
	recovered := time.Now()
	for {
		o := send(context.Background(), client, s.URL, call{Method: http.MethodGet, Path: tasksPath, Token: token})
		if o.Status == http.StatusOK {
			break
		}
		if time.Since(recovered) > maxRecovery {
			t.Fatalf("no success within %s of the database's return: %s", maxRecovery, o)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("slow query: %d concurrent requests on a pool of 4, database paused: all 503 after %s to %s (burst done in %s); /health/live meanwhile in %s; recovered %s after resume",
		burst, fastest.Round(time.Millisecond), slowest.Round(time.Millisecond), burstTook.Round(time.Millisecond),
		live.Duration.Round(time.Millisecond), time.Since(recovered).Round(time.Millisecond))
}
