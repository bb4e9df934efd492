package pgpool

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// QueryRows runs a query on a connection of db's pool through pgx itself
// and hands its rows to read: past GORM, whose statement builder copies
// SQL a byte at a time (about 8% of a list request's CPU for the list's
// 2 KB statement), and past database/sql's rows, which start a goroutine
// per query to watch its context and scan through reflection. The SQL
// must use PostgreSQL's $n placeholders and only read: a connection that
// turns out to be gone (the server restarted, or ended it while it was
// idle, as Neon does when it suspends) costs a retry on another one, not
// an error; read runs again then, from its first row.
func QueryRows(ctx context.Context, db *gorm.DB, query string, args []any, read func(pgx.Rows) error) error {
	pool, ok := db.ConnPool.(*sql.DB)
	if !ok {
		return fmt.Errorf("pgpool: a pool of connections was expected, not %T", db.ConnPool)
	}
	for try := 1; ; try++ {
		lost, err := queryRowsOnce(ctx, pool, query, args, read)
		if err == nil {
			return nil
		}
		if !lost || try > maxDeadConns(pool) {
			NoteStatementError(db, err)
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

// queryRowsOnce runs QueryRows' query once. lost reports an error from a
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
			return fmt.Errorf("pgpool: a pgx connection was expected, not %T", driverConn)
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
