// Package routes registers TaskFlow's HTTP endpoints. Each file holds one
// group; handlers decode, validate, call a store and respond, and return
// errors for the app's error handler rather than writing error bodies.
package routes

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// ServiceInfo describes the running service for GET / and GET /health.
type ServiceInfo struct {
	Name        string
	Version     string
	Environment string
	DocsPath    string // "" when the docs are not served
	Started     time.Time
}

// Pinger runs a cheap query on the database.
type Pinger func(ctx context.Context) error

type apiInfo struct {
	Name        string  `json:"name"`
	Version     string  `json:"version"`
	Environment string  `json:"environment"`
	Docs        *string `json:"docs"`
}

type healthReport struct {
	Status    string   `json:"status"`
	Database  string   `json:"database"`
	LatencyMS *float64 `json:"latency_ms,omitempty"`
	Version   string   `json:"version"`
	UptimeS   float64  `json:"uptime_s"`
}

// Service registers GET /, GET /health (deep: it queries the database
// within timeout) and GET /health/live (never touches the database).
func Service(r fiber.Router, info ServiceInfo, ping Pinger, timeout time.Duration) {
	r.Get("/", func(c *fiber.Ctx) error {
		body := apiInfo{Name: info.Name, Version: info.Version, Environment: info.Environment}
		if info.DocsPath != "" {
			body.Docs = &info.DocsPath
		}
		return c.JSON(body)
	})
	r.Get("/health", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		ctx, cancel := context.WithTimeout(c.UserContext(), timeout)
		defer cancel()
		start := time.Now()
		err := ping(ctx)
		report := healthReport{Status: "ok", Database: "ok", Version: info.Version, UptimeS: uptime(info.Started)}
		if err != nil {
			report.Status, report.Database = "error", "unavailable"
			return c.Status(fiber.StatusServiceUnavailable).JSON(report)
		}
		latency := float64(time.Since(start).Microseconds()) / 1000
		report.LatencyMS = &latency
		return c.JSON(report)
	})
	r.Get("/health/live", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(fiber.Map{"status": "ok"})
	})
}

func uptime(started time.Time) float64 {
	return float64(time.Since(started).Milliseconds()) / 1000
}
