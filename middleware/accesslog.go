package middleware

import (
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
)

// AccessLog writes one line per request with its id, method, path, status
// and duration. It renders a returned error through the app's error handler
// first, so the line shows the status the client really got.
func AccessLog(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		if err := c.Next(); err != nil {
			if handlerErr := c.App().ErrorHandler(c, err); handlerErr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		status := c.Response().StatusCode()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		// The attributes cost allocations (the client's address is a new
		// string); a level the handler drops, as production's warn does for
		// every answered request, should not pay for them.
		ctx := c.UserContext()
		if !log.Enabled(ctx, level) {
			return nil
		}
		log.LogAttrs(ctx, level, "request",
			slog.String("request_id", RequestIDFrom(c)),
			slog.String("method", c.Method()),
			slog.String("path", c.Path()),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("ip", c.IP()),
		)
		return nil
	}
}
