package middleware

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
)

// The contract's CORS lists, as the server sends them. They are functions
// so that nobody can change what the middleware sends, and so that the
// OpenAPI document's description can be held to them by a test.

// CORSAllowedMethods are the methods a preflight from an allowed origin
// is told it may use.
func CORSAllowedMethods() []string {
	return []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
}

// CORSAllowedHeaders are the request headers a preflight from an allowed
// origin is told it may send.
func CORSAllowedHeaders() []string {
	return []string{"Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID", "Idempotency-Key", "Last-Event-ID"}
}

// CORSExposedHeaders are the response headers a page of an allowed origin
// may read.
func CORSExposedHeaders() []string {
	return []string{"ETag", "Location", "X-Request-ID", "Retry-After", "Idempotent-Replayed"}
}

// CORS allows exactly the listed origins. Fiber's own middleware treats an
// empty list as "*" and still sends Allow-Methods and Allow-Headers to an
// origin it refuses; here a refused origin gets no Access-Control-* header
// at all, and an empty list allows nobody.
func CORS(origins []string) fiber.Handler {
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		allowed[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	inner := cors.New(cors.Config{
		AllowOriginsFunc: func(origin string) bool { return allowed[origin] },
		AllowMethods:     strings.Join(CORSAllowedMethods(), ","),
		AllowHeaders:     strings.Join(CORSAllowedHeaders(), ","),
		ExposeHeaders:    strings.Join(CORSExposedHeaders(), ","),
		MaxAge:           600,
	})
	return func(c *fiber.Ctx) error {
		origin := strings.ToLower(c.Get(fiber.HeaderOrigin))
		if origin == "" || allowed[origin] {
			return inner(c)
		}
		c.Vary(fiber.HeaderOrigin)
		if c.Method() == fiber.MethodOptions && c.Get(fiber.HeaderAccessControlRequestMethod) != "" {
			// A refused preflight: answer it, but allow nothing.
			return c.SendStatus(fiber.StatusNoContent)
		}
		return c.Next()
	}
}
