package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"taskflow/models"
)

// AppendListJSON appends one page of the user's tasks to dst as the API's
// JSON answer (models.TaskPage's encoding). On PostgreSQL page, total and
// tags come in one statement (pgListQuery), one round trip, read through
// pgx itself; elsewhere, and inside a transaction, it is List's page.
// Either is encoded by models' AppendJSON.
func (s *Tasks) AppendListJSON(ctx context.Context, dst []byte, userID string, f models.TaskFilter) ([]byte, error) {
	pool, ok := s.db.ConnPool.(*sql.DB)
	if !IsPostgres(s.db) || !ok || inTransaction(ctx) {
		page, err := s.List(ctx, userID, f)
		if err != nil {
			return dst, err
		}
		return page.AppendJSON(dst), nil
	}
	f = normalizeFilter(f)
	where, args := s.listWhere(userID, f)
	query := listQueryFor(where, taskOrders[f.Sort], len(args))
	out := dst
	err := queryRows(ctx, s.db, pool, query, append(args, f.Limit, f.Offset), func(rows pgx.Rows) (err error) {
		out, err = appendListJSON(dst, rows, f)
		return err
	})
	if err != nil {
		return dst, classify(err)
	}
	return out, nil
}

// listQueries holds pgListQuery's statement for each shape of list seen
// (which filters, which sort): a few dozen at most, and building the 2 KB
// statement again was a third of what a list request allocated.
var listQueries sync.Map // listShape -> string

type listShape struct{ where, order string }

// listQueryFor is pgListQuery's statement for listWhere's clause where
// with its args arguments, and the order order.
func listQueryFor(where, order string, args int) string {
	shape := listShape{where, order}
	if q, ok := listQueries.Load(shape); ok {
		return q.(string)
	}
	q := pgListQuery(numberPlaceholders(where), order, args+1, args+2)
	listQueries.Store(shape, q)
	return q
}

// queryRows runs a query on a connection of db's pool through pgx itself
// and hands its rows to read: past GORM, whose statement builder copies
// SQL a byte at a time (about 8% of a list request's CPU for the list's
// 2 KB statement), and past database/sql's rows, which start a goroutine
// per query to watch its context and scan through reflection. The SQL
// must use PostgreSQL's $n placeholders and only read: a connection that
// turns out to be gone (the server restarted, or ended it while it was
// idle, as Neon does when it suspends) costs a retry on another one, not
// an error; read runs again then, from its first row.
func queryRows(ctx context.Context, db *gorm.DB, pool *sql.DB, query string, args []any, read func(pgx.Rows) error) error {
	for try := 1; ; try++ {
		lost, err := queryRowsOnce(ctx, pool, query, args, read)
		if err == nil {
			return nil
		}
		if !lost || try > maxDeadConns(pool) {
			noteStatementError(db, err)
			return err
		}
	}
}

// maxDeadConns is how many dead connections a read may meet in db's pool:
// each failed try closes one, at most every pooled connection can be one,
// and the try after them gets a new connection. It is only asked once a
// try has failed, so a list takes no pool-wide lock for it.
func maxDeadConns(pool *sql.DB) int {
	const unboundedPool = 64
	if n := pool.Stats().MaxOpenConnections; n > 0 {
		return n
	}
	return unboundedPool
}

// queryRowsOnce runs queryRows' query once. lost reports an error from a
// connection that is gone, with the request's context still live: the
// query may be tried again on another connection.
func queryRowsOnce(ctx context.Context, pool *sql.DB, query string, args []any, read func(pgx.Rows) error) (lost bool, err error) {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var queryErr error
	err = conn.Raw(func(driverConn any) error {
		pc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("database: a pgx connection was expected, not %T", driverConn)
		}
		rows, _ := pc.Conn().Query(ctx, query, args...) // its error is also rows.Err()
		queryErr = read(rows)
		lost = queryErr != nil && ctx.Err() == nil && (pgconn.SafeToRetry(queryErr) || pc.Conn().IsClosed())
		if lost {
			return driver.ErrBadConn // the pool closes the connection
		}
		return queryErr
	})
	if lost {
		return true, queryErr
	}
	return false, err
}

// normalizeFilter applies the list's defaults to f.
func normalizeFilter(f models.TaskFilter) models.TaskFilter {
	if f.Limit <= 0 {
		f.Limit = models.DefaultTaskLimit
	}
	f.Offset = max(f.Offset, 0)
	if _, ok := taskOrders[f.Sort]; !ok {
		f.Sort = models.SortCreatedDesc
	}
	return f
}

// inTransaction reports whether ctx carries a transaction (WithTx).
func inTransaction(ctx context.Context) bool {
	return ctx.Value(txKey{}) != nil
}

// numberPlaceholders rewrites the ? placeholders of a WHERE clause built
// by listWhere as $1, $2, ... in order. The clause's only literal is
// LIKE's escape character, which holds no ?.
func numberPlaceholders(where string) string {
	var b strings.Builder
	b.Grow(len(where) + 16)
	n := 0
	for i := 0; i < len(where); i++ {
		if where[i] != '?' {
			b.WriteByte(where[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
