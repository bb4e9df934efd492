package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testRedis connects to TEST_REDIS_URL (default redis://127.0.0.1:6379/0).
// Without a reachable Redis the test skips, except in CI where it fails.
// Tests share that Redis with other runs: they use emails of their own.
func testRedis(t testing.TB) *redis.Client {
	t.Helper()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis is required in CI: %v", err)
		}
		t.Skipf("no Redis at %s: %v", opts.Addr, err)
	}
	return client
}

// uniqueEmail is an email no other test run uses.
func uniqueEmail(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "throttle-" + hex.EncodeToString(b) + "@example.com"
}

func TestLoginThrottle(t *testing.T) {
	stores := map[string]func(t *testing.T) *redis.Client{
		"memory": func(*testing.T) *redis.Client { return nil },
		"redis":  func(t *testing.T) *redis.Client { return testRedis(t) },
	}
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			f := NewLoginThrottle(store(t), 2, 100*time.Millisecond, nil)
			ctx := context.Background()
			a, b, c := uniqueEmail(t), uniqueEmail(t), uniqueEmail(t)
			if _, locked := f.Locked(ctx, a); locked {
				t.Fatal("locked before any failure")
			}
			f.Fail(ctx, a)
			if _, locked := f.Locked(ctx, a); locked {
				t.Fatal("locked after 1 failure of 2")
			}
			f.Fail(ctx, a)
			wait, locked := f.Locked(ctx, a)
			if !locked || wait <= 0 || wait > 100*time.Millisecond {
				t.Fatalf("after 2 failures: locked %v for %v, want locked up to 100ms", locked, wait)
			}
			if _, locked := f.Locked(ctx, b); locked {
				t.Fatal("another email is locked")
			}
			time.Sleep(120 * time.Millisecond)
			if _, locked := f.Locked(ctx, a); locked {
				t.Fatal("still locked after the window")
			}

			f.Fail(ctx, c)
			f.Reset(ctx, c)
			f.Fail(ctx, c)
			if _, locked := f.Locked(ctx, c); locked {
				t.Fatal("Reset did not forget the failures")
			}
		})
	}
}

// TestLoginThrottleCountsExactlyAcrossReplicas fails one email many times
// at once from two throttles with their own Redis connections, as two
// replicas would: every failure counts, none is lost to a race.
func TestLoginThrottleCountsExactlyAcrossReplicas(t *testing.T) {
	const failures = 200
	replicas := []*LoginThrottle{
		NewLoginThrottle(testRedis(t), failures, time.Minute, nil),
		NewLoginThrottle(testRedis(t), failures, time.Minute, nil),
	}
	ctx := context.Background()
	email := uniqueEmail(t)
	t.Cleanup(func() { replicas[0].Reset(ctx, email) })
	var wg sync.WaitGroup
	for i := range failures {
		wg.Go(func() { replicas[i%2].Fail(ctx, email) })
	}
	wg.Wait()
	count, ttl, err := replicas[0].counter.get(ctx, failuresKey(email))
	if err != nil {
		t.Fatal(err)
	}
	if count != failures {
		t.Fatalf("count = %d after %d concurrent failures, want %d", count, failures, failures)
	}
	if ttl <= 0 || ttl > time.Minute {
		t.Fatalf("the count expires in %v, want within the minute's window", ttl)
	}
	if _, locked := replicas[1].Locked(ctx, email); !locked {
		t.Fatal("not locked after the limit's worth of failures")
	}
}

func TestLoginThrottleStorageErrorsLetLoginsThrough(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	f := NewLoginThrottle(client, 1, time.Minute, nil)
	ctx := context.Background()
	f.Fail(ctx, "a@example.com")
	f.Fail(ctx, "a@example.com")
	if _, locked := f.Locked(ctx, "a@example.com"); locked {
		t.Fatal("locked while the counter's store is unreachable")
	}
}

func TestMemoryCounterSweepsExpiredCounts(t *testing.T) {
	m := newMemoryCounter()
	ctx := context.Background()
	_ = m.add(ctx, "short", 10*time.Millisecond)
	_ = m.add(ctx, "long", time.Hour)
	time.Sleep(20 * time.Millisecond)
	if n, _, _ := m.get(ctx, "short"); n != 0 {
		t.Fatalf("get(short) after expiry = %d, want 0", n)
	}
	m.lastSweep = time.Now().Add(-2 * sweepInterval)
	_ = m.add(ctx, "another", time.Hour)
	if _, kept := m.counts["short"]; kept {
		t.Fatal("an expired count survived the sweep")
	}
	if n, _, _ := m.get(ctx, "long"); n != 1 {
		t.Fatalf("get(long) = %d, want 1", n)
	}
}
