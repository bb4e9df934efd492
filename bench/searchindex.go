package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"taskflow/database/search"
)

// The alternative the search could have used: pg_trgm over the same
// folded text, one LIKE per word (its GIN index serves LIKE with the
// pattern anywhere), beside the full-text index the server uses and the
// ILIKE the server used before, on the same tasks.
const (
	trgmColumn = `ALTER TABLE tasks ADD COLUMN bench_trgm text NOT NULL
		GENERATED ALWAYS AS (taskflow_search_fold(title || ' ' || description)) STORED`
	trgmIndex = `CREATE INDEX bench_trgm_idx ON tasks USING gin (user_id, bench_trgm gin_trgm_ops)`
	// trgmPattern is a folded word as a LIKE pattern matching it anywhere.
	trgmPattern = `'%' || replace(replace(replace(taskflow_search_fold(?), '\', '\\'), '%', '\%'), '_', '\_') || '%'`
)

// compareTimeout bounds one statement of the comparison: the ILIKE of a
// long pattern over long texts runs for seconds.
const compareTimeout = 20 * time.Second

// indexVariant is one way to search: its WHERE condition and the ORDER BY
// term (with its direction) that puts title matches first, with their
// arguments, for a user's search.
type indexVariant struct {
	Name   string
	clause func(userID, q string) (where string, whereArgs []any, rank string, rankArgs []any)
	// maxRuns caps the runs of a variant that takes seconds a statement.
	maxRuns int
}

func indexVariants() []indexVariant {
	return []indexVariant{
		{"full text (the server's)", func(userID, q string) (string, []any, string, []any) {
			c := search.PostgresClause(userID, q)
			return c.Where, c.WhereArgs, c.Order, c.OrderArgs
		}, 0},
		{"pg_trgm, LIKE per word", func(_, q string) (string, []any, string, []any) {
			var where, rank []string
			var args []any
			for _, word := range strings.Fields(q) {
				where = append(where, "bench_trgm LIKE "+trgmPattern)
				rank = append(rank, "taskflow_search_fold(title) LIKE "+trgmPattern)
				args = append(args, word)
			}
			return strings.Join(where, " AND "), args, "(" + strings.Join(rank, " AND ") + ") DESC", args
		}, 0},
		{"ILIKE '%q%' (before)", func(_, q string) (string, []any, string, []any) {
			pattern := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q) + "%"
			return `(title ILIKE ? OR description ILIKE ?)`, []any{pattern, pattern}, "(title ILIKE ?) DESC", []any{pattern}
		}, 3},
	}
}

// compareIndexes adds the pg_trgm alternative to the seeded tasks and
// times, for each user and search, the list's page and total (one
// statement, as List's) with each variant; then the cost of a write and
// the size of a task with each index.
func (b *bench) compareIndexes(ctx context.Context, stdout io.Writer, db *gorm.DB, tokens map[string]string) error {
	db = db.WithContext(ctx)
	start := time.Now()
	for _, statement := range []string{"CREATE EXTENSION IF NOT EXISTS pg_trgm", trgmColumn, trgmIndex, "VACUUM (ANALYZE) tasks"} {
		if err := db.Exec(statement).Error; err != nil {
			return fmt.Errorf("%s: %w", statement, err)
		}
	}
	b.logf("search: pg_trgm column and index added in %s", time.Since(start).Round(time.Millisecond))
	runs := 20
	if b.o.Quick {
		runs = 3
	}
	fmt.Fprintf(stdout, "\npostgres: the list's page and total in one statement, straight on the database, %d runs each, 3 of ILIKE (median / max (matches); statement_timeout %s)\n\n", runs, compareTimeout)
	fmt.Fprint(stdout, "| user | search |")
	for _, v := range indexVariants() {
		fmt.Fprintf(stdout, " %s |", v.Name)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "|---|---|---:|---:|---:|")
	for _, user := range []string{proseUser, runsUser} {
		for _, q := range reviewQueries() {
			fmt.Fprintf(stdout, "| %s | %s |", user, q.Name)
			for _, v := range indexVariants() {
				n := runs
				if v.maxRuns > 0 {
					n = min(n, v.maxRuns)
				}
				cell, err := timeVariant(ctx, db, v, user, q.Q, n)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, " %s |", cell)
			}
			fmt.Fprintln(stdout)
		}
	}
	return compareWrites(ctx, stdout, db)
}

// timeVariant times v's statement for user's search q, runs times, on one
// connection with compareTimeout as its statement_timeout. A run that
// times out ends the timing.
func timeVariant(ctx context.Context, db *gorm.DB, v indexVariant, user, q string, runs int) (string, error) {
	where, whereArgs, rank, rankArgs := v.clause(user, q)
	where = "user_id = ? AND " + where
	statement := `SELECT (SELECT count(*) FROM tasks WHERE ` + where + `), id FROM tasks WHERE ` + where +
		` ORDER BY ` + rank + `, created_at DESC, id DESC LIMIT 20`
	args := slices.Concat([]any{user}, whereArgs, []any{user}, whereArgs, rankArgs)
	var times []time.Duration
	var total int64
	err := db.Connection(func(conn *gorm.DB) error {
		if err := conn.Exec(fmt.Sprintf("SET statement_timeout = %d", compareTimeout.Milliseconds())).Error; err != nil {
			return err
		}
		defer conn.Exec("RESET statement_timeout")
		for range runs {
			start := time.Now()
			rows, err := conn.Raw(statement, args...).Rows()
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&total, &id); err != nil {
					rows.Close()
					return err
				}
			}
			err = errors.Join(rows.Err(), rows.Close())
			if err != nil {
				return err
			}
			times = append(times, time.Since(start))
		}
		return nil
	})
	if err != nil {
		if strings.Contains(err.Error(), "statement timeout") {
			return fmt.Sprintf("> %s", compareTimeout), nil
		}
		return "", fmt.Errorf("%s, %s %q: %w", v.Name, user, q, err)
	}
	slices.Sort(times)
	return fmt.Sprintf("%s / %s (%d)", ms(times[len(times)/2]), ms(times[len(times)-1]), total), nil
}

// writeTables are copies of tasks' searched columns with each index: none
// (as before the search), the full-text columns and index, or pg_trgm's.
var writeTables = []struct{ name, create string }{
	{"no search index", `CREATE TABLE bench_write_plain (id text PRIMARY KEY, user_id text NOT NULL, title text NOT NULL,
		description text NOT NULL, created_at timestamptz NOT NULL);
		CREATE INDEX ON bench_write_plain (user_id, created_at, id)`},
	{"full text (the server's)", `CREATE TABLE bench_write_fts (LIKE bench_write_plain INCLUDING ALL,
		search_doc tsvector, title_doc tsvector);
		CREATE TRIGGER bench_write_fts_insert BEFORE INSERT ON bench_write_fts
			FOR EACH ROW EXECUTE FUNCTION taskflow_search_index();
		CREATE INDEX ON bench_write_fts USING gin (user_id, search_doc)`},
	{"pg_trgm", `CREATE TABLE bench_write_trgm (LIKE bench_write_plain INCLUDING ALL,
		bench_trgm text NOT NULL GENERATED ALWAYS AS (taskflow_search_fold(title || ' ' || description)) STORED);
		CREATE INDEX ON bench_write_trgm USING gin (user_id, bench_trgm gin_trgm_ops)`},
}

// compareWrites inserts the same prose tasks, one statement each, into a
// table with each index, and reports the time per insert and the bytes
// per task (heap, TOAST and indexes).
func compareWrites(ctx context.Context, stdout io.Writer, db *gorm.DB) error {
	const inserts = 1000
	fmt.Fprintf(stdout, "\npostgres: %d inserts of prose tasks (5,000-character descriptions), one INSERT each, in one transaction\n\n", inserts)
	fmt.Fprintln(stdout, "| index | ms per insert | bytes per task |")
	fmt.Fprintln(stdout, "|---|---:|---:|")
	for _, table := range writeTables {
		if err := db.Exec(table.create).Error; err != nil {
			return fmt.Errorf("%s: %w", table.name, err)
		}
		name := strings.Fields(table.create)[2]
		start := time.Now()
		err := db.Exec(`DO $$ DECLARE t record; BEGIN
			FOR t IN SELECT id, user_id, title, description, created_at FROM tasks WHERE user_id = '` + proseUser + `' LIMIT ` + fmt.Sprint(inserts) + ` LOOP
				EXECUTE 'INSERT INTO ` + name + ` (id, user_id, title, description, created_at) VALUES ($1, $2, $3, $4, $5)'
					USING t.id, t.user_id, t.title, t.description, t.created_at;
			END LOOP; END $$`).Error
		if err != nil {
			return fmt.Errorf("%s: %w", table.name, err)
		}
		elapsed := time.Since(start)
		var size int64
		if err := db.Raw("SELECT pg_total_relation_size(?)", name).Scan(&size).Error; err != nil {
			return err
		}
		fmt.Fprintf(stdout, "| %s | %.2f | %d |\n", table.name, float64(elapsed.Microseconds())/1000/inserts, size/inserts)
	}
	return nil
}
