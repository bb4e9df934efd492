package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"taskflow/app/apptest"
	apiclient "taskflow/client" // the package name is taken by this file's HTTP client
	"taskflow/config"
	"taskflow/database"
)

// These tests run the real binary, built once with the flags a deploy uses,
// the way a platform runs it: configured by its environment only, stopped
// by a signal.

const testVersion = "v0.0.0-test"

var (
	buildOnce   sync.Once
	builtBinary string
	buildErr    error
)

// binary builds taskflow once per test run into a temp dir.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "taskflow-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBinary = filepath.Join(dir, "taskflow")
		cmd := exec.Command("go", "build", "-ldflags", "-s -w -X main.version="+testVersion, "-o", builtBinary, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBinary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBinary != "" {
		_ = os.RemoveAll(filepath.Dir(builtBinary))
	}
	os.Exit(code)
}

// process is the binary running as a child.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *apptest.LogBuffer
	done           chan struct{}
	exitCode       int
}

// start runs the binary in dir with exactly env (nothing inherited).
func start(t *testing.T, dir string, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = env
	if cmd.Env == nil {
		cmd.Env = []string{} // nil would mean "inherit the test's environment"
	}
	p := &process{cmd: cmd, stdout: &apptest.LogBuffer{}, stderr: &apptest.LogBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start taskflow: %v", err)
	}
	go func() {
		err := cmd.Wait()
		p.exitCode = 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			p.exitCode = exitErr.ExitCode()
		} else if err != nil {
			p.exitCode = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.exitCode
	case <-time.After(timeout):
		t.Fatalf("taskflow did not exit within %v", timeout)
		return 0
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

var listeningAddr = regexp.MustCompile(`msg=listening addr=(\S+)`)

// addr waits for the "listening" log line and returns a loopback URL for it.
func (p *process) baseURL(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && !p.exited() {
		if m := listeningAddr.FindStringSubmatch(p.stdout.String()); m != nil {
			_, port, err := net.SplitHostPort(m[1])
			if err != nil {
				t.Fatalf("listening addr %q: %v", m[1], err)
			}
			return "http://127.0.0.1:" + port
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("taskflow did not log its address (exited: %v)", p.exited())
	return ""
}

var client = &http.Client{Timeout: 10 * time.Second}

// waitStatus polls url until it answers want, and returns the last body.
func waitStatus(t *testing.T, p *process, url string, want int, timeout time.Duration) []byte {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return body
			}
			err = fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("GET %s never answered %d: %v (exited: %v)", url, want, err, p.exited())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
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
		port = freePort(t)
		env = []string{"API_PORT=" + strconv.Itoa(port)}
		t.Logf("port 8000 is taken here: running with only API_PORT=%d", port)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	binary(t) // build first: the clock below measures the program's start-up only
	started := time.Now()
	p := start(t, dir, env)
	waitStatus(t, p, base+"/health/live", http.StatusOK, 30*time.Second)
	body := waitStatus(t, p, base+"/health", http.StatusOK, 10*time.Second)
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
	if rss, err := rssKiB(p.cmd.Process.Pid); err == nil {
		t.Logf("idle RSS after start-up: %d KiB", rss)
	}

	if _, err := os.Stat(filepath.Join(dir, database.DefaultSQLitePath)); err != nil {
		t.Errorf("the default SQLite file was not created in the working directory: %v", err)
	}
	logs := p.stdout.String()
	for _, want := range []string{"JWT_SECRET_KEY is not set", "CORS_ORIGINS is not set", "msg=listening", "environment=development"} {
		if !strings.Contains(logs, want) {
			t.Errorf("start-up log lacks %q:\n%s", want, logs)
		}
	}
	requireDualStack(t, p, port)

	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
}

// requireDualStack checks the default host (0.0.0.0) also answers on IPv6,
// where Railway's private network reaches services; skipped without IPv6.
func requireDualStack(t *testing.T, p *process, port int) {
	t.Helper()
	probe, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Logf("no IPv6 loopback here (%v): dual-stack not checked", err)
		return
	}
	_ = probe.Close()
	waitStatus(t, p, fmt.Sprintf("http://[::1]:%d/health/live", port), http.StatusOK, 5*time.Second)
}

func rssKiB(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, errors.New("no VmRSS")
}

func TestProductionRefusesToStartUnconfigured(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, []string{"ENVIRONMENT=production"})
	if code := p.wait(t, 15*time.Second); code == 0 {
		t.Fatal("production with no configuration started")
	}
	stderr := p.stderr.String()
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
	if code := p.wait(t, 15*time.Second); code == 0 {
		t.Fatal("unsafe production settings were accepted")
	}
	out := p.stderr.String() + p.stdout.String()
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
		"DATABASE_URL=postgres://app:" + password + "@127.0.0.1:" + strconv.Itoa(freePort(t)) + "/taskflow?sslmode=disable",
		"API_HOST=127.0.0.1", "API_PORT=0",
	})
	if code := p.wait(t, 30*time.Second); code == 0 {
		t.Fatal("started without its database")
	}
	stderr := p.stderr.String()
	if !strings.Contains(stderr, "cannot open the database") || !strings.Contains(stderr, "connection refused") {
		t.Errorf("stderr does not say the database was unreachable and why:\n%s", stderr)
	}
	if strings.Contains(stderr+p.stdout.String(), password) {
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
	if code := p.wait(t, 30*time.Second); code == 0 {
		t.Fatal("started on a port in use")
	}
	if want := fmt.Sprintf("listen on 127.0.0.1:%d", port); !strings.Contains(p.stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, p.stderr)
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
	env := append(envList(apptest.Env("sqlite://"+filepath.Join(dir, "drain.db"))), "API_HOST=127.0.0.1", "API_PORT=0")
	p := start(t, dir, env)
	base := p.baseURL(t)
	waitStatus(t, p, base+"/health", http.StatusOK, 30*time.Second)
	addr := strings.TrimPrefix(base, "http://")

	body := `{"email":"nobody@example.com","password":"not-the-password"}`
	fast := exchange(t, addr, loginRequest(body), body, 0, nil)

	sigterm := func() {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM: %v", err)
		}
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
	if code := p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
	logs := p.stdout.String()
	for _, want := range []string{"shutting down", "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func envList(env map[string]string) []string {
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	return list
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
	var problem apiclient.Problem
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
		"DATABASE_URL=postgres://postgres@127.0.0.1:" + strconv.Itoa(freePort(t)) + "/nowhere?sslmode=disable",
		"DIRECT_DATABASE_URL=" + pg.URL,
	}
	for run := range 2 {
		p := start(t, t.TempDir(), env, "migrate")
		if code := p.wait(t, 60*time.Second); code != 0 {
			t.Fatalf("migrate run %d exited %d:\n%s%s", run, code, p.stdout, p.stderr)
		}
		if !strings.Contains(p.stdout.String(), "schema is up to date") {
			t.Errorf("migrate did not report success:\n%s", p.stdout)
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
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("version exited %d", code)
	}
	if got := strings.TrimSpace(p.stdout.String()); got != "taskflow "+testVersion {
		t.Errorf("version printed %q, want %q", got, "taskflow "+testVersion)
	}

	bad := start(t, t.TempDir(), nil, "frobnicate")
	if code := bad.wait(t, 10*time.Second); code == 0 {
		t.Fatal("an unknown command exited 0")
	}
	if !strings.Contains(bad.stderr.String(), `unknown command "frobnicate"`) || !strings.Contains(bad.stderr.String(), "usage: taskflow") {
		t.Errorf("stderr = %q, want the usage and the unknown command", bad.stderr)
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
