package metrics

import (
	"crypto/subtle"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"taskflow/models"
)

// Unmatched is the route label of every request no route matched, so
// scanners probing random paths add one series, not one per path.
const Unmatched = "unmatched"

// Requests counts every request and times it, labelled by the template of
// the route that answered it (c.Route().Path, such as /api/v1/tasks/:id).
// It renders a returned error through the app's error handler first, as
// the access log does, so the status counted is the one the client got.
func (m *Metrics) Requests() fiber.Handler {
	routes := routeTemplates{}
	return func(c *fiber.Ctx) error {
		start := time.Now()
		if err := c.Next(); err != nil {
			if handlerErr := c.App().ErrorHandler(c, err); handlerErr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		route := routes.label(c)
		m.requests.WithLabelValues(route, c.Method(), strconv.Itoa(c.Response().StatusCode())).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		return nil
	}
}

// routeTemplates tells a route that answers requests from a middleware's
// (app.Use): after an unmatched request c.Route() is the last middleware
// that ran, whose path is a prefix such as /, not a route. The routes
// GetRoutes(true) lists (middleware left out) are copies, but a copy
// shares its handler slice with the route it copies, so the address of
// the first handler identifies a route. The set is read from the app on
// the first request, when every route is registered.
type routeTemplates struct {
	once    sync.Once
	handled map[*fiber.Handler]string // first handler of a route → its path
}

func (r *routeTemplates) label(c *fiber.Ctx) string {
	r.once.Do(func() {
		r.handled = map[*fiber.Handler]string{}
		for _, route := range c.App().GetRoutes(true) {
			if len(route.Handlers) > 0 {
				r.handled[&route.Handlers[0]] = route.Path
			}
		}
	})
	handlers := c.Route().Handlers
	if len(handlers) == 0 {
		return Unmatched
	}
	if path, ok := r.handled[&handlers[0]]; ok {
		return path
	}
	return Unmatched
}

// Handler serves the registry in Prometheus' text format. With a token
// (production) it answers only requests bearing it; without one it is open.
func (m *Metrics) Handler(token string) fiber.Handler {
	serve := adaptor.HTTPHandler(promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	if token == "" {
		return serve
	}
	want := []byte(token)
	return func(c *fiber.Ctx) error {
		got, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			return models.Errorf(models.CodeUnauthorized, "the metrics token is missing or wrong")
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return serve(c)
	}
}
