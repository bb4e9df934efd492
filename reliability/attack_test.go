package reliability

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"taskflow/app/apptest"
)

// The attack, scaled to a test: a hostile account of attackTasks tasks
// whose descriptions are 5,000 characters searches, from attackWorkers
// clients across two replicas, for 100 × "a" then "b" (the pattern whose
// match cost text length times pattern length under ILIKE '%q%'), while
// other users list their tasks and a monitor asks /health.
const (
	attackTasks     = 1500
	attackWorkers   = 12
	attackVictims   = 4
	attackBaseline  = 2 * time.Second
	attackDuration  = 5 * time.Second
	attackPoolConns = "4"
)

var attackQuery = strings.Repeat("a", 100) + "b"

// TestSearchAttack: while one account floods two replicas with the
// costliest search it can write, other users' lists are all answered 200
// and stay fast, /health answers 200 throughout, the attacker gets answers
// or 429s but never a 5xx, and no replica logs an error (the revocation
// poll included).
func TestSearchAttack(t *testing.T) {
	skipInShort(t)
	db := apptest.Postgres(t)
	env := map[string]string{"DB_MAX_OPEN_CONNS": attackPoolConns, "DB_MAX_IDLE_CONNS": attackPoolConns, "DB_QUERY_TIMEOUT": "2s"}
	counters := attackRedis(t)
	replicas := []*apptest.Server{apptest.StartWithRedis(t, db, env, counters), apptest.StartWithRedis(t, db, env, counters)}
	attacker, attackerToken := userToken(t)
	seedLongTasks(t, replicas[0], attacker, attackTasks)
	var victims []string
	for range attackVictims {
		_, token := userToken(t)
		for i := range 20 {
			createTask(t, http.DefaultClient, replicas[0].URL, token, fmt.Sprint("errand ", i))
		}
		victims = append(victims, token)
	}
	httpClient := newClient(true, 30*time.Second)

	baseline := runVictims(httpClient, replicas, victims, attackBaseline, nil)
	var hostile []outcome
	var mu sync.Mutex
	attack := func(ctx context.Context) {
		var wg sync.WaitGroup
		for i := range attackWorkers {
			wg.Go(func() {
				base := replicas[i%len(replicas)].URL
				for ctx.Err() == nil {
					o := send(ctx, httpClient, base, call{Method: http.MethodGet, Token: attackerToken,
						Path: tasksPath + "?" + url.Values{"q": {attackQuery}}.Encode()})
					if ctx.Err() != nil {
						return
					}
					mu.Lock()
					hostile = append(hostile, o)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	during := runVictims(httpClient, replicas, victims, attackDuration, attack)

	for _, o := range slices.Concat(baseline.lists, during.lists, during.health) {
		if o.Err != nil || o.Status != http.StatusOK {
			t.Fatalf("a victim's list or /health during the attack: %s", o)
		}
	}
	answered, refused := 0, 0
	for _, o := range hostile {
		switch {
		case o.Err == nil && o.Status == http.StatusOK:
			answered++
		case o.Err == nil && o.Status == http.StatusTooManyRequests && o.Header.Get("Retry-After") != "":
			refused++
		default:
			t.Fatalf("the attacker got %s", o)
		}
	}
	before, after := percentile(baseline.lists, 0.99), percentile(during.lists, 0.99)
	t.Logf("attack: %d hostile searches answered, %d refused with 429; victims' list p99 %s without the attack, %s during it (%d lists, %d health checks)",
		answered, refused, before, after, len(during.lists), len(during.health))
	if limit := 4*before + 100*time.Millisecond; after > limit {
		t.Errorf("victims' list p99 went from %s to %s during the attack, over %s", before, after, limit)
	}
	for i, s := range replicas {
		if lines := errorLines(s.Logs()); len(lines) > 0 {
			t.Errorf("replica %d logged errors during the attack:\n%s", i, strings.Join(lines, "\n"))
		}
	}
}

// victimRun is what the victims and the health monitor saw.
type victimRun struct {
	lists, health []outcome
}

// runVictims has each victim list its tasks in a loop, on the replicas in
// turn, and a monitor ask each replica's /health every 100 ms, for d;
// meanwhile background, when not nil, runs until d is over.
func runVictims(httpClient *http.Client, replicas []*apptest.Server, victims []string, d time.Duration,
	background func(context.Context)) victimRun {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var run victimRun
	var mu sync.Mutex
	record := func(into *[]outcome, o outcome) {
		mu.Lock()
		defer mu.Unlock()
		*into = append(*into, o)
	}
	var wg sync.WaitGroup
	if background != nil {
		wg.Go(func() { background(ctx) })
	}
	for i, token := range victims {
		wg.Go(func() {
			for n := i; ctx.Err() == nil; n++ {
				o := send(context.Background(), httpClient, replicas[n%len(replicas)].URL, call{Method: http.MethodGet, Path: tasksPath, Token: token})
				record(&run.lists, o)
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			for _, s := range replicas {
				record(&run.health, send(context.Background(), httpClient, s.URL, call{Method: http.MethodGet, Path: "/health"}))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	wg.Wait()
	return run
}

// seedLongTasks gives userID n tasks whose descriptions are 4,999 "a" and
// a "b", written straight into the database (the API would take minutes).
func seedLongTasks(t *testing.T, s *apptest.Server, userID string, n int) {
	t.Helper()
	err := s.DB.Exec(`INSERT INTO tasks (id, user_id, title, description, completed, priority, version, created_at, updated_at)
		SELECT gen_random_uuid()::text, ?, 'task ' || g, repeat('a', 4999) || 'b', false, 1, 1,
			now() - g * interval '1 second', now() - g * interval '1 second'
		FROM generate_series(1, ?) AS g`, userID, n).Error
	if err != nil {
		t.Fatalf("seed the attacker's tasks: %v", err)
	}
}

// attackRedis is the Redis the replicas share, at TEST_REDIS_URL as it is
// (its database number included); its keys are per user, and the users
// are new, so nothing needs flushing. Without it the test skips (fails in
// CI).
func attackRedis(t *testing.T) *redis.Client {
	t.Helper()
	raw := os.Getenv("TEST_REDIS_URL")
	if raw == "" {
		raw = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis is required in CI: %v", err)
		}
		t.Skipf("Redis is not reachable: %v", err)
	}
	return client
}

// percentile is the p-th latency of the answers in outcomes.
func percentile(outcomes []outcome, p float64) time.Duration {
	if len(outcomes) == 0 {
		return 0
	}
	durations := make([]time.Duration, len(outcomes))
	for i, o := range outcomes {
		durations[i] = o.Duration
	}
	slices.Sort(durations)
	return durations[min(len(durations)-1, int(p*float64(len(durations))))]
}

// errorLines are the lines a server logged at error level.
func errorLines(logs string) []string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			out = append(out, line)
		}
	}
	return out
}
