package pgpool

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// Statement modes. pgx's default caches a prepared statement per query on
// each connection: one round trip per query afterwards and half the
// database's CPU. A transaction pooler that does not carry prepared
// statements from one transaction to the next (PgBouncer before 1.21 in
// transaction mode, Supavisor-style poolers) hands the next transaction a
// server connection where that statement does not exist. There queries go
// unprepared (pgx's exec mode: the extended protocol with the unnamed
// statement, still one round trip).
const (
	modePrepared   = "prepared"
	modeUnprepared = "unprepared"
)

// statementMode is the pool's current mode, shared by every connection.
// It only ever moves from prepared to unprepared.
type statementMode struct {
	unprepared atomic.Bool
	log        *slog.Logger
	// sharedSessions: the server connections behind this URL serve other
	// clients between our transactions (a transaction pooler), so nothing
	// set on a session (a LISTEN) lasts. Found by the probe, or said by a
	// URL that chooses an exec mode other than pgx's default.
	sharedSessions bool
	explicit       bool // the URL chose the exec mode: never switched
}

func (m *statementMode) name() string {
	if m.unprepared.Load() {
		return modeUnprepared
	}
	return modePrepared
}

// switchToUnprepared is called when a statement failed because the pooler
// lost it. New connections are opened unprepared and pooled ones are
// dropped at their next use, so the failure happens at most once per
// connection the pool held.
func (m *statementMode) switchToUnprepared(cause error) {
	if m.unprepared.CompareAndSwap(false, true) {
		m.log.Warn("database: prepared statements do not survive between transactions here (a transaction pooler): switching to unprepared statements",
			"mode", modeUnprepared, "cancel_requests", cancelRequestsFor(true), "cause", cause.Error())
	}
}

// Open opens a pool on rawURL whose statement mode is decided
// before the first request: kept explicit when the URL sets
// default_query_exec_mode, else probed, and switched for good if a
// statement ever fails for want of its prepared statement anyway.
func Open(ctx context.Context, rawURL string, log *slog.Logger) (*sql.DB, func(*gorm.DB), error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		// pgconn's message would quote the URL: name the setting instead.
		return nil, nil, errors.New("the database URL is not a valid PostgreSQL URL")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	explicit := execModeInURL(rawURL)
	mode := &statementMode{log: log, explicit: explicit}
	reason := "the URL's default_query_exec_mode"
	if explicit {
		mode.sharedSessions = !keepsNamedStatements(cfg.DefaultQueryExecMode)
	} else {
		found, err := probeServer(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		mode.unprepared.Store(!found.carriesStatements)
		mode.sharedSessions = found.sharedSessions
		reason = "probed: prepared statements survive between transactions"
		if !found.carriesStatements {
			reason = "probed: a transaction pooler that does not carry prepared statements"
		}
	}
	withhold := mode.unprepared.Load
	if explicit {
		withhold = func() bool { return mode.sharedSessions }
	}
	withholdCancelRequests(cfg, withhold)
	log.Info("database statement mode", "mode", modeFor(cfg, mode, explicit), "reason", reason,
		"cancel_requests", cancelRequestsFor(withhold()), "shared_sessions", mode.sharedSessions)
	db := sql.OpenDB(sessionConnector{stdlib.GetConnector(*cfg,
		stdlib.OptionBeforeConnect(func(_ context.Context, c *pgx.ConnConfig) error {
			if mode.unprepared.Load() && !explicit {
				c.DefaultQueryExecMode = pgx.QueryExecModeExec
			}
			return nil
		}),
		stdlib.OptionResetSession(func(_ context.Context, c *pgx.Conn) error {
			if mode.unprepared.Load() && c.Config().DefaultQueryExecMode != pgx.QueryExecModeExec && !explicit {
				return driver.ErrBadConn // opened prepared: replace it
			}
			return nil
		}),
		// A pooled connection is used without a ping first: the ping is a
		// round trip on most requests of a quiet app, and a connection the
		// server dropped fails before anything is sent, which database/sql
		// retries on a new connection.
		stdlib.OptionShouldPing(func(context.Context, stdlib.ShouldPingParams) bool { return false }),
	)})
	watch := func(gdb *gorm.DB) {
		_ = gdb.Use(mode) // registers the mode (and its watch); cannot fail on a new DB
	}
	return db, watch, nil
}

func cancelRequestsFor(withheld bool) string {
	if withheld {
		return "withheld"
	}
	return "sent"
}

func modeFor(cfg *pgx.ConnConfig, mode *statementMode, explicit bool) string {
	if explicit {
		return cfg.DefaultQueryExecMode.String()
	}
	return mode.name()
}

// execModeInURL reports whether the operator chose pgx's statement mode in
// the URL: that choice is kept as it is.
func execModeInURL(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && u.Query().Has("default_query_exec_mode")
}

// probeTimeout bounds the probe's round trips.
const probeTimeout = 10 * time.Second

// probeHolders is how many other connections the probe opens, at most, to
// take over the server connection its statement was prepared on.
const probeHolders = 3

// probeAttempts is how many times, at most, the probe prepares its
// statement and has the holders look for its server connection.
const probeAttempts = 3

// probeFindings is what probeServer found out about the server behind a
// URL.
type probeFindings struct {
	carriesStatements bool // a statement prepared in one transaction runs in the next
	sharedSessions    bool // other clients' transactions run on our server connection
}

// probeServer finds out whether a statement prepared in one transaction
// can still be executed in the next one when that next one runs on
// another server connection, which is what a transaction pooler does to a
// client under load. It prepares a statement on one connection. When the
// cancel key the server gave that connection names the process the
// statement runs on, the connection owns its server process (a direct
// connection, or a plain TCP proxy) and that settles it, for the cost of
// one connection. Otherwise it has a second connection take over that server connection (a pooler hands out
// the one just released), then executes the statement on the first. A
// direct connection, and a pooler that re-prepares on demand, succeed; a
// pooler that does not carry statements fails with "prepared statement
// does not exist". When no second connection lands on the first's server
// connection, the first owns it (a direct connection, or session pooling);
// when one does, sessions are shared whether or not statements survive.
func probeServer(ctx context.Context, cfg *pgx.ConnConfig) (probeFindings, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	probeCfg := cfg.Copy()
	probeCfg.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	first, err := pgx.ConnectConfig(ctx, probeCfg)
	if err != nil {
		return probeFindings{}, err
	}
	defer first.Close(context.Background())
	statement, preparedOn, err := prepareProbe(ctx, first)
	if IsLostStatement(err) {
		// A new connection's server process already holds a statement of
		// that name: another client's, left there by a pooler that shares
		// server connections without tracking statements.
		return probeFindings{sharedSessions: true}, nil
	}
	if err != nil {
		return probeFindings{}, err
	}
	if first.PgConn().PID() == preparedOn {
		// The connection's cancel key names the server process it runs
		// on: it owns that process. A pooler hands its clients keys of its
		// own, as their server connection changes under them.
		return probeFindings{carriesStatements: true}, nil
	}
	holders, err := connectAll(ctx, probeCfg, probeHolders)
	defer closeAll(holders)
	if err != nil {
		return probeFindings{}, err
	}
	taken, err := takeServerConnection(ctx, holders, preparedOn)
	// Another client of a busy pooler may take the server connection
	// before the holders do: try again on the one the next transaction
	// gets, before taking the first to own its server connection.
	for attempt := 1; err == nil && !taken && attempt < probeAttempts; attempt++ {
		if err = releaseAll(ctx, holders); err != nil {
			break
		}
		if statement, preparedOn, err = prepareProbe(ctx, first); err != nil {
			break
		}
		taken, err = takeServerConnection(ctx, holders, preparedOn)
	}
	if IsLostStatement(err) {
		return probeFindings{sharedSessions: true}, nil
	}
	if err != nil || !taken {
		return probeFindings{carriesStatements: true}, err
	}
	var pid uint32
	err = first.QueryRow(ctx, statement).Scan(&pid)
	if IsLostStatement(err) {
		return probeFindings{sharedSessions: true}, nil
	}
	return probeFindings{carriesStatements: err == nil, sharedSessions: true}, err
}

// prepareProbe prepares a statement of a new name in a transaction of
// its own on c, and returns its name and the server process it ran on.
func prepareProbe(ctx context.Context, c *pgx.Conn) (string, uint32, error) {
	statement := "taskflow_probe_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var preparedOn uint32
	err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Prepare(ctx, statement, "SELECT pg_backend_pid()"); err != nil {
			return err
		}
		return tx.QueryRow(ctx, statement).Scan(&preparedOn)
	})
	return statement, preparedOn, err
}

// releaseAll ends the transactions takeServerConnection left open, so
// that the holders' server connections go back to the pooler.
func releaseAll(ctx context.Context, holders []*pgx.Conn) error {
	for _, c := range holders {
		if _, err := c.Exec(ctx, "ROLLBACK", pgx.QueryExecModeSimpleProtocol); err != nil {
			return err
		}
	}
	return nil
}

// connectAll opens n connections at once: over the network each costs a
// TLS and SCRAM handshake of several round trips. Only what the probe does
// with them afterwards has to be in order. The connections it returns are
// open, even beside an error.
func connectAll(ctx context.Context, cfg *pgx.ConnConfig, n int) ([]*pgx.Conn, error) {
	conns := make([]*pgx.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() { conns[i], errs[i] = pgx.ConnectConfig(ctx, cfg.Copy()) })
	}
	wg.Wait()
	opened := slices.DeleteFunc(conns, func(c *pgx.Conn) bool { return c == nil })
	for _, err := range errs {
		if err != nil {
			return opened, err // they failed alike: one says why
		}
	}
	return opened, nil
}

func closeAll(conns []*pgx.Conn) {
	for _, c := range conns {
		c.Close(context.Background())
	}
}

// takeServerConnection begins a transaction on each holder in turn, each
// left open, until one runs on the server process pid: behind a
// transaction pooler, the one the first connection just released.
func takeServerConnection(ctx context.Context, holders []*pgx.Conn, pid uint32) (bool, error) {
	for _, c := range holders {
		var got uint32
		if _, err := c.Exec(ctx, "BEGIN", pgx.QueryExecModeSimpleProtocol); err != nil {
			return false, err
		}
		if err := c.QueryRow(ctx, "SELECT pg_backend_pid()", pgx.QueryExecModeSimpleProtocol).Scan(&got); err != nil {
			return false, err
		}
		if got == pid {
			return true, nil
		}
	}
	return false, nil
}

// IsLostStatement reports the errors of a prepared statement the server
// connection does not hold: "does not exist" (SQLSTATE 26000), or, when
// the pooler moved pgx between a statement's preparation and its name's
// reuse, "already exists" (42P05).
func IsLostStatement(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "26000" || pgErr.Code == "42P05")
}

// Name and Initialize make the statement mode a GORM plugin: Initialize
// registers the watch on GORM's statements, and a statement run beside
// GORM reports its errors through NoteStatementError.
func (m *statementMode) Name() string { return statementModePlugin }

func (m *statementMode) Initialize(gdb *gorm.DB) error {
	if !m.explicit {
		registerLostStatementWatch(gdb, m)
	}
	return nil
}

// SharesSessions reports whether db's server connections serve other
// clients between db's transactions (a transaction pooler in front, as
// found when the pool opened, or as its URL's exec mode says): there a
// LISTEN hears nothing, since its session is not kept.
func SharesSessions(db *gorm.DB) bool {
	m, ok := db.Config.Plugins[statementModePlugin].(*statementMode)
	return ok && m.sharedSessions
}

const statementModePlugin = "taskflow:statement_mode"

// NoteStatementError is the watch for a statement that did not go through
// GORM's callbacks: a lost prepared statement switches the pool, as it
// would have from a GORM statement.
func NoteStatementError(gdb *gorm.DB, err error) {
	if m, ok := gdb.Config.Plugins[statementModePlugin].(*statementMode); ok && !m.explicit && IsLostStatement(err) {
		m.switchToUnprepared(err)
	}
}

// registerLostStatementWatch switches the pool to unprepared statements
// the first time any statement fails because its prepared statement was
// lost: the safety net under the probe, for a pooler that changes under a
// running server.
func registerLostStatementWatch(gdb *gorm.DB, mode *statementMode) {
	watch := func(tx *gorm.DB) {
		if tx.Error != nil && IsLostStatement(tx.Error) {
			mode.switchToUnprepared(tx.Error)
		}
	}
	cb := gdb.Callback()
	_ = cb.Create().After("*").Register("taskflow:lost_statement", watch)
	_ = cb.Query().After("*").Register("taskflow:lost_statement", watch)
	_ = cb.Update().After("*").Register("taskflow:lost_statement", watch)
	_ = cb.Delete().After("*").Register("taskflow:lost_statement", watch)
	_ = cb.Row().After("*").Register("taskflow:lost_statement", watch)
	_ = cb.Raw().After("*").Register("taskflow:lost_statement", watch)
}
