package apptest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PgBouncer is a PgBouncer process of one test's own, in transaction
// pooling mode, in front of a PostgreSQL server (or of a TCPProxy to one),
// so that a test can put the pooler between the app and a database it can
// take away. Its admin console is the database "pgbouncer" for user
// postgres (see AdminURL).
type PgBouncer struct {
	Addr string // 127.0.0.1:port the pooler listens on
	dir  string
	logs *LogBuffer
}

// PgBouncerOptions are the settings a test may change; the rest are the
// ones CI's PgBouncer runs with.
type PgBouncerOptions struct {
	// ServerLoginRetry is how long PgBouncer waits after a failed connection
	// to the server before it tries again: 1 s, as in CI, when zero
	// (PgBouncer's own default is 15 s).
	ServerLoginRetry time.Duration
	// Extra lines appended to the [pgbouncer] section.
	Extra []string
}

// StartPgBouncer runs the pgbouncer binary (from PATH, or Debian's
// /usr/sbin) in transaction pooling mode, every database name going to
// target (host:port), with trust authentication for user postgres, until
// the test ends. Without the binary it skips, or fails under CI=true.
// PgBouncer refuses to run as root: as root, it runs as user postgres.
func StartPgBouncer(t testing.TB, target string, opts PgBouncerOptions) *PgBouncer {
	t.Helper()
	binary := pgbouncerBinary(t)
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		t.Fatalf("pgbouncer target %q: %v", target, err)
	}
	// Not t.TempDir: its parent is private to the test's user, and the
	// pooler may run as another one.
	dir, err := os.MkdirTemp("", "taskflow-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	listen := FreePort(t)
	ini := pgbouncerINI(dir, host, port, listen, opts)
	if err := os.WriteFile(filepath.Join(dir, "pgbouncer.ini"), []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	// auth_type trust still wants the user listed.
	if err := os.WriteFile(filepath.Join(dir, "userlist.txt"), []byte(`"postgres" ""`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if os.Geteuid() == 0 {
		if err := chownTo(dir, "postgres"); err != nil {
			t.Fatalf("pgbouncer refuses root and user postgres is not usable: %v", err)
		}
		args = append([]string{"-u", "postgres"}, args...)
	}
	b := &PgBouncer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(listen)), dir: dir, logs: &LogBuffer{}}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = b.logs, b.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("pgbouncer's log:\n%s", lastLines(b.logs.String(), 30))
		}
	})
	b.waitListening(t, exited, 15*time.Second)
	return b
}

func pgbouncerBinary(t testing.TB) string {
	t.Helper()
	if path, err := exec.LookPath("pgbouncer"); err == nil {
		return path
	}
	if _, err := os.Stat("/usr/sbin/pgbouncer"); err == nil {
		return "/usr/sbin/pgbouncer"
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("pgbouncer must be installed in CI: the PgBouncer tests may not be skipped")
	}
	t.Skip("pgbouncer is not installed")
	return ""
}

// pgbouncerINI is CI's PgBouncer configuration (.ci/run, start_pgbouncer)
// with the test's own port, server and directory, and an admin console.
func pgbouncerINI(dir, host, port string, listen int, opts PgBouncerOptions) string {
	lines := []string{
		"[databases]",
		fmt.Sprintf("* = host=%s port=%s", host, port),
		"",
		"[pgbouncer]",
		"listen_addr = 127.0.0.1",
		fmt.Sprintf("listen_port = %d", listen),
		"unix_socket_dir =",
		"auth_type = trust",
		"auth_file = " + filepath.Join(dir, "userlist.txt"),
		"admin_users = postgres",
		"pool_mode = transaction",
		"max_client_conn = 500",
		"default_pool_size = 20",
		"ignore_startup_parameters = extra_float_digits",
		fmt.Sprintf("server_login_retry = %d", max(1, int(opts.ServerLoginRetry.Seconds()))),
	}
	lines = append(lines, opts.Extra...)
	return strings.Join(lines, "\n") + "\n"
}

// chownTo gives dir and everything in it to the named user.
func chownTo(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return err
	}
	return filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(path, uid, gid)
	})
}

// waitListening waits until the pooler accepts connections, failing the
// test if it exits first or takes longer than timeout.
func (b *PgBouncer) waitListening(t testing.TB, exited <-chan struct{}, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-exited:
			t.Fatalf("pgbouncer exited at start-up:\n%s", lastLines(b.logs.String(), 30))
		default:
		}
		if c, err := net.DialTimeout("tcp", b.Addr, time.Second); err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer does not listen on %s after %s:\n%s", b.Addr, timeout, lastLines(b.logs.String(), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL returns dbURL (postgres://user@host:port/db?...) pointed at the
// pooler instead, the database name and settings unchanged.
func (b *PgBouncer) URL(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("pgbouncer: %v", err)
	}
	u.Host = b.Addr
	return u.String()
}

// AdminURL is the URL of the pooler's admin console (SHOW, PAUSE, KILL...),
// which speaks only the simple query protocol.
func (b *PgBouncer) AdminURL() string {
	return "postgres://postgres@" + b.Addr + "/pgbouncer?sslmode=disable&default_query_exec_mode=simple_protocol"
}

// Logs is what the pooler logged so far.
func (b *PgBouncer) Logs() string { return b.logs.String() }
