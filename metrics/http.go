package metrics

import (
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/common/expfmt"

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

// routeTemplates names the route that answered a request. c.Route() is
// the last route that ran: a route proper, or, when none was reached, a
// middleware's (app.Use), whose path is a prefix. A request that only the
// app-wide middleware saw (no route matched) is Unmatched; one that a
// group's middleware answered before any route (the guard's 401, say) is
// labelled with the group's prefix, /api/v1/tasks/*. The routes
// GetRoutes(true) lists (middleware left out) are copies, but a copy
// shares its handler slice with the route it copies, so the address of
// the first handler identifies a route. The table is built on the first
// request, when every route is registered; after that a label is one map
// lookup.
type routeTemplates struct {
	once   sync.Once
	labels map[*fiber.Handler]string // first handler of a route → its label
}

func (r *routeTemplates) label(c *fiber.Ctx) string {
	r.once.Do(func() { r.labels = routeLabels(c.App()) })
	handlers := c.Route().Handlers
	if len(handlers) == 0 {
		return Unmatched
	}
	if label, ok := r.labels[&handlers[0]]; ok {
		return label
	}
	return Unmatched
}

func routeLabels(app *fiber.App) map[*fiber.Handler]string {
	labels := map[*fiber.Handler]string{}
	for _, route := range app.GetRoutes(true) {
		if len(route.Handlers) > 0 {
			labels[&route.Handlers[0]] = template(route.Path)
		}
	}
	for _, routes := range app.Stack() {
		for _, route := range routes {
			if len(route.Handlers) == 0 || route.Path == "/" {
				continue // the app-wide middleware: Unmatched
			}
			if _, isRoute := labels[&route.Handlers[0]]; !isRoute {
				labels[&route.Handlers[0]] = template(route.Path) + "/*"
			}
		}
	}
	return labels
}

// template is a route's path as the API documents it: a group's root
// route (/api/v1/tasks/) without its trailing slash.
func template(path string) string {
	if trimmed := strings.TrimSuffix(path, "/"); trimmed != "" {
		return trimmed
	}
	return path
}

// Handler serves the registry in Prometheus' text format. With a token
// (production) it answers only requests bearing it; without one it is open.
func (m *Metrics) Handler(token string) fiber.Handler {
	if token == "" {
		return m.serve
	}
	want := []byte(token)
	return func(c *fiber.Ctx) error {
		got, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			return models.Errorf(models.CodeUnauthorized, "the metrics token is missing or wrong")
		}
		return m.serve(c)
	}
}

// textFormat is the exposition format served: the text format every
// Prometheus reads.
var textFormat = expfmt.NewFormat(expfmt.TypeTextPlain)

// serve writes every series of the registry. It encodes with expfmt
// rather than through promhttp, whose compression codecs (zstd among them)
// would add megabytes to the binary for a page of text.
func (m *Metrics) serve(c *fiber.Ctx) error {
	families, err := m.registry.Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, string(textFormat))
	encoder := expfmt.NewEncoder(c.Response().BodyWriter(), textFormat)
	for _, family := range families {
		if err := encoder.Encode(family); err != nil {
			return fmt.Errorf("encode metrics: %w", err)
		}
	}
	return nil
}
