package database

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"taskflow/database/pgpool"
	"taskflow/models"
)

// classify turns a database error into a model error: no row → not found,
// a unique violation → conflict, a lost or unreachable database →
// unavailable, a value the database refuses as data → invalid, anything
// else → internal (its cause is kept for the log).
func classify(err error) error {
	if err == nil {
		return nil
	}
	var modelErr *models.Error
	switch {
	case errors.As(err, &modelErr):
		return err
	case errors.Is(err, gorm.ErrRecordNotFound):
		return &models.Error{Code: models.CodeNotFound, Message: "not found", Cause: err}
	case isUniqueViolation(err) && onTable(err, "idempotency_keys"):
		// The key's row is its lock: another request with the same key
		// recorded its answer first, or is about to.
		return models.ErrIdempotencyKeyInFlight()
	case isUniqueViolation(err):
		return &models.Error{Code: models.CodeConflict, Message: "already exists", Cause: err}
	case isUnavailable(err), pgpool.IsLostStatement(err):
		// A lost prepared statement has switched the pool to unprepared
		// statements (see pgpool): a retry succeeds.
		return models.Unavailable(err)
	case isForeignKeyViolation(err):
		// A write linked a row that a concurrent write deleted (a tag
		// removed while a task was being tagged with it): the request
		// names something that is no longer there.
		return &models.Error{Code: models.CodeInvalid, Message: "the request refers to something that no longer exists", Cause: err}
	case isDataException(err):
		return &models.Error{Code: models.CodeInvalid, Message: "a value in the request cannot be stored", Cause: err}
	}
	return &models.Error{Code: models.CodeInternal, Message: "internal error", Cause: err}
}

// isDataException reports PostgreSQL's class 22 errors: a value the
// database refuses as data (a NUL character in text, a string too long for
// its column, a number out of range). The value came from the request, so
// the request is at fault; handlers reject such input earlier, this is the
// net under them.
func isDataException(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22")
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	// A duplicate TEXT primary key is SQLite's PRIMARYKEY code, not UNIQUE.
	code, ok := sqliteCode(err)
	return ok && (code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// onTable reports whether a constraint error is about table.
func onTable(err error, table string) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.TableName == table
	}
	_, ok := sqliteCode(err)
	return ok && strings.Contains(err.Error(), " "+table+".")
}

// isForeignKeyViolation reports a row that references one that is not
// there (PostgreSQL's 23503, SQLite's SQLITE_CONSTRAINT_FOREIGNKEY).
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23503"
	}
	code, ok := sqliteCode(err)
	return ok && code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// sqliteCode returns the extended result code of an error from the embedded
// SQLite engine.
func sqliteCode(err error) (int, bool) {
	var sqliteErr *sqlite.Error
	if !errors.As(err, &sqliteErr) {
		return 0, false
	}
	return sqliteErr.Code(), true
}

// isSQLiteBusy reports SQLite's "database is locked": the write lock stayed
// taken for the whole busy_timeout. Every extended code of the family
// (SQLITE_BUSY_SNAPSHOT, _RECOVERY, _TIMEOUT) shares the low byte.
func isSQLiteBusy(err error) bool {
	code, ok := sqliteCode(err)
	return ok && code&0xff == sqlite3.SQLITE_BUSY
}

// isUnavailable reports errors that mean "the database cannot answer now":
// timeouts, refused or dropped connections, a server shutting down, and
// SQLite's lock timeouts. The client should retry; it is never a bug.
func isUnavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	if pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P03: admin shutdown,
		// crash shutdown, cannot connect now; 53300: too many connections;
		// 57014: the statement was cancelled (the request's deadline
		// passed while it ran); 40001 and 40P01: a serialization failure or
		// a deadlock the server broke, which a retry resolves.
		switch pgErr.Code {
		case "53300", "57014", "40001", "40P01":
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P")
	}
	if isSQLiteBusy(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "sql: database is closed") ||
		strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection refused")
}
