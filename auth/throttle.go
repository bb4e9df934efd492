package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// failuresKeyPrefix namespaces the login throttle's Redis keys, so a Redis
// shared with other services (or other TaskFlow stages, on another
// database number) is safe.
const failuresKeyPrefix = "taskflow:auth:login-failures:"

// LoginThrottle counts failed logins per email, across client IPs: after
// limit failures within window the email is locked until the window ends,
// whatever the password. Emails are stored hashed. Counter errors are
// logged and let the login through: an outage of the counter's store must
// not lock everyone out.
type LoginThrottle struct {
	counter failureCounter
	limit   int64
	window  time.Duration
	log     *slog.Logger
}

// failureCounter keeps one count per key, each expiring window after its
// first failure. Each method is atomic, across replicas for Redis.
type failureCounter interface {
	add(ctx context.Context, key string, window time.Duration) error
	// get returns the count and how long until it expires; 0 when none.
	get(ctx context.Context, key string) (int64, time.Duration, error)
	reset(ctx context.Context, key string) error
}

// NewLoginThrottle returns the throttle, counting in Redis (which replicas
// share) or, when client is nil, in this process's memory.
func NewLoginThrottle(client *redis.Client, limit int, window time.Duration, log *slog.Logger) *LoginThrottle {
	var counter failureCounter = newMemoryCounter()
	if client != nil {
		counter = redisCounter{client: client}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LoginThrottle{counter: counter, limit: int64(limit), window: window, log: log}
}

// Locked reports whether email has used up its failures, and for how long
// it stays locked.
func (t *LoginThrottle) Locked(ctx context.Context, email string) (time.Duration, bool) {
	count, ttl, err := t.counter.get(ctx, failuresKey(email))
	if err != nil {
		t.log.WarnContext(ctx, "cannot read failed logins from the rate-limit store", "error", err.Error())
		return 0, false
	}
	if count < t.limit {
		return 0, false
	}
	return ttl, true
}

// Fail counts one failed login for email.
func (t *LoginThrottle) Fail(ctx context.Context, email string) {
	if err := t.counter.add(ctx, failuresKey(email), t.window); err != nil {
		t.log.WarnContext(ctx, "cannot record a failed login in the rate-limit store", "error", err.Error())
	}
}

// Reset forgets email's failures, after a successful login.
func (t *LoginThrottle) Reset(ctx context.Context, email string) {
	if err := t.counter.reset(ctx, failuresKey(email)); err != nil {
		t.log.WarnContext(ctx, "cannot reset failed logins in the rate-limit store", "error", err.Error())
	}
}

func failuresKey(email string) string {
	sum := sha256.Sum256([]byte(email))
	return failuresKeyPrefix + hex.EncodeToString(sum[:16])
}

// redisCounter counts with INCR, which replicas cannot interleave; the
// script gives a new count its expiry in the same step, so no count can
// be left without one.
type redisCounter struct{ client *redis.Client }

var addFailure = redis.NewScript(`
local count = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count`)

func (r redisCounter) add(ctx context.Context, key string, window time.Duration) error {
	return addFailure.Run(ctx, r.client, []string{key}, window.Milliseconds()).Err()
}

func (r redisCounter) get(ctx context.Context, key string) (int64, time.Duration, error) {
	var count *redis.StringCmd
	var ttl *redis.DurationCmd
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		count = p.Get(ctx, key)
		ttl = p.PTTL(ctx, key)
		return nil
	})
	if errors.Is(err, redis.Nil) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	n, err := count.Int64()
	if err != nil {
		return 0, 0, err
	}
	return n, ttl.Val(), nil
}

func (r redisCounter) reset(ctx context.Context, key string) error {
	return r.client.Del(ctx, key).Err()
}

// memoryCounter is a failureCounter in this process's memory. Expired
// counts read as none and are swept now and then, so emails that fail
// once do not pile up.
type memoryCounter struct {
	mu        sync.Mutex
	counts    map[string]memoryCount
	lastSweep time.Time
}

type memoryCount struct {
	n       int64
	expires time.Time
}

// sweepInterval is how often add drops expired counts.
const sweepInterval = time.Minute

func newMemoryCounter() *memoryCounter {
	return &memoryCounter{counts: map[string]memoryCount{}, lastSweep: time.Now()}
}

func (m *memoryCounter) add(_ context.Context, key string, window time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	c, ok := m.counts[key]
	if !ok || !now.Before(c.expires) {
		c = memoryCount{expires: now.Add(window)}
	}
	c.n++
	m.counts[key] = c
	if now.Sub(m.lastSweep) > sweepInterval {
		m.sweep(now)
	}
	return nil
}

func (m *memoryCounter) sweep(now time.Time) {
	for key, c := range m.counts {
		if !now.Before(c.expires) {
			delete(m.counts, key)
		}
	}
	m.lastSweep = now
}

func (m *memoryCounter) get(_ context.Context, key string) (int64, time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.counts[key]
	wait := time.Until(c.expires)
	if !ok || wait <= 0 {
		return 0, 0, nil
	}
	return c.n, wait, nil
}

func (m *memoryCounter) reset(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.counts, key)
	return nil
}
