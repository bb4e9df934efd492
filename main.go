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
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
	"syscall"
	"time"

	"github.com/joho/godotenv"

	"taskflow/app"
	"taskflow/config"
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
	tuneGC(ctx, getenv)
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdout)
	server, err := app.Open(ctx, cfg, log, version)
	if err != nil {
		return err
	}
	defer server.Close()
	if err := server.Listen(cfg.ListenAddr()); err != nil {
		return err
	}

	select {
	case err := <-server.Stopped():
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// The server's live heap is a few megabytes and nearly all it allocates is
// garbage once a request ends. The collector keeps Go's default pacing
// (collect when the heap doubles): the list, the hottest request, reads
// into pooled buffers and allocates about 3 KB, so at 4,000 lists a second
// that is about two collections a second, some 0.002 ms of CPU per
// request (GODEBUG=gctrace=1). Pacing at five times the live heap, as the
// server did while a list allocated ten times that, held some 15 MB more
// resident under load (go run ./bench: 66 MB against 52).
//
// A soft memory limit of 40 MiB makes the collector work harder rather
// than let the Go runtime's memory pass it. A fixed limit is only right
// while the live heap stays well under it. Each open change-feed stream
// keeps close to 40 KB live: with 500 streams (50 users at the per-user
// cap) the runtime holds about 40 MiB before any garbage, and a 40 MiB
// limit had the collector running back to back (list throughput fell to a
// third). A higher fixed limit only moves that cliff (the per-user cap
// does not bound the number of streams). So the limit follows the live
// heap: 40 MiB, or three times the live heap when that is more. With many
// streams it leaves the collector about as much garbage as live heap
// between two cycles (the runtime's other memory is some 16 MiB), as Go's
// default pacing does (docs/benchmarks.md, go run ./bench --streams 500).
// A leak still grows without bound, as it would under any limit.
// GOMEMLIMIT, read by the Go runtime itself, still wins when set; so does
// GOGC.
//
// This stays in main rather than in app.Open: it is a setting of the whole
// process, right for a process that only serves, and wrong to change under
// a test binary that runs many servers and much else besides.
const (
	serverMemoryLimit = 40 << 20
	// memoryLimitPerLive is the soft limit's multiple of the live heap.
	memoryLimitPerLive = 3
	// memoryLimitEvery is how often the limit follows the live heap.
	memoryLimitEvery = time.Second
)

// tuneGC sets the soft memory limit of a serving process, which then
// follows the live heap until ctx ends.
func tuneGC(ctx context.Context, getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serverMemoryLimit)
		go followLiveHeap(ctx, memoryLimitEvery)
	}
}

// memoryLimitFor is the soft memory limit for a live heap of live bytes.
func memoryLimitFor(live uint64) int64 {
	return max(serverMemoryLimit, memoryLimitPerLive*int64(live))
}

// followLiveHeap sets the soft memory limit from the live heap the last
// collection found, every interval, until ctx ends.
func followLiveHeap(ctx context.Context, every time.Duration) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	tick := time.NewTicker(every)
	defer tick.Stop()
	limit := int64(serverMemoryLimit)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return // not measured by this runtime: the limit stays fixed
		}
		if next := memoryLimitFor(sample[0].Value.Uint64()); next != limit {
			debug.SetMemoryLimit(next)
			limit = next
		}
	}
}

func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	return app.Migrate(ctx, cfg, newLogger(cfg, stdout))
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
