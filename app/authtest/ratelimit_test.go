package authtest_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"taskflow/app"
	"taskflow/app/apptest"
	"taskflow/database"
	"taskflow/models"
)

// createAccount registers email straight through the store, so the
// register limit is not spent on setting up a rate-limit test.
func createAccount(t testing.TB, s *apptest.Server, email, password string) {
	t.Helper()
	_, err := database.NewUsers(s.DB).Create(context.Background(), models.Registration{Email: email, Password: password})
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
}

// requireRateLimited asserts r is a 429 problem with a Retry-After of 1
// to maxSeconds seconds.
func requireRateLimited(t testing.TB, r apptest.Response, maxSeconds int) {
	t.Helper()
	apptest.RequireProblem(t, r, 429)
	seconds, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || seconds < 1 || seconds > maxSeconds {
		t.Fatalf("Retry-After = %q, want 1 to %d seconds", r.Header.Get("Retry-After"), maxSeconds)
	}
}

// TestLoginRateLimitPerIP: the 11th login from one address within a
// minute is refused, and headers a client sets itself do not reset it.
func TestLoginRateLimitPerIP(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), map[string]string{"LOGIN_FAIL_LIMIT": "1000"})
	api := newAuthAPI(t, s)
	createAccount(t, s, "limited@example.com", api.usePassword("a limited password"))
	spoof := func(i int) map[string]string {
		ip := fmt.Sprintf("198.51.100.%d", i+1)
		return map[string]string{"X-Forwarded-For": ip, "X-Real-IP": ip}
	}
	login := apptest.Request{Method: "POST", Path: "/api/v1/auth/login",
		Body: map[string]any{"email": "limited@example.com", "password": "a limited password"}}
	for i := range 10 {
		login.Headers = spoof(i)
		apptest.RequireStatus(t, api.do(t, login), 200)
	}
	login.Headers = spoof(10)
	requireRateLimited(t, api.do(t, login), 60)

	// Register has its own limit, untouched by the logins.
	r := api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/register",
		Body: map[string]any{"email": "fresh@example.com", "password": api.usePassword("a fresh password")}})
	apptest.RequireStatus(t, r, 201)
}

// TestRegisterRateLimitPerIP: register has the same per-IP limit.
func TestRegisterRateLimitPerIP(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	api := newAuthAPI(t, s)
	for i := range 10 {
		api.register(t, fmt.Sprintf("user%d@example.com", i), "a fine password")
	}
	r := api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/register",
		Body: map[string]any{"email": "eleventh@example.com", "password": "a fine password"}})
	requireRateLimited(t, r, 60)
}

// TestRateLimitBehindTrustedProxy: behind a trusted proxy each client
// address the proxy reports has its own count.
func TestRateLimitBehindTrustedProxy(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), map[string]string{
		"TRUSTED_PROXIES": "127.0.0.1", "PROXY_HEADER": "X-Real-IP", "LOGIN_FAIL_LIMIT": "1000",
	})
	api := newAuthAPI(t, s)
	createAccount(t, s, "proxied@example.com", api.usePassword("a proxied password"))
	login := func(clientIP string) apptest.Response {
		return api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/login", Headers: map[string]string{"X-Real-IP": clientIP},
			Body: map[string]any{"email": "proxied@example.com", "password": "a proxied password"}})
	}
	for range 10 {
		apptest.RequireStatus(t, login("203.0.113.7"), 200)
	}
	requireRateLimited(t, login("203.0.113.7"), 60)
	apptest.RequireStatus(t, login("203.0.113.8"), 200)
}

// TestRateLimitSharedThroughRedis runs two instances over one Redis: the
// count is shared, as replicas share it. The instances sit behind a
// trusted proxy that reports a client address of this test run's own, so
// other runs on the same Redis count apart.
func TestRateLimitSharedThroughRedis(t *testing.T) {
	db := apptest.SQLite(t)
	overrides := map[string]string{"LOGIN_FAIL_LIMIT": "1000", "TRUSTED_PROXIES": "127.0.0.1", "PROXY_HEADER": "X-Real-IP"}
	first := apptest.StartWithRedis(t, db, overrides, testRedis(t))
	second := apptest.StartWithRedis(t, db, overrides, testRedis(t))
	apiFirst, apiSecond := newAuthAPI(t, first), newAuthAPI(t, second)
	createAccount(t, first, "replicated@example.com", apiFirst.usePassword("a replicated password"))
	login := apptest.Request{Method: "POST", Path: "/api/v1/auth/login",
		Headers: map[string]string{"X-Real-IP": randomClientIP(t)},
		Body:    map[string]any{"email": "replicated@example.com", "password": "a replicated password"}}
	for i := range 10 {
		api := []*authAPI{apiFirst, apiSecond}[i%2]
		apptest.RequireStatus(t, api.do(t, login), 200)
	}
	requireRateLimited(t, apiFirst.do(t, login), 60)
	requireRateLimited(t, apiSecond.do(t, login), 60)
}

// testRedis connects to the test Redis (TEST_REDIS_URL, default
// redis://127.0.0.1:6379/0) with its own client, as a replica would.
// Without a Redis it skips, except in CI where it fails.
func testRedis(t testing.TB) *redis.Client {
	t.Helper()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	cfg := apptest.LoadConfig(t, map[string]string{"ENVIRONMENT": "test", "REDIS_URL": url})
	client, err := app.OpenRedis(context.Background(), cfg)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis is required in CI: %v", err)
		}
		t.Skipf("no Redis (%v): the shared rate-limit test is skipped", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// randomClientIP is an address in 2001:db8::/32 (for documentation) that
// no other test run uses.
func randomClientIP(t testing.TB) string {
	t.Helper()
	ip := make(net.IP, net.IPv6len)
	copy(ip, []byte{0x20, 0x01, 0x0d, 0xb8})
	if _, err := rand.Read(ip[4:]); err != nil {
		t.Fatal(err)
	}
	return ip.String()
}

// BenchmarkLogin measures a whole login over HTTP (the request, the
// account lookup, the argon2id verification and a new token pair) and
// reports the median as well as the mean.
func BenchmarkLogin(b *testing.B) {
	s := apptest.Start(b, apptest.SQLite(b), map[string]string{"AUTH_RATE_LIMIT": "1000000000", "LOGIN_FAIL_LIMIT": "1000000000"})
	createAccount(b, s, "bench@example.com", "a benchmark password")
	login := apptest.Request{Method: "POST", Path: "/api/v1/auth/login",
		Body: map[string]any{"email": "bench@example.com", "password": "a benchmark password"}}
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		if r := s.Do(b, login); r.Status != 200 {
			b.Fatalf("login: %d %s", r.Status, r.Body)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
}
