// Package app builds TaskFlow's Fiber application from its dependencies, so
// the server and the tests run exactly the same thing.
package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/pprof"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"taskflow/auth"
	"taskflow/config"
	"taskflow/database"
	"taskflow/metrics"
	"taskflow/middleware"
	"taskflow/models"
	"taskflow/realtime"
	"taskflow/routes"
)

// Name is the service's name as GET / reports it.
const Name = "TaskFlow API"

// headerBufferSize fits request headers with 8 KiB bearer tokens (Better
// Auth puts the whole user in its JWT) and the usual rest.
const headerBufferSize = 16 << 10

// responseBufferSize holds a default page of the task list (20 tasks,
// about 12 KB) with its headers, so the response leaves in one write:
// with fasthttp's default 4 KiB, every list answer took two system calls,
// and system calls are most of the server's CPU per list request.
const responseBufferSize = 16 << 10

// Deps is everything the app needs from outside.
type Deps struct {
	Config  config.Config
	DB      *gorm.DB
	Logger  *slog.Logger
	Version string
	Started time.Time
	// Redis holds the rate limits' and the login throttle's counters,
	// shared by replicas (see OpenRedis); nil counts in this process's
	// memory.
	Redis *redis.Client
	// Revocations tells the guard which tokens were revoked (see
	// auth.Revocations); Server keeps one trustworthy. Nil builds one
	// that is never trusted, so every authenticated request reads the
	// database.
	Revocations *auth.Revocations
	// RequestBegan, when set, is called as each API request begins:
	// Server's background work runs only while requests come.
	RequestBegan func()
	// Metrics is the server's registry (see NewMetrics); nil gives this
	// app one of its own.
	Metrics *metrics.Metrics
	// Events is the hub of the change feed's open streams; Server makes
	// one and, on PostgreSQL, feeds it from its LISTEN connection. Nil
	// gives this app a hub of its own, which on PostgreSQL hears no
	// notifications (its streams send only what they read at start).
	Events *realtime.Hub
}

// New builds the whole application: Fiber's settings, the middleware chain
// in order, and every route group.
func New(d Deps) *fiber.App {
	cfg := d.Config
	if d.Metrics == nil {
		d.Metrics = NewMetrics(d.Config, d.DB, d.Version)
	}
	if d.Events == nil {
		d.Events = realtime.NewHub(nil)
	}
	app := fiber.New(fiber.Config{
		ErrorHandler:            errorHandler(d.Logger, requestIDs{of: middleware.RequestIDFrom, assign: assignRequestID(cfg.IsProduction())}),
		Immutable:               true, // values from a Ctx stay valid after the handler returns
		BodyLimit:               cfg.BodyLimit,
		ReadTimeout:             cfg.ReadTimeout,
		WriteTimeout:            cfg.WriteTimeout,
		IdleTimeout:             cfg.IdleTimeout,
		ReadBufferSize:          headerBufferSize,
		WriteBufferSize:         responseBufferSize,
		Network:                 fiber.NetworkTCP, // IPv4 and IPv6: Railway's private network is IPv6
		DisableStartupMessage:   true,
		EnableTrustedProxyCheck: true, // the proxy header counts only from TRUSTED_PROXIES
		TrustedProxies:          cfg.TrustedProxies,
		ProxyHeader:             cfg.ProxyHeader,
		CaseSensitive:           true,
	})
	// A response finished while shutting down says "Connection: close", so a
	// keep-alive client does not send its next request down a connection the
	// server is about to close (and then wonder whether that request ran).
	app.Server().CloseOnShutdown = true
	// Change-feed streams take over their connections (see routes.Events)
	// and close them themselves, so the server's read buffer of each is
	// freed rather than held for the stream's life.
	app.Server().KeepHijackedConns = true

	app.Use(middleware.RequestID())
	// Counted outside the access log, so every request the log shows is
	// counted with the status the client got.
	app.Use(d.Metrics.Requests())
	app.Use(middleware.AccessLog(d.Logger))
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: logPanic(d.Logger)}))
	app.Use(middleware.SecurityHeaders(cfg.IsProduction()))
	app.Use(middleware.Framing())
	app.Use(middleware.CORS(cfg.CORSOrigins))
	if cfg.Debug && !cfg.IsProduction() {
		app.Use(pprof.New())
	}

	info := routes.ServiceInfo{Name: Name, Version: d.Version, Environment: cfg.Environment, Started: d.Started}
	if !cfg.IsProduction() {
		// The docs describe every endpoint and let anyone try them: useful
		// in development, an attack map in production.
		info.DocsPath = "/docs"
		app.Use([]string{"/docs", "/redoc"}, middleware.DocsCSP())
		routes.Docs(app)
	}
	routes.Service(app, info, func(ctx context.Context) error { return database.Ping(ctx, d.DB) }, cfg.HealthTimeout)
	mountMetrics(app, cfg, d.Metrics)

	api := app.Group("/api/v1", middleware.Deadline(cfg.DBQueryTimeout), middleware.NoStore())
	if d.RequestBegan != nil {
		api.Use(func(c *fiber.Ctx) error {
			d.RequestBegan()
			return c.Next()
		})
	}
	// API route groups.
	mountAPI(app, api, d)

	return app
}

// assignRequestID gives a request Fiber refused before any middleware ran
// its id and the security headers (with HSTS in production).
func assignRequestID(hsts bool) func(c *fiber.Ctx) string {
	return func(c *fiber.Ctx) string {
		id := middleware.AssignRequestID(c)
		middleware.SetSecurityHeaders(c, hsts)
		return id
	}
}

func logPanic(log *slog.Logger) func(*fiber.Ctx, any) {
	return func(c *fiber.Ctx, recovered any) {
		log.ErrorContext(c.UserContext(), "handler panicked", "request_id", middleware.RequestIDFrom(c), "panic", recovered)
	}
}

// mountAPI registers the /api/v1 route groups; authenticated groups take
// the guard as their first handler.
func mountAPI(app *fiber.App, api fiber.Router, d Deps) {
	stores := NewStores(d.DB, d.Config, d.Events.Notify)
	guard, revocations := mountAuth(app, api, d, stores.Tokens)
	validate := routes.NewValidator()
	// A write with an Idempotency-Key records its answer with itself (see
	// models.Keyed); a replay is one lookup.
	idempotent := routes.Idempotent(database.NewIdempotencyKeys(d.DB, models.IdempotencyKeyTTL))
	tasks, tags := stores.Tasks, stores.Tags
	// Lists line up for the pool's connections, each user in a line of
	// its own (see middleware.FairShare); searches are counted per user.
	listLine := middleware.FairShare(middleware.FairShareConfig{
		Slots: d.Config.DBMaxOpenConns, Wait: d.Config.DBUserQueueTimeout, UserOf: callerOf, Observer: d.Metrics,
		Refused: func() { d.Metrics.RateLimited(userShareLimit) },
	})
	searches := middleware.UserRateLimit(searchLimit, d.Config.SearchRateLimit, searchRateWindow, rateLimitStorage(d),
		d.Metrics.RateLimited, callerOf, routes.IsSearch, searchRefusalPause)
	routes.Tasks(api.Group("/tasks", guard, idempotent), tasks, validate, searches, listLine)
	routes.Tags(api.Group("/tags", guard, idempotent), tags, validate)
	routes.Projects(api.Group("/projects", guard, idempotent), stores.Projects, validate)
	routes.Sync(api.Group("/sync", guard, listLine), stores.Sync)
	routes.Batch(api.Group("/batch", guard, listLine, idempotent), routes.BatchDeps{Store: stores.Batch, Validate: validate, Problem: problemRenderer(d.Logger)})
	routes.Events(api.Group("/events"), routes.EventsDeps{
		Hub: d.Events, Store: database.NewEvents(d.DB), Guard: guard, Slots: realtime.NewSlots(streamLeases(d), d.Logger),
		Stream: realtime.StreamConfig{
			Store: database.NewEvents(d.DB), Refusal: refusalBy(revocations), Log: d.Logger,
			Ping: d.Config.EventsPingInterval, WriteTimeout: d.Config.WriteTimeout, QueryTimeout: d.Config.DBQueryTimeout,
		},
	})
}

// Names of the limits in taskflow_rate_limited_total; the window of
// SEARCH_RATE_LIMIT, and how long a search it refuses waits for its 429.
const (
	userShareLimit     = "user_share"
	searchLimit        = "search"
	searchRateWindow   = time.Minute
	searchRefusalPause = time.Second
)

// callerOf is the user a request is counted for: the caller the guard
// admitted, or "" before it.
func callerOf(c *fiber.Ctx) string {
	caller, ok := auth.CallerFrom(c)
	if !ok {
		return ""
	}
	return caller.UserID
}

// refusalBy asks the guard's cache of cutoffs whether a stream's token is
// still honoured, and if not why. Whether the cutoff refuses the token is
// asked first: an external user's account deleted and begun again leaves
// a cutoff marked as a deletion that refuses only the older tokens.
func refusalBy(revocations *auth.Revocations) realtime.Refusal {
	return func(ctx context.Context, userID string, issuedAt *time.Time) (realtime.EndReason, error) {
		cutoff, err := revocations.Cutoff(ctx, userID)
		switch {
		case err != nil:
			return "", err
		case !cutoff.Refuses(issuedAt):
			return "", nil
		case cutoff.AccountDeleted:
			return realtime.EndDeleted, nil
		}
		return realtime.EndRevoked, nil
	}
}
