package metrics_test

import (
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"taskflow/metrics"
)

// The middleware's own cost per request, on a route with a parameter as
// the task routes have: compare with and without it (the bench's list
// costs about 0.5 ms of server CPU per request).
func BenchmarkRequests(b *testing.B) {
	for _, tc := range []struct {
		name    string
		counted bool
	}{{"without", false}, {"with", true}} {
		b.Run(tc.name, func(b *testing.B) {
			app := fiber.New()
			if tc.counted {
				app.Use(metrics.New("bench", metrics.Database{}).Requests())
			}
			app.Get("/api/v1/tasks/:id", func(c *fiber.Ctx) error { return c.SendString("{}") })
			handler := app.Handler()
			var ctx fasthttp.RequestCtx
			ctx.Request.SetRequestURI("/api/v1/tasks/0190b3c4-8f1e-7a2b-9c3d-4e5f6a7b8c9d")
			ctx.Request.Header.SetMethod(fiber.MethodGet)
			b.ReportAllocs()
			for b.Loop() {
				handler(&ctx)
			}
			if ctx.Response.StatusCode() != fiber.StatusOK {
				b.Fatalf("status %d", ctx.Response.StatusCode())
			}
		})
	}
}
