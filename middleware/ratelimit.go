package middleware

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"taskflow/models"
)

// keyPrefix namespaces every rate-limit key, so a Redis shared with other
// services (or other TaskFlow stages, on another database number) is safe.
const keyPrefix = "taskflow:ratelimit:"

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
// brute-force brake. refused, when not nil, is told name at each refusal
// (the metrics count them).
func RateLimit(name string, max int, window time.Duration, storage fiber.Storage, refused func(limit string)) fiber.Handler {
	return rateLimit(name, max, window, storage, refused, ClientIP, nil, nil)
}

// rateLimit counts, in storage, the requests of each key (keyOf) that
// skip does not let through uncounted. Each refusal is told to refused
// (with name) and to reached, when they are not nil: reached is given the
// time until the window ends and returns the time left when it returns.
func rateLimit(name string, max int, window time.Duration, storage fiber.Storage, refused func(limit string),
	keyOf func(*fiber.Ctx) string, skip func(*fiber.Ctx) bool, reached func(c *fiber.Ctx, wait time.Duration) time.Duration) fiber.Handler {
	return limiter.New(limiter.Config{
		Next:       skip,
		Max:        max,
		Expiration: window,
		Storage:    storage,
		KeyGenerator: func(c *fiber.Ctx) string {
			return keyPrefix + name + ":" + keyOf(c)
		},
		LimitReached: func(c *fiber.Ctx) error {
			if refused != nil {
				refused(name)
			}
			// The limiter has put the seconds until its window ends in
			// Retry-After; the error takes them to the error handler.
			seconds, _ := strconv.Atoi(c.GetRespHeader(fiber.HeaderRetryAfter))
			wait := time.Duration(seconds) * time.Second
			if reached != nil {
				wait = reached(c, wait)
			}
			return models.RateLimited(wait)
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
