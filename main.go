// Command taskflow is the TaskFlow API server and its operator tools:
//
//	taskflow [serve]   run the HTTP server (the default)
//	taskflow migrate   create or update the database schema, then exit
//	taskflow verify    check a live deployment (taskflow verify -h)
//	taskflow version   print the version
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/joho/godotenv"
	"gorm.io/gorm"

	"taskflow/app"
	"taskflow/config"
	"taskflow/database"
	"taskflow/verify"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args, dotenvGetenv(".env"), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "taskflow:", err)
		os.Exit(1)
	}
}

// dotenvGetenv reads variables from the process environment first and from
// the file at path second; a missing file is normal (production has none).
func dotenvGetenv(path string) func(string) string {
	fromFile, err := godotenv.Read(path)
	if err != nil {
		fromFile = map[string]string{}
	}
	return func(key string) string {
		if v, ok := os.LookupEnv(key); ok {
			return v
		}
		return fromFile[key]
	}
}

// run is the whole program, with its inputs passed in so tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	command := "serve"
	if len(args) > 1 {
		command = args[1]
	}
	switch command {
	case "serve":
		return serve(ctx, getenv, stdout)
	case "migrate":
		return migrate(ctx, getenv, stdout)
	case "verify":
		return verify.Command(ctx, args[2:], getenv, stdout, stderr)
	case "version", "--version", "-v":
		_, err := fmt.Fprintln(stdout, "taskflow", version)
		return err
	case "help", "--help", "-h":
		_, err := fmt.Fprint(stdout, usage)
		return err
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", command)
}

const usage = `usage: taskflow [command]

commands:
  serve     run the HTTP server (default)
  migrate   create or update the database schema, then exit
  verify    check a live deployment (taskflow verify -h)
  version   print the version
`

func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	started := time.Now()
	tuneGC(getenv)
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdout)
	for _, warning := range cfg.Warnings {
		log.Warn(warning)
	}
	db, err := openDatabase(ctx, cfg, cfg.DatabaseURL.Reveal(), log)
	if err != nil {
		return err
	}
	defer database.Close(db)
	if cfg.AutoMigrate {
		if err := database.Migrate(ctx, db); err != nil {
			return err
		}
	}
	counters, err := app.OpenRedis(ctx, cfg)
	if err != nil {
		return err
	}
	if counters != nil {
		defer counters.Close()
	}
	server := app.New(app.Deps{Config: cfg, DB: db, Logger: log, Version: version, Started: started, Redis: counters})

	// Bind first, so a port in use is reported at once rather than from a goroutine.
	listener, err := net.Listen("tcp", cfg.ListenAddr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr(), err)
	}
	served := make(chan error, 1)
	go func() { served <- server.Listener(listener) }()
	log.Info("listening", "addr", listener.Addr().String(), "environment", cfg.Environment,
		"version", version, "startup_ms", time.Since(started).Milliseconds())

	select {
	case err := <-served:
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", cfg.ShutdownTimeout.String())
	if err := server.ShutdownWithTimeout(cfg.ShutdownTimeout); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// The server's live heap is a few megabytes and nearly all it allocates is
// garbage once a request ends, so the default (collect whenever the heap
// doubles) spent a quarter of the CPU of a list request on the collector.
// Collecting at five times the live heap cut the CPU per list request by
// 25% (go run ./bench), with a soft limit that makes the collector work
// harder rather than let the heap pass 40 MiB. GOGC and GOMEMLIMIT, read
// by the Go runtime itself, still win when set.
const (
	serverGCPercent   = 400
	serverMemoryLimit = 40 << 20
)

func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serverMemoryLimit)
	}
}

func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdout)
	url := cfg.DatabaseURL.Reveal()
	if cfg.DirectDatabaseURL != "" {
		url = cfg.DirectDatabaseURL.Reveal()
	}
	db, err := openDatabase(ctx, cfg, url, log)
	if err != nil {
		return err
	}
	defer database.Close(db)
	start := time.Now()
	if err := database.Migrate(ctx, db); err != nil {
		return err
	}
	log.Info("schema is up to date", "duration_ms", time.Since(start).Milliseconds())
	return nil
}

// connectTimeout bounds start-up's first connection to the database.
const connectTimeout = 15 * time.Second

func openDatabase(ctx context.Context, cfg config.Config, url string, log *slog.Logger) (*gorm.DB, error) {
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

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config.Load
	opts := &slog.HandlerOptions{Level: level}
	if cfg.IsProduction() {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
