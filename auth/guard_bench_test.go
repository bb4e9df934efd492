package auth_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"taskflow/auth"
	"taskflow/database"
)

// BenchmarkAuthGuardValidToken measures what every authenticated request
// pays before its handler runs: the guard parsing and verifying one of this
// API's own HS256 tokens and storing the caller. It calls the app's handler
// directly, without a network connection, so only the guard (and Fiber's
// routing) is timed.
func BenchmarkAuthGuardValidToken(b *testing.B) {
	benchmarkGuard(b, nil)
}

// BenchmarkAuthGuardWithRevocations is the same with the revocation check
// that the app runs, its cache polled from a real SQLite database: after
// the first request the user's cutoff comes from memory.
func BenchmarkAuthGuardWithRevocations(b *testing.B) {
	db, err := database.Open(context.Background(), database.Options{URL: "sqlite://" + filepath.Join(b.TempDir(), "bench.db"), MaxOpenConns: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = database.Close(db) })
	if err := database.Migrate(context.Background(), db, database.MigrateOptions{}); err != nil {
		b.Fatal(err)
	}
	revocations := auth.NewRevocations(database.NewCutoffs(db), nil)
	revocations.Start()
	benchmarkGuard(b, revocations)
}

func benchmarkGuard(b *testing.B, revocations *auth.Revocations) {
	secret := []byte("bench-jwt-secret-0123456789abcdef0123456789")
	guard := auth.Guard(auth.Config{JWTSecret: secret, Issuer: "taskflow", BetterAuthSecret: []byte("bench-better-auth-secret-0123456789abcdef"), Revocations: revocations})
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
