package middleware

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	redisstorage "github.com/gofiber/storage/redis/v3"
	"github.com/redis/go-redis/v9"

	"taskflow/models"
)

// keyPrefix namespaces every rate-limit key, so a Redis shared with other
// services (or other TaskFlow stages, on another database number) is safe.
const keyPrefix = "taskflow:ratelimit:"

// OpenRedisStorage connects to the Redis at url (redis:// or rediss://) and
// returns it as the store for rate-limit counters, so that replicas share
// them. Unlike the storage package's own constructor it returns an error,
// rather than panicking, when Redis cannot be reached.
func OpenRedisStorage(ctx context.Context, url string) (*redisstorage.Storage, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("REDIS_URL is not a valid redis:// URL")
	}
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, errors.New("cannot connect to Redis (check REDIS_URL and that the server is reachable)")
	}
	return redisstorage.NewFromConnection(client), nil
}

// RateLimit allows max requests per window from one client IP (ClientIP)
// to the routes it guards; the next ones get a 429 problem with
// Retry-After. name separates the counters of different limits. The counts
// live in storage, which replicas share (Redis), or in this process's
// memory when storage is nil.
//
// Counting is Fiber's fixed-window limiter: it reads and writes a counter
// under a per-process lock, so replicas sharing Redis can each let through
// a request the other was counting at the same instant. The limit is
// approximate by at most the number of replicas, which is fine for a
// brute-force brake.
func RateLimit(name string, max int, window time.Duration, storage fiber.Storage) fiber.Handler {
	return limiter.New(limiter.Config{
		Max:        max,
		Expiration: window,
		Storage:    storage,
		KeyGenerator: func(c *fiber.Ctx) string {
			return keyPrefix + name + ":" + ClientIP(c)
		},
		LimitReached: func(c *fiber.Ctx) error {
			// The limiter has put the seconds until its window ends in
			// Retry-After; the error takes them to the error handler.
			seconds, _ := strconv.Atoi(c.GetRespHeader(fiber.HeaderRetryAfter))
			return models.RateLimited(time.Duration(seconds) * time.Second)
		},
	})
}

// ClientIP is the address rate limits count by: c.IP(), which honours the
// proxy header only from TRUSTED_PROXIES. When that header is a list
// (X-Forwarded-For) the last entry counts: it is the one the trusted proxy
// appended, while the ones before it are whatever the client sent. A
// header that holds no IP falls back to the peer's address.
func ClientIP(c *fiber.Ctx) string {
	ip := c.IP()
	if i := strings.LastIndexByte(ip, ','); i >= 0 {
		ip = ip[i+1:]
	}
	ip = strings.TrimSpace(ip)
	if net.ParseIP(ip) == nil {
		return c.Context().RemoteIP().String()
	}
	return ip
}

// LoginFailures counts failed logins per email, across client IPs: after
// limit failures within window the email is locked until the window ends,
// whatever the password. Emails are stored hashed. Storage errors are
// logged and let the login through: an outage of the counter's store must
// not lock everyone out.
type LoginFailures struct {
	storage fiber.Storage
	limit   int
	window  time.Duration
	log     *slog.Logger
	mu      sync.Mutex // orders this process's read-modify-write of a counter
}

// NewLoginFailures returns the counter; storage nil keeps it in memory.
func NewLoginFailures(storage fiber.Storage, limit int, window time.Duration, log *slog.Logger) *LoginFailures {
	if storage == nil {
		storage = newMemoryStorage()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LoginFailures{storage: storage, limit: limit, window: window, log: log}
}

// Locked reports whether email has used up its failures, and for how long
// it stays locked.
func (f *LoginFailures) Locked(email string) (time.Duration, bool) {
	count, resetAt := f.read(f.key(email))
	if count < f.limit {
		return 0, false
	}
	return time.Until(resetAt), true
}

// Fail counts one failed login for email.
func (f *LoginFailures) Fail(email string) {
	key := f.key(email)
	f.mu.Lock()
	defer f.mu.Unlock()
	count, resetAt := f.read(key)
	if count == 0 {
		resetAt = time.Now().Add(f.window)
	}
	count++
	value := strconv.Itoa(count) + ":" + strconv.FormatInt(resetAt.UnixMilli(), 10)
	if err := f.storage.Set(key, []byte(value), time.Until(resetAt)); err != nil {
		f.log.Warn("cannot record a failed login in the rate-limit store", "error", err.Error())
	}
}

// Reset forgets email's failures, after a successful login.
func (f *LoginFailures) Reset(email string) {
	if err := f.storage.Delete(f.key(email)); err != nil {
		f.log.Warn("cannot reset failed logins in the rate-limit store", "error", err.Error())
	}
}

// read returns the failures counted for key and when the count resets;
// zero when there are none or the window is over.
func (f *LoginFailures) read(key string) (int, time.Time) {
	raw, err := f.storage.Get(key)
	if err != nil {
		f.log.Warn("cannot read failed logins from the rate-limit store", "error", err.Error())
		return 0, time.Time{}
	}
	countText, resetText, ok := strings.Cut(string(raw), ":")
	count, errCount := strconv.Atoi(countText)
	resetMilli, errReset := strconv.ParseInt(resetText, 10, 64)
	if !ok || errCount != nil || errReset != nil {
		return 0, time.Time{}
	}
	resetAt := time.UnixMilli(resetMilli)
	if !time.Now().Before(resetAt) {
		return 0, time.Time{}
	}
	return count, resetAt
}

func (f *LoginFailures) key(email string) string {
	sum := sha256.Sum256([]byte(email))
	return keyPrefix + "login-failures:" + hex.EncodeToString(sum[:16])
}

// memoryStorage is a fiber.Storage in this process's memory, for when no
// Redis is configured. Expired entries are dropped when read and swept
// now and then on write.
type memoryStorage struct {
	mu        sync.Mutex
	entries   map[string]memoryEntry
	lastSweep time.Time
}

type memoryEntry struct {
	value   []byte
	expires time.Time // zero: never
}

func newMemoryStorage() *memoryStorage {
	return &memoryStorage{entries: map[string]memoryEntry{}, lastSweep: time.Now()}
}

func (m *memoryStorage) Get(key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || (!e.expires.IsZero() && time.Now().After(e.expires)) {
		return nil, nil
	}
	return e.value, nil
}

func (m *memoryStorage) Set(key string, value []byte, exp time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := memoryEntry{value: append([]byte(nil), value...)}
	if exp > 0 {
		e.expires = time.Now().Add(exp)
	}
	m.entries[key] = e
	if time.Since(m.lastSweep) > time.Minute {
		m.sweep()
	}
	return nil
}

func (m *memoryStorage) sweep() {
	now := time.Now()
	for k, e := range m.entries {
		if !e.expires.IsZero() && now.After(e.expires) {
			delete(m.entries, k)
		}
	}
	m.lastSweep = now
}

func (m *memoryStorage) Delete(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
	return nil
}

func (m *memoryStorage) Reset() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = map[string]memoryEntry{}
	return nil
}

func (m *memoryStorage) Close() error { return nil }
