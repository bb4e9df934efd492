package middleware

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Deadline bounds the work a request may do: the stores take the request's
// user context, so a slow or unreachable database fails the request after d
// (as a 503) instead of pinning a worker and a connection.
func Deadline(d time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), d)
		defer cancel()
		c.SetUserContext(ctx)
		return c.Next()
	}
}
