package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"taskflow/models"
)

// ListJSON returns one page of the user's tasks as the API's JSON answer
// (models.TaskPage's encoding). On PostgreSQL the database writes that JSON
// itself, page, total and tags in one statement: one round trip, and one
// text value for the server to pass on where reading a page's rows column
// by column (about 300 values through database/sql, then encoded again)
// was most of the server's CPU per list request. Elsewhere it is List's
// page, encoded: the same statement on SQLite (json_quote, string_agg)
// took twice the CPU per page of reading the rows, its pure-Go engine
// being the slower half there.
//
// Tasks and tags are written by pgTaskJSON and pgTagJSON, as the writes'
// events are, so the JSON equals models' encoding byte for byte
// (TestListJSONEqualsThePageEncoded holds the two to each other).
func (s *Tasks) ListJSON(ctx context.Context, userID string, f models.TaskFilter) ([]byte, error) {
	if !IsPostgres(s.db) || inTransaction(ctx) {
		page, err := s.List(ctx, userID, f)
		if err != nil {
			return nil, err
		}
		return page.AppendJSON(make([]byte, 0, page.JSONSizeHint())), nil
	}
	f = normalizeFilter(f)
	where, args := s.listWhere(userID, f)
	n := len(args)
	query := pgListQuery(numberPlaceholders(where), taskOrders[f.Sort], n+1, n+2)
	body, err := queryText(ctx, s.db, query, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, classify(err)
	}
	return body, nil
}

// queryText runs a query of one row and one text column on a connection
// of db's pool, through pgx itself: past GORM, whose statement builder
// copies SQL a byte at a time (about 8% of a list request's CPU for the
// list's 2 KB statement), and past database/sql's rows, which start a
// goroutine per query to watch its context. The SQL must use
// PostgreSQL's $n placeholders and only read: a connection that turns out
// to be gone (the server restarted, or ended it while it was idle, as
// Neon does when it suspends) costs a retry on another one, not an error.
// Inside a transaction (db's pool is not a *sql.DB) it goes through
// database/sql.
func queryText(ctx context.Context, db *gorm.DB, query string, args ...any) ([]byte, error) {
	pool, ok := db.ConnPool.(*sql.DB)
	if !ok {
		return queryTextSQL(ctx, db, query, args...)
	}
	for try := 1; ; try++ {
		text, lost, err := queryTextOnce(ctx, pool, query, args)
		if err == nil {
			return text, nil
		}
		if !lost || try > maxDeadConns(pool) {
			noteStatementError(db, err)
			return nil, err
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

// queryTextOnce runs queryText's query once. lost reports an error from a
// connection that is gone, with the request's context still live: the
// query may be tried again on another connection.
func queryTextOnce(ctx context.Context, pool *sql.DB, query string, args []any) (text []byte, lost bool, err error) {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	defer conn.Close()
	var queryErr error
	err = conn.Raw(func(driverConn any) error {
		pc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("database: a pgx connection was expected, not %T", driverConn)
		}
		queryErr = pc.Conn().QueryRow(ctx, query, args...).Scan(&text)
		lost = queryErr != nil && ctx.Err() == nil && (pgconn.SafeToRetry(queryErr) || pc.Conn().IsClosed())
		if lost {
			return driver.ErrBadConn // the pool closes the connection
		}
		return queryErr
	})
	if lost {
		return nil, true, queryErr
	}
	return text, false, err
}

// queryTextSQL is queryText through database/sql, for a transaction.
func queryTextSQL(ctx context.Context, db *gorm.DB, query string, args ...any) ([]byte, error) {
	rows, err := db.ConnPool.QueryContext(ctx, query, args...)
	if err != nil {
		noteStatementError(db, err)
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			noteStatementError(db, err)
			return nil, err
		}
		return nil, sql.ErrNoRows
	}
	var text []byte
	if err := rows.Scan(&text); err != nil {
		return nil, err
	}
	return text, rows.Close()
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

// pgListQuery is the list's one statement. page is the page's rows
// (MATERIALIZED: read once, by the index of its order); links their tag
// links; page_tags each distinct tag of the page as JSON, counted once
// (a popular tag is not recounted for every task carrying it);
// task_tags_json each task's tags array, grouped once; the total is an
// uncorrelated subquery, evaluated once, so an empty page past the end
// still carries it. Tags are in name order within each task, tasks in the
// page's order. The links and tags are looked up by = ANY of an array,
// one index scan each: in pgbench this statement ran 15-18% more pages
// per second than with IN (subquery) and a tags subquery per task.
// where is listWhere's clause with $n placeholders ($1 is its user id),
// and limitArg and offsetArg number the page's two parameters.
func pgListQuery(where, order string, limitArg, offsetArg int) string {
	limit, offset := "$"+strconv.Itoa(limitArg), "$"+strconv.Itoa(offsetArg)
	return `WITH page AS MATERIALIZED (SELECT ` + taskColumns + ` FROM tasks WHERE ` + where +
		` ORDER BY ` + order + ` LIMIT ` + limit + ` OFFSET ` + offset + `),
	page_links AS MATERIALIZED (SELECT task_id, tag_id FROM task_tags WHERE task_id = ANY(ARRAY(SELECT id FROM page))),
	page_tags AS MATERIALIZED (SELECT tg.id, tg.name_key, ` + pgTagJSON("tg", tagTaskCount) + ` AS j
		FROM tags tg WHERE tg.user_id = $1 AND tg.id = ANY(ARRAY(SELECT DISTINCT tag_id FROM page_links))),
	task_tags_json AS (SELECT l.task_id, string_agg(pt.j, ',' ORDER BY pt.name_key, pt.id) AS tags
		FROM page_links l JOIN page_tags pt ON pt.id = l.tag_id GROUP BY l.task_id)
	SELECT '{"items":[' || COALESCE(string_agg(` + pgTaskJSON("p", `'[' || COALESCE(tt.tags, '') || ']'`) + `, ',' ORDER BY ` + order + `), '') ||
		'],"total":' || (SELECT count(*) FROM tasks WHERE ` + where + `)::text ||
		',"limit":' || CAST(` + limit + ` AS bigint)::text || ',"offset":' || CAST(` + offset + ` AS bigint)::text || '}'
	FROM page p LEFT JOIN task_tags_json tt ON tt.task_id = p.id`
}
