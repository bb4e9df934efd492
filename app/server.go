package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"taskflow/auth"
	"taskflow/config"
	"taskflow/database"
	"taskflow/database/pgpool"
	"taskflow/metrics"
	"taskflow/models"
	"taskflow/realtime"
)

// connectTimeout bounds start-up's first connection to the database.
const connectTimeout = 15 * time.Second

// closeTimeout bounds the drain Close does for a server nobody shut down.
const closeTimeout = 5 * time.Second

// Server is TaskFlow running: everything the app needs from outside,
// opened once, and the listener it serves on. The server binary, the
// in-process tests and anything else that runs the API start it the same
// way, so a part added here (a background worker, a connection) is added
// for all of them.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	version string
	started time.Time

	db        *gorm.DB
	metrics   *metrics.Metrics
	redis     *redis.Client
	ownsRedis bool // redis was opened here, so Close closes it
	app       *fiber.App
	// revocations is kept trustworthy from Open to Close (see
	// deliverRevocations), so the guard learns of tokens revoked on any
	// replica; revocationFeed is its Redis subscription, if any.
	revocations    *auth.Revocations
	revocationFeed *revocationFeed
	// onOpened is WithOpenedDatabase's function, if any.
	onOpened func(*gorm.DB) error
	// warmer keeps DB_MIN_IDLE_CONNS connections warm while requests come.
	warmer *pgpool.Warmer
	// events is the hub of the change feed's streams; on PostgreSQL
	// eventListener feeds it from a LISTEN connection. eventPruner keeps
	// the events table to its retention.
	events        *realtime.Hub
	eventListener *realtime.Listener
	eventPruner   *realtime.Pruner

	listener net.Listener
	served   chan error
	shutDown bool
}

// Option changes how Open builds a Server.
type Option func(*Server)

// WithRedis keeps the rate limits' and the login throttle's counters in
// client rather than in the Redis at REDIS_URL (or in memory without it).
// The caller owns client: Close leaves it open.
func WithRedis(client *redis.Client) Option {
	return func(s *Server) { s.redis = client }
}

// WithOpenedDatabase runs fn on the database as soon as it is open, before
// anything else uses it: GORM's callbacks (a statement counter in a test,
// say) may only be registered while no statement runs.
func WithOpenedDatabase(fn func(*gorm.DB) error) Option {
	return func(s *Server) { s.onOpened = fn }
}

// Open opens what the server needs, in order: the database (migrated when
// AUTO_MIGRATE is on), Redis when REDIS_URL is set, and the app itself. It logs
// the configuration's warnings first, so the operator sees them even when
// a later step fails. It does not listen yet: see Listen. On error nothing
// stays open.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, version string, opts ...Option) (*Server, error) {
	s := &Server{cfg: cfg, log: log, version: version, started: time.Now(), served: make(chan error, 1)}
	for _, opt := range opts {
		opt(s)
	}
	for _, warning := range cfg.Warnings {
		log.Warn(warning)
	}
	if err := s.open(ctx); err != nil {
		return nil, errors.Join(err, s.closeDeps())
	}
	s.metrics = NewMetrics(cfg, s.db, version)
	s.events = realtime.NewHub(s.metrics.OpenStreams)
	s.deliverRevocations()
	s.app = New(Deps{Config: cfg, DB: s.db, Logger: log, Version: version, Started: s.started, Redis: s.redis,
		Revocations: s.revocations, Metrics: s.metrics, Events: s.events, RequestBegan: s.requestBegan})
	return s, nil
}

func (s *Server) open(ctx context.Context) error {
	db, err := OpenDatabase(ctx, s.cfg, s.cfg.DatabaseURL.Reveal(), s.log)
	if err != nil {
		return err
	}
	s.db = db
	if s.onOpened != nil {
		if err := s.onOpened(db); err != nil {
			return err
		}
	}
	if database.IsPostgres(db) {
		// SQLite opens a connection in microseconds: nothing to keep warm.
		s.warmer = pgpool.KeepWarm(db, s.cfg.DBMinIdleConns, s.cfg.DBMaxIdleConns, pgpool.WarmInterval(s.cfg.DBConnMaxIdleTime))
	}
	if s.cfg.AutoMigrate {
		if err := database.Migrate(ctx, db, migrateOptions(s.cfg)); err != nil {
			return err
		}
	}
	if s.redis == nil {
		if s.redis, err = OpenRedis(ctx, s.cfg); err != nil {
			return err
		}
		s.ownsRedis = s.redis != nil
	}
	s.revocations = auth.NewRevocations(database.NewCutoffs(db), s.log)
	s.eventPruner = realtime.StartPruner(expiredRows{
		events: database.NewEvents(db), keys: database.NewIdempotencyKeys(db, models.IdempotencyKeyTTL),
	}, s.log)
	return nil
}

// requestBegan drives the background work that touches the database:
// it runs only while requests come, so a replica nobody uses sends its
// database nothing.
func (s *Server) requestBegan() {
	s.warmer.Touch()
	s.eventPruner.Poke()
	if s.eventListener != nil {
		s.eventListener.Touch()
	}
}

// expiredRows prunes, on the change feed's schedule, both tables that keep
// a day of writes: the events and the idempotency keys.
type expiredRows struct {
	events *database.Events
	keys   *database.IdempotencyKeys
}

func (e expiredRows) Prune(ctx context.Context, keepSince time.Time) (int64, error) {
	events, err := e.events.Prune(ctx, keepSince)
	if err != nil {
		return events, err
	}
	keys, err := e.keys.Prune(ctx)
	return events + keys, err
}

// listenURL is where the change feed's listener connects: LISTEN needs a
// session of its own for as long as it listens, which a transaction
// pooler (PgBouncer, Neon's -pooler host) does not give, so it takes
// DIRECT_DATABASE_URL when set.
func listenURL(cfg config.Config) string {
	if cfg.DirectDatabaseURL != "" {
		return cfg.DirectDatabaseURL.Reveal()
	}
	return cfg.DatabaseURL.Reveal()
}

// eventPollInterval is how often streams read their events when the
// change feed cannot LISTEN.
const eventPollInterval = time.Second

// canListen says whether a LISTEN on listenURL would hear anything: not
// when that URL is a transaction pooler's (DATABASE_URL, with no
// DIRECT_DATABASE_URL).
func canListen(cfg config.Config, db *gorm.DB) bool {
	return cfg.DirectDatabaseURL != "" || !pgpool.SharesSessions(db)
}

// deliverRevocations chooses how the change feed's hub and the token
// cutoff cache hear of what other replicas commit, none of it on a
// timer that reaches the database:
//   - PostgreSQL that can LISTEN: one listener hears both channels (a
//     trigger announces every cutoff), and reconnects when needed;
//   - PostgreSQL only through a transaction pooler: streams poll while
//     they are open; cutoffs come by Redis pub/sub when REDIS_URL is set,
//     else from checks that requests drive;
//   - SQLite: checks that requests drive.
func (s *Server) deliverRevocations() {
	switch {
	case !database.IsPostgres(s.db):
		s.revocations.Start()
	case canListen(s.cfg, s.db):
		// The listener's session is let go with the pool's idle ones.
		s.eventListener = realtime.StartListener(realtime.ListenerConfig{URL: listenURL(s.cfg),
			Events: database.EventChannel, Cutoffs: database.CutoffChannel, Sink: s.revocations, Log: s.log,
			IdleAfter: s.cfg.DBConnMaxIdleTime}, s.events)
		s.revocations.Pushed(s.eventListener.Want, nil)
	default:
		s.log.Warn("change feed: DATABASE_URL goes through a transaction pooler, where LISTEN hears nothing; "+
			"set DIRECT_DATABASE_URL to the database's direct address. Until then each open stream reads its events every second",
			"poll_interval", eventPollInterval.String())
		s.eventListener = realtime.StartPolling(s.events, eventPollInterval)
		if s.redis == nil {
			s.revocations.Start()
			return
		}
		s.revocationFeed = startRevocationFeed(s.redis, s.revocations, s.log)
		s.revocations.Pushed(nil, s.revocationFeed.Publish)
	}
}

// EventsListening receives each time the change feed's listener has
// (re)connected to PostgreSQL; nil on SQLite.
func (s *Server) EventsListening() <-chan struct{} {
	if s.eventListener == nil {
		return nil
	}
	return s.eventListener.Listening()
}

// Listen binds addr (host:port; port 0 picks a free one) and serves on it
// in the background. Binding here, before any goroutine, reports a port in
// use at once as Listen's error.
func (s *Server) Listen(addr string) error {
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.listener = listener
	go func() { s.served <- s.app.Listener(listener) }()
	s.log.Info("listening", "addr", listener.Addr().String(), "environment", s.cfg.Environment,
		"version", s.version, "startup_ms", time.Since(s.started).Milliseconds())
	return nil
}

// Addr is the address Listen bound (with port 0, the port it picked);
// call it after Listen.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Stopped receives the result of serving once it ends. Before Shutdown
// that is a failure to report: the server stopped on its own.
func (s *Server) Stopped() <-chan error { return s.served }

// Metrics is the server's registry, the one GET /metrics serves.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// DB is the server's database.
func (s *Server) DB() *gorm.DB { return s.db }

// App is the Fiber app the server serves; routes added before Listen are
// served with the rest.
func (s *Server) App() *fiber.App { return s.app }

// Shutdown stops accepting connections and waits, until ctx ends, for the
// requests in flight to finish. The background workers the app started
// stop with it.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutDown = true
	// Change-feed streams never end by themselves; the drain below waits
	// for every open connection, so they are told to end first (clients
	// reconnect, with Last-Event-ID, to another replica).
	if s.events != nil {
		s.events.Close()
	}
	err := s.app.ShutdownWithContext(ctx)
	if s.listener != nil {
		// Serving may not have begun yet; closed, the listener cannot
		// accept after all.
		_ = s.listener.Close()
	}
	return err
}

// Close shuts the server down if nobody did (draining for closeTimeout at
// most), then closes what Open opened, in reverse order.
func (s *Server) Close() error {
	var err error
	if !s.shutDown {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		err = s.Shutdown(ctx)
		cancel()
	}
	return errors.Join(err, s.closeDeps())
}

func (s *Server) closeDeps() error {
	var errs []error
	if s.eventListener != nil {
		s.eventListener.Close()
	}
	if s.eventPruner != nil {
		s.eventPruner.Close()
	}
	if s.revocationFeed != nil {
		s.revocationFeed.Close()
	}
	if s.ownsRedis {
		errs = append(errs, s.redis.Close())
	}
	s.warmer.Stop()
	if s.db != nil {
		errs = append(errs, database.Close(s.db))
	}
	return errors.Join(errs...)
}

// Migrate creates or updates the schema and returns. It connects to
// DIRECT_DATABASE_URL when set: DDL belongs on a direct connection, not
// through a transaction pooler.
func Migrate(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	url := cfg.DatabaseURL.Reveal()
	if cfg.DirectDatabaseURL != "" {
		url = cfg.DirectDatabaseURL.Reveal()
	}
	db, err := OpenDatabase(ctx, cfg, url, log)
	if err != nil {
		return err
	}
	defer database.Close(db)
	start := time.Now()
	if err := database.Migrate(ctx, db, migrateOptions(cfg)); err != nil {
		return err
	}
	log.Info("schema is up to date", "duration_ms", time.Since(start).Milliseconds())
	return nil
}

// OpenDatabase opens the database at url with cfg's pool settings, giving
// up after connectTimeout.
func OpenDatabase(ctx context.Context, cfg config.Config, url string, log *slog.Logger) (*gorm.DB, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	db, err := database.Open(ctx, database.Options{
		URL:             url,
		MaxOpenConns:    cfg.DBMaxOpenConns,
		MaxIdleConns:    cfg.DBMaxIdleConns,
		ConnMaxLifetime: cfg.DBConnMaxLifetime,
		ConnMaxIdleTime: cfg.DBConnMaxIdleTime,
		Logger:          log,
	})
	if err != nil {
		// Keep the cause (refused, authentication failed, unknown host...):
		// it is what the operator needs, and pgx never puts the password in it.
		return nil, fmt.Errorf("cannot open the database (check DATABASE_URL and that the server is reachable): %w", err)
	}
	return db, nil
}

// migrateOptions is what the migration's data steps need from cfg: the
// issuer external users' ids are derived from.
func migrateOptions(cfg config.Config) database.MigrateOptions {
	return database.MigrateOptions{ExternalIssuer: cfg.BetterAuthURL, Caps: models.ReplayCaps{
		Events: cfg.MaxEventsPerUser, Answers: cfg.MaxAnswersPerUser, Tombstones: cfg.MaxTombstonesPerUser,
	}}
}
