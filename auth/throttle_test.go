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
	const client, other = "192.0.2.1", "192.0.2.2"
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			f := NewLoginThrottle(store(t), 2, 100*time.Millisecond, nil)
			ctx := context.Background()
			a, b, c := uniqueEmail(t), uniqueEmail(t), uniqueEmail(t)
			for i := range 2 {
				if _, ok := f.Reserve(ctx, a, client); !ok {
					t.Fatalf("attempt %d of 2 refused", i+1)
				}
			}
			wait, ok := f.Reserve(ctx, a, client)
			if ok || wait <= 0 || wait > 100*time.Millisecond {
				t.Fatalf("third attempt: allowed %v, wait %v; want refused for up to 100ms", ok, wait)
			}
			if _, ok := f.Reserve(ctx, a, other); !ok {
				t.Fatal("the same email from another client is refused: anyone could lock anyone out")
			}
			if _, ok := f.Reserve(ctx, b, client); !ok {
				t.Fatal("another email from the same client is refused")
			}
			time.Sleep(120 * time.Millisecond)
			if _, ok := f.Reserve(ctx, a, client); !ok {
				t.Fatal("still refused after the window")
			}

			f.Reserve(ctx, c, client)
			f.Reset(ctx, c, client)
			f.Reserve(ctx, c, client)
			f.Release(ctx, c, client)
			f.Reserve(ctx, c, client)
			if _, ok := f.Reserve(ctx, c, client); !ok {
				t.Fatal("Reset or Release did not give the attempts back")
			}
		})
	}
}

func TestClientBlock(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.7":             "192.0.2.7",
		"::ffff:192.0.2.7":      "192.0.2.7",
		"2001:db8:1:2:3:4:5:6":  "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::9":  "2001:db8:1:2::/64",
		"2001:db8:1:3::1":       "2001:db8:1:3::/64",
		"not an address at all": "not an address at all",
	} {
		if got := clientBlock(ip); got != want {
			t.Errorf("clientBlock(%q) = %q, want %q", ip, got, want)
		}
	}
}

// TestLoginThrottleReservesExactlyAcrossReplicas reserves attempts of one
// pair many times at once from two throttles with their own Redis
// connections, as two replicas would: exactly the limit's worth is allowed,
// none more to a race.
func TestLoginThrottleReservesExactlyAcrossReplicas(t *testing.T) {
	const attempts, limit = 200, 50
	replicas := []*LoginThrottle{
		NewLoginThrottle(testRedis(t), limit, time.Minute, nil),
		NewLoginThrottle(testRedis(t), limit, time.Minute, nil),
	}
	ctx := context.Background()
	email := uniqueEmail(t)
	t.Cleanup(func() { replicas[0].Reset(ctx, email, "192.0.2.1") })
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := range attempts {
		wg.Go(func() {
			if _, ok := replicas[i%2].Reserve(ctx, email, "192.0.2.1"); ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != limit {
		t.Fatalf("%d of %d concurrent attempts allowed, want exactly %d", allowed, attempts, limit)
	}
}

func TestLoginThrottleStorageErrorsLetLoginsThrough(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	f := NewLoginThrottle(client, 1, time.Minute, nil)
	ctx := context.Background()
	for range 3 {
		if _, ok := f.Reserve(ctx, "a@example.com", "192.0.2.1"); !ok {
			t.Fatal("refused while the counter's store is unreachable")
		}
	}
}

func TestMemoryCounterSweepsExpiredCounts(t *testing.T) {
	m := newMemoryCounter()
	ctx := context.Background()
	_, _, _ = m.add(ctx, "short", 10*time.Millisecond)
	_, _, _ = m.add(ctx, "long", time.Hour)
	time.Sleep(20 * time.Millisecond)
	m.lastSweep = time.Now().Add(-2 * sweepInterval)
	_, _, _ = m.add(ctx, "another", time.Hour)
	if _, kept := m.counts["short"]; kept {
		t.Fatal("an expired count survived the sweep")
	}
	if n, _, _ := m.add(ctx, "long", time.Hour); n != 2 {
		t.Fatalf("the live count after a sweep = %d, want 2", n)
	}
}
