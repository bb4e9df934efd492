package app

import (
	"context"

	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"

	"taskflow/config"
	"taskflow/database"
	"taskflow/metrics"
)

// NewMetrics is a registry for one server: its requests, its database
// pool (read at each scrape) and a ping of the database bounded by
// HEALTH_TIMEOUT, as GET /health bounds its own.
func NewMetrics(cfg config.Config, db *gorm.DB, version string) *metrics.Metrics {
	source := metrics.Database{}
	if db != nil {
		if pool, err := db.DB(); err == nil {
			source.Pool = pool
		}
		source.Ping = func() error {
			ctx, cancel := context.WithTimeout(context.Background(), cfg.HealthTimeout)
			defer cancel()
			return database.Ping(ctx, db)
		}
	}
	return metrics.New(version, source)
}

// mountMetrics serves GET /metrics: open outside production; in
// production only with METRICS_TOKEN as a bearer token, and not at all
// (404, like any unknown path) when METRICS_TOKEN is unset, so a
// deployment never exposes it by omission.
func mountMetrics(app *fiber.App, cfg config.Config, m *metrics.Metrics) {
	if !cfg.IsProduction() {
		app.Get("/metrics", m.Handler(""))
		return
	}
	if cfg.MetricsToken != "" {
		app.Get("/metrics", m.Handler(cfg.MetricsToken.Reveal()))
	}
}
