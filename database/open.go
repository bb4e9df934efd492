// Package database opens TaskFlow's database (PostgreSQL, or an embedded
// SQLite file for local development), migrates its schema, and holds the
// stores every query goes through. It never imports Fiber.
package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"taskflow/database/pgpool"
)

// DefaultSQLitePath is where the embedded database lives when no URL is given.
const DefaultSQLitePath = "taskflow.db"

// Options says which database to open and how to pool its connections.
type Options struct {
	URL             string
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
	Logger          *slog.Logger
}

// prepareStmtMaxSize bounds the SQLite statements kept prepared: the
// list's vary with its filters, sort and page size.
const prepareStmtMaxSize = 512

// Open connects to the database named by opts.URL: postgres:// and
// postgresql:// open PostgreSQL through pgx; sqlite://PATH, file:PATH or an
// empty URL open the embedded SQLite file. It checks the connection once.
func Open(ctx context.Context, opts Options) (*gorm.DB, error) {
	dialector, isSQLite, err := dialectorFor(opts.URL)
	if err != nil {
		return nil, err
	}
	watch, closePool := func(*gorm.DB) {}, func() {}
	if !isSQLite {
		pool, watchPool, err := pgpool.Open(ctx, opts.URL, opts.Logger)
		if err != nil {
			return nil, fmt.Errorf("connect to database: %w", classify(err))
		}
		dialector, watch, closePool = postgres.New(postgres.Config{Conn: pool}), watchPool, func() { _ = pool.Close() }
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		// Stores open transactions where several rows change together; a
		// transaction around every single statement costs two round trips.
		SkipDefaultTransaction: true,
		Logger:                 newGormLogger(opts.Logger),
		NowFunc:                func() time.Time { return time.Now().UTC() },
		TranslateError:         false,
		// The pure-Go SQLite engine parses a statement in about as long as
		// it runs a list page's; a statement kept prepared per connection
		// (at most prepareStmtMaxSize of them, least recently used go)
		// parses once. pgx already caches PostgreSQL's per connection.
		PrepareStmt:        isSQLite,
		PrepareStmtMaxSize: prepareStmtMaxSize,
	})
	if err != nil {
		closePool() // the pool openPostgres opened is no one else's to close
		return nil, fmt.Errorf("open database: %w", classify(err))
	}
	watch(db)
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	sqlDB.SetMaxOpenConns(opts.MaxOpenConns)
	sqlDB.SetMaxIdleConns(opts.MaxIdleConns)
	sqlDB.SetConnMaxLifetime(opts.ConnMaxLifetime)
	sqlDB.SetConnMaxIdleTime(opts.ConnMaxIdleTime)
	if isSQLite && opts.MaxOpenConns == 0 {
		sqlDB.SetMaxOpenConns(8)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connect to database: %w", classify(err))
	}
	return db, nil
}

// Close releases the pool behind db.
func Close(db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Ping runs a query on the database, for the deep health check.
func Ping(ctx context.Context, db *gorm.DB) error {
	var one int
	if err := db.WithContext(ctx).Raw("SELECT 1").Scan(&one).Error; err != nil {
		return classify(err)
	}
	return nil
}

// IsPostgres reports whether db talks to PostgreSQL (else SQLite).
func IsPostgres(db *gorm.DB) bool { return db.Dialector.Name() == "postgres" }

func dialectorFor(rawURL string) (gorm.Dialector, bool, error) {
	lower := strings.ToLower(rawURL)
	switch {
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		// The pool itself is opened by pgpool.Open, which picks the
		// statement mode; this only names the dialect.
		return nil, false, nil
	case rawURL == "":
		return sqlite.Open(sqliteDSN(DefaultSQLitePath)), true, nil
	case strings.HasPrefix(lower, "sqlite://"):
		path := rawURL[len("sqlite://"):]
		if path == "" {
			path = DefaultSQLitePath
		}
		return sqlite.Open(sqliteDSN(path)), true, nil
	case strings.HasPrefix(lower, "file:"):
		path, _, _ := strings.Cut(rawURL[len("file:"):], "?")
		return sqlite.Open(sqliteDSN(path)), true, nil
	}
	return nil, false, errors.New("DATABASE_URL must start with postgres://, postgresql://, sqlite:// or file:")
}

// sqliteDSN sets the pragmas on every connection the pool opens: WAL so
// readers never wait for the writer, foreign keys (off by default in
// SQLite), a busy timeout instead of immediate "database is locked", and
// BEGIN IMMEDIATE so a transaction takes the write lock up front rather
// than failing when it upgrades.
//
// _time_format=sqlite writes times as "2006-01-02 15:04:05.999999999-07:00",
// the text SQLite's date functions read. The dialector would add it when
// missing; it is spelled out so the stored format never rests on a default.
//
// _texttotime=0: columns declared DATE, DATETIME or TIMESTAMP are still read
// as times; what it turns off is the dialector's guess at every other text
// column without a declared type (UNION and expression columns), which
// tried seven layouts on each value of the task list's tag query (+60%
// allocations per page) and would hand back a text that looks like a date
// as a time.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	q.Set("_texttotime", "0")
	return "file:" + path + "?" + q.Encode()
}

// newGormLogger routes GORM's messages to slog at debug level. It never logs
// SQL text: GORM renders statements with their values inlined, and those
// values include password hashes and users' data.
func newGormLogger(l *slog.Logger) logger.Interface {
	if l == nil {
		return logger.Discard
	}
	return &gormLogger{log: l}
}

type gormLogger struct{ log *slog.Logger }

func (g *gormLogger) LogMode(logger.LogLevel) logger.Interface { return g }
func (g *gormLogger) Info(context.Context, string, ...any)     {}
func (g *gormLogger) Warn(context.Context, string, ...any)     {}
func (g *gormLogger) Error(context.Context, string, ...any)    {}

// slowQuery is how long a statement may take before it is worth a warning.
const slowQuery = 500 * time.Millisecond

func (g *gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	if elapsed < slowQuery && !g.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	_, rows := fc()
	level := slog.LevelDebug
	if elapsed >= slowQuery {
		level = slog.LevelWarn
	}
	g.log.Log(ctx, level, "sql statement", "duration_ms", float64(elapsed.Microseconds())/1000,
		"rows", rows, "failed", err != nil && !errors.Is(err, gorm.ErrRecordNotFound))
}
