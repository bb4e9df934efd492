package middleware

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// accessLogApp answers /ok with 200 and /broken with an error its error
// handler turns into a 500, behind AccessLog writing JSON lines at level
// into the returned buffer.
func accessLogApp(level slog.Level) (*fiber.App, *bytes.Buffer) {
	var out bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: level}))
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		return c.Status(fiber.StatusInternalServerError).SendString("failed")
	}})
	app.Use(AccessLog(log))
	app.Get("/ok", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Get("/broken", func(c *fiber.Ctx) error { return errors.New("broken") })
	return app, &out
}

func TestAccessLogWritesOneLinePerRequestAtInfo(t *testing.T) {
	app, out := accessLogApp(slog.LevelInfo)
	resp, err := app.Test(httptest.NewRequest("GET", "/ok", nil))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != fiber.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	line := out.String()
	for _, want := range []string{`"level":"INFO"`, `"msg":"request"`, `"method":"GET"`, `"path":"/ok"`, `"status":200`} {
		if !strings.Contains(line, want) {
			t.Errorf("log %q lacks %s", line, want)
		}
	}
	if n := strings.Count(line, "\n"); n != 1 {
		t.Errorf("%d lines logged, want 1: %q", n, line)
	}
}

func TestAccessLogAtWarnLogsOnlyServerErrors(t *testing.T) {
	app, out := accessLogApp(slog.LevelWarn)
	resp, err := app.Test(httptest.NewRequest("GET", "/ok", nil))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != fiber.StatusOK || out.Len() != 0 {
		t.Fatalf("status %d and log %q, want 200 and nothing logged", resp.StatusCode, out.String())
	}
	resp, err = app.Test(httptest.NewRequest("GET", "/broken", nil))
	if err != nil {
		t.Fatal(err)
	}
	line := out.String()
	if resp.StatusCode != fiber.StatusInternalServerError {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
	for _, want := range []string{`"level":"ERROR"`, `"path":"/broken"`, `"status":500`} {
		if !strings.Contains(line, want) {
			t.Errorf("log %q lacks %s", line, want)
		}
	}
}
