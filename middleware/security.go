package middleware

import "github.com/gofiber/fiber/v2"

// apiCSP forbids everything: the API serves JSON, never pages or scripts.
const apiCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// SecurityHeaders sets the headers every response carries. HSTS is sent only
// in production, where TLS is terminated by the platform in front of us.
func SecurityHeaders(hsts bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		SetSecurityHeaders(c, hsts)
		return c.Next()
	}
}

// SetSecurityHeaders sets SecurityHeaders' headers on c's response; the
// error handler calls it for requests refused before any middleware ran.
func SetSecurityHeaders(c *fiber.Ctx, hsts bool) {
	h := &c.Response().Header
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", apiCSP)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if hsts {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
}

// DocsCSP relaxes the policy for the documentation pages, which load their
// own scripts, styles and images from this server (and nothing else).
func DocsCSP() fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := c.Next()
		c.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "+
			"worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'")
		return err
	}
}

// NoStore marks every answer of the routes it guards "Cache-Control:
// no-store": they hold one user's data or tokens, which no shared cache
// between the app and its users may keep. A handler whose answer may be
// revalidated by its ETag sets its own value instead.
func NoStore() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Next()
	}
}
