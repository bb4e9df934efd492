package reliability

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// reliabilityRedisDB is the Redis database number these tests own; they
// flush it before and after use, and no other test uses it.
const reliabilityRedisDB = 11

// redisURL returns the URL of this package's Redis database, flushed now
// and again when the test ends. Without a reachable Redis the test skips
// (fails under CI). TEST_REDIS_URL names the server (default
// redis://127.0.0.1:6379).
func redisURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_REDIS_URL")
	if base == "" {
		base = "redis://127.0.0.1:6379"
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		t.Fatal("TEST_REDIS_URL is not a redis:// URL")
	}
	u.Path = fmt.Sprintf("/%d", reliabilityRedisDB)
	if err := flushRedis(u); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s is required in CI: %v", u.Host, err)
		}
		t.Skipf("Redis at %s is not reachable: %v", u.Host, err)
	}
	t.Cleanup(func() { _ = flushRedis(u) })
	return u.String()
}

// flushRedis empties the database u names, speaking RESP directly: the
// tests need two commands, not a client library.
func flushRedis(u *url.URL) error {
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	var commands [][]string
	if password, ok := u.User.Password(); ok {
		commands = append(commands, []string{"AUTH", password})
	}
	commands = append(commands, []string{"SELECT", strings.TrimPrefix(u.Path, "/")}, []string{"FLUSHDB"})
	for _, args := range commands {
		if err := redisCommand(conn, r, args...); err != nil {
			return fmt.Errorf("redis %s: %w", args[0], err)
		}
	}
	return nil
}

func redisCommand(conn net.Conn, r *bufio.Reader, args ...string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return err
	}
	reply, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(reply, "+") {
		return fmt.Errorf("reply %q", strings.TrimSpace(reply))
	}
	return nil
}
