package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"taskflow/app/apptest"
	"taskflow/app/apptest/proc"
	"taskflow/client"
	"taskflow/config"
	"taskflow/database"
)

// These tests run the real binary, built once with the flags a deploy uses,
// the way a platform runs it: configured by its environment only, stopped
// by a signal.

const testVersion = apptest.BinaryVersion

func TestMain(m *testing.M) { apptest.RunMain(m) }

// start runs the binary in dir with exactly env (nothing inherited).
func start(t *testing.T, dir string, env []string, args ...string) *apptest.Process {
	t.Helper()
	return apptest.StartProcess(t, proc.Options{Dir: dir, Env: env, Args: args})
}

// TestStartsWithNoEnvironment: `taskflow` with no variable at all serves a
// healthy API on an embedded SQLite file.
//
// Literally no environment means the default address, 0.0.0.0:8000. When
// port 8000 is free the test does exactly that; when something else holds
// it (another service on a developer's machine), the only variable given is
// API_PORT, which changes the port and nothing else. Either way the start-up
// path is the default one, and config.Load of an empty environment is
// checked to be valid on its own as well.
func TestStartsWithNoEnvironment(t *testing.T) {
	if _, err := config.Load(func(string) string { return "" }); err != nil {
		t.Fatalf("an empty environment is not a valid configuration: %v", err)
	}
	dir := t.TempDir()
	port := 8000
	env := []string{}
	if ln, err := net.Listen("tcp", ":8000"); err == nil {
		_ = ln.Close()
	} else {
		port = apptest.FreePort(t)
		env = []string{"API_PORT=" + strconv.Itoa(port)}
		t.Logf("port 8000 is taken here: running with only API_PORT=%d", port)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	apptest.Binary(t) // build first: the clock below measures the program's start-up only
	started := time.Now()
	p := start(t, dir, env)
	p.WaitStatus(t, base+"/health/live", http.StatusOK, 30*time.Second)
	body := p.WaitStatus(t, base+"/health", http.StatusOK, 10*time.Second)
	healthyAfter := time.Since(started)
	var health map[string]any
	if err := json.Unmarshal(body, &health); err != nil {
		t.Fatalf("/health body is not JSON: %s", body)
	}
	if health["status"] != "ok" || health["database"] != "ok" || health["version"] != testVersion {
		t.Fatalf("/health = %s, want status ok, database ok, version %s", body, testVersion)
	}
	t.Logf("start-up to first healthy response: %v", healthyAfter)
	if healthyAfter > 10*time.Second {
		t.Errorf("start-up took %v", healthyAfter)
	}
	if st, err := proc.ReadStats(p.Pid()); err == nil {
		t.Logf("idle RSS after start-up: %d KiB", st.RSSKiB)
	}

	if _, err := os.Stat(filepath.Join(dir, database.DefaultSQLitePath)); err != nil {
		t.Errorf("the default SQLite file was not created in the working directory: %v", err)
	}
	logs := p.Stdout()
	for _, want := range []string{"JWT_SECRET_KEY is not set", "CORS_ORIGINS is not set", "msg=listening", "environment=development"} {
		if !strings.Contains(logs, want) {
			t.Errorf("start-up log lacks %q:\n%s", want, logs)
		}
	}
	requireDualStack(t, p, port)

	p.Signal(t, syscall.SIGTERM)
	if code := p.WaitExit(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
}

// requireDualStack checks the default host (0.0.0.0) also answers on IPv6,
// where Railway's private network reaches services; skipped without IPv6.
func requireDualStack(t *testing.T, p *apptest.Process, port int) {
	t.Helper()
	probe, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Logf("no IPv6 loopback here (%v): dual-stack not checked", err)
		return
	}
	_ = probe.Close()
	p.WaitStatus(t, fmt.Sprintf("http://[::1]:%d/health/live", port), http.StatusOK, 5*time.Second)
}

func TestProductionRefusesToStartUnconfigured(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, []string{"ENVIRONMENT=production"})
	if code := p.WaitExit(t, 15*time.Second); code == 0 {
		t.Fatal("production with no configuration started")
	}
	stderr := p.Stderr()
	for _, name := range []string{"DATABASE_URL", "JWT_SECRET_KEY", "BETTER_AUTH_SECRET", "CORS_ORIGINS"} {
		if !strings.Contains(stderr, name) {
			t.Errorf("stderr does not name %s:\n%s", name, stderr)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused start created files: %v", entries)
	}
}

func TestUnsafeProductionSettingsAreRefusedWithoutEchoingSecrets(t *testing.T) {
	const shortSecret = "short-SECRET-7f3a"
	const dbPassword = "db-PASSWORD-9e2b"
	p := start(t, t.TempDir(), []string{
		"ENVIRONMENT=production",
		"DATABASE_URL=postgres://app:" + dbPassword + "@db.example.com/taskflow",
		"JWT_SECRET_KEY=" + shortSecret,
		"BETTER_AUTH_SECRET=" + shortSecret,
		"CORS_ORIGINS=*",
		"DEBUG=true",
	})
	if code := p.WaitExit(t, 15*time.Second); code == 0 {
		t.Fatal("unsafe production settings were accepted")
	}
	out := p.Stderr() + p.Stdout()
	for _, want := range []string{"JWT_SECRET_KEY: must be at least 32 characters", "CORS_ORIGINS: * is not allowed", "DEBUG: must not be true in production"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{shortSecret, dbPassword} {
		if strings.Contains(out, secret) {
			t.Errorf("output contains the secret %q:\n%s", secret, out)
		}
	}
}

func TestUnreachableDatabaseFailsStartWithoutThePassword(t *testing.T) {
	const password = "pw-SECRET-3c4d"
	p := start(t, t.TempDir(), []string{
		"DATABASE_URL=postgres://app:" + password + "@127.0.0.1:" + strconv.Itoa(apptest.FreePort(t)) + "/taskflow?sslmode=disable",
		"API_HOST=127.0.0.1", "API_PORT=0",
	})
	if code := p.WaitExit(t, 30*time.Second); code == 0 {
		t.Fatal("started without its database")
	}
	stderr := p.Stderr()
	if !strings.Contains(stderr, "cannot open the database") || !strings.Contains(stderr, "connection refused") {
		t.Errorf("stderr does not say the database was unreachable and why:\n%s", stderr)
	}
	if strings.Contains(stderr+p.Stdout(), password) {
		t.Errorf("the output contains the database password:\n%s", stderr)
	}
}

func TestPortInUseIsReportedAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	p := start(t, t.TempDir(), []string{"API_HOST=127.0.0.1", "API_PORT=" + strconv.Itoa(port)})
	if code := p.WaitExit(t, 30*time.Second); code == 0 {
		t.Fatal("started on a port in use")
	}
	if want := fmt.Sprintf("listen on 127.0.0.1:%d", port); !strings.Contains(p.Stderr(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, p.Stderr())
	}
}

// TestSIGTERMDrainsInFlightRequests sends SIGTERM while a request is in
// flight and checks it still gets its whole answer before the process
// exits 0.
//
// There is no slow endpoint, and none is added for this: the request is
// made slow by the client, the way a phone on a bad network is slow. It
// sends a login request whose JSON body trickles in over about a second
// (Content-Length announced, bytes sent in small pieces). To know the
// server really holds the request when the signal goes, the client sends
// "Expect: 100-continue" and waits for the server's "100 Continue", which
// it sends once it has read the headers; only then comes SIGTERM, and the
// body. The server must read the rest, answer exactly as it answers the
// same request sent at once, then exit 0. Meanwhile new connections are
// refused: the listener is closed first.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	dir := t.TempDir()
	env := append(proc.Environ(apptest.Env("sqlite://"+filepath.Join(dir, "drain.db"))), "API_HOST=127.0.0.1", "API_PORT=0")
	p := start(t, dir, env)
	base := p.WaitReady(t, 30*time.Second)
	p.WaitStatus(t, base+"/health", http.StatusOK, 30*time.Second)
	addr := strings.TrimPrefix(base, "http://")

	body := `{"email":"nobody@example.com","password":"not-the-password"}`
	fast := exchange(t, addr, loginRequest(body), body, 0, nil)

	sigterm := func() {
		p.Signal(t, syscall.SIGTERM)
		// Once the server has closed its listener, new connections are refused.
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err != nil {
				return
			}
			_ = c.Close()
			time.Sleep(20 * time.Millisecond)
		}
		t.Error("new connections were still accepted 2s after SIGTERM")
	}
	start := time.Now()
	slow := exchange(t, addr, loginRequest(body), body, time.Second, sigterm)
	t.Logf("the slow request took %v and got %d", time.Since(start), slow.StatusCode)

	if slow.StatusCode != fast.StatusCode || slow.problemType != fast.problemType {
		t.Fatalf("the drained request got %d %s, want what it gets when sent at once: %d %s",
			slow.StatusCode, slow.problemType, fast.StatusCode, fast.problemType)
	}
	if !slow.Close { // net/http turns "Connection: close" into Close
		t.Error("an answer sent while shutting down does not say Connection: close")
	}
	if code := p.WaitExit(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
	logs := p.Stdout()
	for _, want := range []string{"shutting down", "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func loginRequest(body string) string {
	return "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
}

type answer struct {
	*http.Response
	problemType string
}

// exchange sends head (the request line and headers, without the blank
// line), then body spread evenly over spread (at once when 0). With midway,
// it asks for "100 Continue", waits for it and calls midway before the body.
func exchange(t *testing.T, addr, head, body string, spread time.Duration, midway func()) answer {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	reader := bufio.NewReader(conn)
	if midway != nil {
		head += "Expect: 100-continue\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	if midway != nil {
		interim, err := http.ReadResponse(reader, nil)
		if err != nil || interim.StatusCode != http.StatusContinue {
			t.Fatalf("waiting for 100 Continue: %v %v", interim, err)
		}
		midway() // the server is now reading this request's body
	}
	const pieces = 10
	size := (len(body) + pieces - 1) / pieces
	for i := 0; i < len(body) && err == nil; i += size {
		_, err = io.WriteString(conn, body[i:min(i+size, len(body))])
		time.Sleep(spread / pieces)
	}
	if err != nil {
		t.Fatalf("send the request: %v", err)
	}
	resp, err := http.ReadResponse(reader, nil)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer's body: %v", err)
	}
	var problem client.Problem
	_ = json.Unmarshal(data, &problem)
	if problem.Type == "" {
		t.Fatalf("the answer is not a problem document: %d %s", resp.StatusCode, data)
	}
	return answer{Response: resp, problemType: problem.Type}
}

// TestMigrateCommand: `taskflow migrate` against a fresh PostgreSQL database
// creates the schema and exits 0; run again, it changes nothing. It connects
// to DIRECT_DATABASE_URL when set: DATABASE_URL here points nowhere.
func TestMigrateCommand(t *testing.T) {
	pg := apptest.Postgres(t)
	env := []string{
		"DATABASE_URL=postgres://postgres@127.0.0.1:" + strconv.Itoa(apptest.FreePort(t)) + "/nowhere?sslmode=disable",
		"DIRECT_DATABASE_URL=" + pg.URL,
	}
	for run := range 2 {
		p := start(t, t.TempDir(), env, "migrate")
		if code := p.WaitExit(t, 60*time.Second); code != 0 {
			t.Fatalf("migrate run %d exited %d:\n%s%s", run, code, p.Stdout(), p.Stderr())
		}
		if !strings.Contains(p.Stdout(), "schema is up to date") {
			t.Errorf("migrate did not report success:\n%s", p.Stdout())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := database.Open(ctx, database.Options{URL: pg.URL, MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer database.Close(db)
	for _, table := range []string{"users", "refresh_tokens", "tasks", "tags", "task_tags"} {
		if !db.Migrator().HasTable(table) {
			t.Errorf("table %s was not created", table)
		}
	}
}

func TestVersionAndUsage(t *testing.T) {
	p := start(t, t.TempDir(), nil, "version")
	if code := p.WaitExit(t, 10*time.Second); code != 0 {
		t.Fatalf("version exited %d", code)
	}
	if got := strings.TrimSpace(p.Stdout()); got != "taskflow "+testVersion {
		t.Errorf("version printed %q, want %q", got, "taskflow "+testVersion)
	}

	bad := start(t, t.TempDir(), nil, "frobnicate")
	if code := bad.WaitExit(t, 10*time.Second); code == 0 {
		t.Fatal("an unknown command exited 0")
	}
	if !strings.Contains(bad.Stderr(), `unknown command "frobnicate"`) || !strings.Contains(bad.Stderr(), "usage: taskflow") {
		t.Errorf("stderr = %q, want the usage and the unknown command", bad.Stderr())
	}

	// run itself, without a process: help goes to stdout and succeeds.
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"taskflow", "help"}, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("help: %v", err)
	}
	if !strings.Contains(stdout.String(), "migrate") {
		t.Errorf("help = %q", stdout.String())
	}
}
