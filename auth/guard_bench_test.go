package auth_test

import (
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"taskflow/auth"
)

// BenchmarkAuthGuardValidToken measures what every authenticated request
// pays before its handler runs: the guard parsing and verifying one of this
// API's own HS256 tokens and storing the caller. It calls the app's handler
// directly, without a network connection, so only the guard (and Fiber's
// routing) is timed.
func BenchmarkAuthGuardValidToken(b *testing.B) {
	secret := []byte("bench-jwt-secret-0123456789abcdef0123456789")
	guard := auth.Guard(auth.Config{JWTSecret: secret, Issuer: "taskflow", BetterAuthSecret: []byte("bench-better-auth-secret-0123456789abcdef")})
	app := fiber.New(fiber.Config{Immutable: true})
	app.Get("/", guard, func(c *fiber.Ctx) error {
		if _, ok := auth.CallerFrom(c); !ok {
			return fiber.ErrUnauthorized
		}
		return c.SendStatus(fiber.StatusNoContent)
	})
	token, err := auth.AccessTokens{Secret: secret, Issuer: "taskflow", TTL: time.Hour}.Sign("0193a5b2-7c4e-7d8f-9a0b-1c2d3e4f5a6b")
	if err != nil {
		b.Fatal(err)
	}
	handler := app.Handler()
	var ctx fasthttp.RequestCtx
	for b.Loop() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.ResetUserValues() // as fasthttp does between requests
		ctx.Request.Header.SetMethod(fiber.MethodGet)
		ctx.Request.SetRequestURI("/")
		ctx.Request.Header.Set(fiber.HeaderAuthorization, "Bearer "+token)
		handler(&ctx)
		if status := ctx.Response.StatusCode(); status != fiber.StatusNoContent {
			b.Fatalf("status %d, want 204: %s", status, ctx.Response.Body())
		}
	}
}
