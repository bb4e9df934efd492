package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// attemptsKeyPrefix namespaces the login throttle's Redis keys, so a Redis
// shared with other services (or other TaskFlow stages, on another
// database number) is safe.
const attemptsKeyPrefix = "taskflow:auth:login-attempts:"

// LoginThrottle limits the passwords tried for one email from one client:
// after limit attempts that were not a success within window, that pair
// is refused until the window ends. It never counts the email alone, so no
// one can lock another person out from elsewhere; and an attempt is
// reserved before its password is checked, so a burst of concurrent
// guesses gets no more checks than a sequence. IPv6 clients count by their
// /64, the block one subscriber holds. Keys are hashed. Counter errors are
// logged and let the login through: an outage of the counter's store must
// not lock everyone out.
type LoginThrottle struct {
	counter attemptCounter
	limit   int64
	window  time.Duration
	log     *slog.Logger
}

// attemptCounter keeps one count per key, each expiring window after its
// first attempt. Each method is atomic, across replicas for Redis.
type attemptCounter interface {
	// add counts one attempt and returns the new count and how long until
	// it expires.
	add(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error)
	// undo takes back one attempt add counted.
	undo(ctx context.Context, key string) error
	reset(ctx context.Context, key string) error
}

// NewLoginThrottle returns the throttle, counting in Redis (which replicas
// share) or, when client is nil, in this process's memory.
func NewLoginThrottle(client *redis.Client, limit int, window time.Duration, log *slog.Logger) *LoginThrottle {
	var counter attemptCounter = newMemoryCounter()
	if client != nil {
		counter = redisCounter{client: client}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LoginThrottle{counter: counter, limit: int64(limit), window: window, log: log}
}

// Reserve counts an attempt of email from clientIP before its password is
// checked. It returns false, with the time left, when the pair has used
// up its attempts; the caller then refuses the login unchecked.
func (t *LoginThrottle) Reserve(ctx context.Context, email, clientIP string) (time.Duration, bool) {
	count, ttl, err := t.counter.add(ctx, attemptsKey(email, clientIP), t.window)
	if err != nil {
		t.log.WarnContext(ctx, "cannot count a login attempt in the rate-limit store", "error", err.Error())
		return 0, true
	}
	if count > t.limit {
		return ttl, false
	}
	return 0, true
}

// Release takes back a reserved attempt whose password was never judged
// (the database failed): an outage must not use up anyone's attempts.
func (t *LoginThrottle) Release(ctx context.Context, email, clientIP string) {
	if err := t.counter.undo(ctx, attemptsKey(email, clientIP)); err != nil {
		t.log.WarnContext(ctx, "cannot release a login attempt in the rate-limit store", "error", err.Error())
	}
}

// Reset forgets the pair's attempts, after a successful login.
func (t *LoginThrottle) Reset(ctx context.Context, email, clientIP string) {
	if err := t.counter.reset(ctx, attemptsKey(email, clientIP)); err != nil {
		t.log.WarnContext(ctx, "cannot reset login attempts in the rate-limit store", "error", err.Error())
	}
}

// attemptsKey names the count of email from clientIP.
func attemptsKey(email, clientIP string) string {
	sum := sha256.Sum256([]byte(email + "\x00" + clientBlock(clientIP)))
	return attemptsKeyPrefix + hex.EncodeToString(sum[:16])
}

// clientBlock is what one client is counted as: its IPv4 address, or the
// /64 of its IPv6 address (one subscriber gets a whole /64 and can step
// through it). Anything unparsable counts as itself.
func clientBlock(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}

// redisCounter counts with INCR, which replicas cannot interleave; the
// script gives a new count its expiry in the same step, so no count can
// be left without one.
type redisCounter struct{ client *redis.Client }

var addAttempt = redis.NewScript(`
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
	ttl = tonumber(ARGV[1])
end
return {count, ttl}`)

func (r redisCounter) add(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	values, err := addAttempt.Run(ctx, r.client, []string{key}, window.Milliseconds()).Int64Slice()
	if err != nil {
		return 0, 0, err
	}
	if len(values) != 2 {
		return 0, 0, errors.New("unexpected answer from the attempt script")
	}
	return values[0], time.Duration(values[1]) * time.Millisecond, nil
}

// undo decrements the count; a count that expired meanwhile stays gone
// (DECR would recreate it, without an expiry).
var undoAttempt = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
	return redis.call('DECR', KEYS[1])
end
return 0`)

func (r redisCounter) undo(ctx context.Context, key string) error {
	return undoAttempt.Run(ctx, r.client, []string{key}).Err()
}

func (r redisCounter) reset(ctx context.Context, key string) error {
	return r.client.Del(ctx, key).Err()
}

// memoryCounter is an attemptCounter in this process's memory. Expired
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

func (m *memoryCounter) add(_ context.Context, key string, window time.Duration) (int64, time.Duration, error) {
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
	return c.n, c.expires.Sub(now), nil
}

func (m *memoryCounter) undo(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.counts[key]; ok && c.n > 0 {
		c.n--
		m.counts[key] = c
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

func (m *memoryCounter) reset(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.counts, key)
	return nil
}
