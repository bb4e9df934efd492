package database

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"taskflow/database/pgpool"
	"taskflow/models"
)

// AppendListJSON appends one page of the user's tasks to dst as the API's
// JSON answer (models.TaskPage's encoding): page, total and tags come in
// one statement (pgListQuery), one round trip, read through pgx itself and
// encoded by models' AppendJSON.
func (s *PostgresTasks) AppendListJSON(ctx context.Context, dst []byte, userID string, f models.TaskFilter) ([]byte, error) {
	f = normalizeFilter(f)
	where, args := listWhere(userID, f, s.match)
	query := listQueryFor(where, taskOrders[f.Sort], len(args))
	out := dst
	err := pgpool.QueryRows(ctx, s.db, query, append(args, f.Limit, f.Offset), func(rows pgx.Rows) (err error) {
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
