package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"taskflow/models"
)

// ListJSON returns one page of the user's tasks as the API's JSON answer
// (models.TaskPage's encoding). On PostgreSQL page, total and tags come in
// one statement (pgListQuery), one round trip, read through pgx itself;
// elsewhere, and inside a transaction, it is List's page. Either is
// encoded by models' AppendJSON.
func (s *Tasks) ListJSON(ctx context.Context, userID string, f models.TaskFilter) ([]byte, error) {
	page, err := s.listPage(ctx, userID, f)
	if err != nil {
		return nil, err
	}
	return page.AppendJSON(make([]byte, 0, page.JSONSizeHint())), nil
}

func (s *Tasks) listPage(ctx context.Context, userID string, f models.TaskFilter) (models.TaskPage, error) {
	pool, ok := s.db.ConnPool.(*sql.DB)
	if !IsPostgres(s.db) || !ok || inTransaction(ctx) {
		return s.List(ctx, userID, f)
	}
	f = normalizeFilter(f)
	where, args := s.listWhere(userID, f)
	n := len(args)
	query := pgListQuery(numberPlaceholders(where), taskOrders[f.Sort], n+1, n+2)
	var page models.TaskPage
	err := queryRows(ctx, s.db, pool, query, append(args, f.Limit, f.Offset), func(rows pgx.Rows) (err error) {
		page, err = newListReader(f).read(rows)
		return err
	})
	if err != nil {
		return models.TaskPage{}, classify(err)
	}
	return page, nil
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
