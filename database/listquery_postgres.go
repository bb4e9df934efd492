package database

import (
	"context"
	"slices"
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
	where, args := listWhere(userID, f, s.searchFor)
	order, orderArgs := s.listOrder(userID, f)
	query := listQueryFor(where, order, len(args), len(orderArgs))
	out := dst
	err := pgpool.QueryRows(ctx, s.db, query, slices.Concat(args, orderArgs, []any{f.Limit, f.Offset}), func(rows pgx.Rows) (err error) {
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
// with its args arguments, and listOrder's order with its orderArgs.
func listQueryFor(where, order string, args, orderArgs int) string {
	shape := listShape{where, order}
	if q, ok := listQueries.Load(shape); ok {
		return q.(string)
	}
	q := pgListQuery(numberPlaceholders(where, 0), numberPlaceholders(order, args), args+orderArgs+1, args+orderArgs+2)
	listQueries.Store(shape, q)
	return q
}

// normalizeFilter applies the list's defaults to f.
func normalizeFilter(f models.TaskFilter) models.TaskFilter {
	if f.Limit <= 0 {
		f.Limit = models.DefaultTaskLimit
	}
	f.Offset = max(f.Offset, 0)
	if _, ok := taskOrders[f.Sort]; !ok && f.Sort != models.SortDefault {
		f.Sort = models.SortCreatedDesc
	}
	return f
}

// numberPlaceholders rewrites the ? placeholders of a clause built by
// listWhere or listOrder as $n, numbered in order after the first `after`
// parameters. The clauses' literals hold no ?.
func numberPlaceholders(where string, after int) string {
	var b strings.Builder
	b.Grow(len(where) + 16)
	n := after
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
