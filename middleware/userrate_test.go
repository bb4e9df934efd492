package middleware

import (
	"errors"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"taskflow/models"
)

// A user past its limit is refused, after the pause, with Retry-After;
// other users and uncounted requests go on.
func TestUserRateLimit(t *testing.T) {
	const pause = 100 * time.Millisecond
	var refusals int
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		var h models.HeaderError
		if errors.As(err, &h) && models.ErrorCode(err) == models.CodeRateLimited {
			c.Set(fiber.HeaderRetryAfter, h.ResponseHeaders()[fiber.HeaderRetryAfter])
			return c.SendStatus(fiber.StatusTooManyRequests)
		}
		return c.Status(fiber.StatusInternalServerError).SendString(err.Error())
	}})
	app.Use(UserRateLimit("search", 2, time.Minute, nil, func(string) { refusals++ },
		func(c *fiber.Ctx) string { return c.Get("X-User") },
		func(c *fiber.Ctx) bool { return c.Query("q") != "" }, pause))
	app.Get("/", func(c *fiber.Ctx) error { return c.SendString("ok") })
	send := func(user, query string) (int, string, time.Duration) {
		t.Helper()
		req := httptest.NewRequest("GET", "/"+query, nil)
		req.Header.Set("X-User", user)
		start := time.Now()
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get(fiber.HeaderRetryAfter), time.Since(start)
	}
	for range 2 {
		if status, _, _ := send("alice", "?q=x"); status != 200 {
			t.Fatalf("within the limit: %d", status)
		}
	}
	for i := range 2 { // refused by the limiter, then from memory
		status, retryAfter, took := send("alice", "?q=x")
		if status != 429 || retryAfter == "" || took < pause {
			t.Fatalf("refusal %d: %d, Retry-After %q, after %s; want 429 with Retry-After after at least %s", i, status, retryAfter, took, pause)
		}
	}
	if status, _, _ := send("alice", ""); status != 200 {
		t.Errorf("an uncounted request of the refused user: %d", status)
	}
	if status, _, _ := send("bob", "?q=x"); status != 200 {
		t.Errorf("another user: %d", status)
	}
	if refusals != 2 {
		t.Errorf("%d refusals counted, want 2", refusals)
	}
}
